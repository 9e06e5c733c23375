/**
 * A participant's A/B calls (server/calma/api/ab.py): the open tests of their group (no arms: the
 * participant never learns what the two sides are), a trial (both replies, blind, as `left` and
 * `right`) and the choice per axis, whose answer reveals which arm wrote which side.
 */
import { call } from '../api'

const enc = encodeURIComponent

export interface AxisRef { readonly id: string, readonly name: string }

export interface OpenTest {
  readonly id: string
  readonly name: string
  readonly open: boolean
  readonly axes: readonly AxisRef[]
}

export type Side = 'left' | 'right'
export type Choice = Side | 'tie'

export interface Trial {
  readonly id: string
  readonly prompt: string
  readonly left: string
  readonly right: string
  readonly axes: readonly AxisRef[]
  readonly choices: { readonly [axis: string]: Choice } | null
  /** After choosing: which arm wrote each side. */
  readonly revealed: { readonly left: 'a' | 'b', readonly right: 'a' | 'b' } | null
}

export const abApi = {
  tests: async (study: string): Promise<OpenTest[]> =>
    (await call<{ tests: OpenTest[] }>('GET', `/studies/${enc(study)}/ab-tests`)).tests,
  trial: async (study: string, test: string, prompt: string): Promise<Trial> =>
    await call('POST', `/studies/${enc(study)}/ab-tests/${enc(test)}/trials`, { prompt }),
  choose: async (study: string, test: string, trial: string, choices: Readonly<Record<string, Choice>>): Promise<Trial> =>
    await call('POST', `/studies/${enc(study)}/ab-tests/${enc(test)}/trials/${enc(trial)}/choice`, { choices }),
} as const
