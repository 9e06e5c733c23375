/**
 * The facilitator's Outputs calls (server/calma/api/outputs.py, ab.py) and the shapes they answer with
 * (server/calma/api/schemas.py "Outputs" and "A/B tests"): a group's exports as links, the classifiers
 * (trained on demand), the cross-group comparison and its correction, and the A/B tests with their
 * results. The models the server offers come from /healthz.
 */
import { call } from '../api'

const enc = encodeURIComponent

/** The files of a group's outputs, each a link the server answers as an attachment; saved as `axes-<group>.<suffix>` as the server names them. */
export const EXPORTS = [
  { key: 'axes-json', path: 'axes.json', suffix: 'json', label: 'Axes (JSON)' },
  { key: 'axes-csv', path: 'axes.csv', suffix: 'csv', label: 'Axes (CSV)' },
  { key: 'axes-md', path: 'axes.md', suffix: 'md', label: 'Axes (Markdown)' },
  { key: 'rubrics', path: 'rubrics.json', suffix: 'rubrics.json', label: 'LLM-judge rubrics (JSON)' },
  { key: 'guidelines', path: 'guidelines.md', suffix: 'guidelines.md', label: 'Annotation guidelines (Markdown)' },
  { key: 'excerpts', path: 'datasets/excerpts.jsonl', suffix: 'excerpts.jsonl', label: 'Labelled excerpts (JSONL)' },
  { key: 'steerlm', path: 'datasets/steerlm.jsonl', suffix: 'steerlm.jsonl', label: 'SteerLM records (JSONL)' },
  { key: 'classifiers', path: 'classifiers.json', suffix: 'classifiers.json', label: 'Classifiers (JSON; trains first)' },
] as const

export type ExportKey = typeof EXPORTS[number]['key']

export function outputHref (study: string, group: string, path: string): string {
  return `/api/studies/${enc(study)}/outputs/${path}?group_id=${enc(group)}`
}

export function reportHref (study: string, group: string): string {
  return outputHref(study, group, 'report.html')
}

export interface ClassifierFigures {
  readonly folds: number
  readonly accuracy: number
  readonly balanced_accuracy: number
  readonly f1: number
  readonly majority_baseline: number
}

export interface Classifier {
  readonly axis: string
  readonly examples: number
  readonly positives: number
  readonly negatives: number
  readonly figures: ClassifierFigures | null
  readonly note: string
}

export interface Classifiers {
  readonly format: string
  readonly embedding_model: string
  readonly classifiers: readonly Classifier[]
}

export interface AxisRef { readonly id: string, readonly name: string }

export interface ComparedPair { readonly a: AxisRef, readonly b: AxisRef, readonly similarity: number }

export interface GroupComparison {
  readonly group_a: AxisRef
  readonly group_b: AxisRef
  readonly threshold: number
  readonly pairs: readonly ComparedPair[]
  readonly only_a: readonly AxisRef[]
  readonly only_b: readonly AxisRef[]
  readonly corrected: boolean
  readonly corrected_by: string | null
  readonly corrected_at: string | null
}

export interface Arm { readonly model: string, readonly system_prompt: string }

export interface ABTest {
  readonly id: string
  readonly group_id: string
  readonly name: string
  readonly open: boolean
  readonly axes: readonly AxisRef[]
  /** The facilitator's: `a` and `b`. */
  readonly arms: { readonly [arm: string]: Arm } | null
  readonly trials: number | null
}

export interface ABTestIn {
  readonly group_id: string
  readonly name: string
  readonly a: Arm
  readonly b: Arm
  readonly axes: readonly string[]
}

export interface ABAxisResult {
  readonly axis: AxisRef
  readonly a_wins: number
  readonly b_wins: number
  readonly ties: number
  readonly decided: number
  readonly a_win_rate: number | null
  readonly ci_low: number | null
  readonly ci_high: number | null
}

export interface ABResults {
  readonly test: ABTest
  readonly trials: number
  readonly chosen: number
  readonly axes: readonly ABAxisResult[]
  readonly caveat: string | null
}

/** A group attribute as GET /discuss gives it (only what the A/B form needs). */
export interface GroupAttribute { readonly id: string, readonly name: string, readonly status: string }

/** The models this server offers (GET /healthz), or none when it cannot say. */
export async function serverModels (): Promise<string[]> {
  let response: Response
  try {
    response = await fetch('/healthz', { cache: 'no-store', credentials: 'same-origin' })
  } catch {
    return []
  }
  if (!response.ok) return []
  try {
    const health = await response.json() as { models?: ReadonlyArray<{ model?: unknown }> }
    return (health.models ?? []).map((m) => m.model).filter((m): m is string => typeof m === 'string')
  } catch {
    return []
  }
}

function studyPath (study: string, suffix: string): string {
  return `/studies/${enc(study)}${suffix}`
}

export const outputsApi = {
  classifiers: async (study: string, group: string): Promise<Classifiers> =>
    await call('GET', studyPath(study, `/outputs/classifiers.json?group_id=${enc(group)}`)),

  comparison: async (study: string, a: string, b: string): Promise<GroupComparison> =>
    await call('GET', studyPath(study, `/outputs/comparison?group_a=${enc(a)}&group_b=${enc(b)}`)),
  correctComparison: async (study: string, a: string, b: string, pairs: ReadonlyArray<readonly [string, string]>): Promise<GroupComparison> =>
    await call('PUT', studyPath(study, '/outputs/comparison'), { group_a: a, group_b: b, pairs }),
  resetComparison: async (study: string, a: string, b: string): Promise<GroupComparison> =>
    await call('DELETE', studyPath(study, `/outputs/comparison?group_a=${enc(a)}&group_b=${enc(b)}`)),

  attributes: async (study: string, group: string): Promise<GroupAttribute[]> =>
    (await call<{ attributes: GroupAttribute[] }>('GET', studyPath(study, `/discuss?group_id=${enc(group)}`))).attributes,

  abTests: async (study: string, group: string): Promise<ABTest[]> =>
    (await call<{ tests: ABTest[] }>('GET', studyPath(study, `/ab-tests?group_id=${enc(group)}`))).tests,
  createAbTest: async (study: string, test: ABTestIn): Promise<ABTest> =>
    await call('POST', studyPath(study, '/ab-tests'), test),
  setAbTestOpen: async (study: string, test: string, open: boolean): Promise<ABTest> =>
    await call('PATCH', studyPath(study, `/ab-tests/${enc(test)}`), { open }),
  abResults: async (study: string, test: string): Promise<ABResults> =>
    await call('GET', studyPath(study, `/ab-tests/${enc(test)}/results`)),
  preferencesHref: (study: string, test: string): string =>
    `/api${studyPath(study, `/ab-tests/${enc(test)}/preferences.jsonl`)}`,
} as const
