/**
 * The REST calls and shapes of Familiarize and stage gating, for the facilitator console
 * (server/calma/api/familiarize.py and the study's familiarize content). Declared here rather
 * than in ../api so the console's editor owns them; the calls go through ../api's `call`, so
 * failures are ApiErrors (with the server's problem and its failing fields) like every other call.
 */
import { ApiError, call, type FieldProblem, type StageSetBy, type Study } from '../api'
import type { Stage } from '../generated/control'

export interface WorkedExample {
  readonly id: string
  readonly prompt: string
  readonly response: string
  readonly notes: string
  readonly value_codes: readonly string[]
  readonly structural_codes: readonly string[]
}

export interface PracticeItem {
  readonly id: string
  readonly prompt: string
  readonly response: string
  readonly example_codes: readonly string[]
  readonly explanation: string
}

export interface CheckOption { readonly code: string, readonly is_value: boolean }

export interface CheckItem {
  readonly id: string
  readonly excerpt: string
  readonly options: readonly CheckOption[]
  readonly explanation: string
}

export interface FamiliarizeContent {
  readonly lesson: string
  readonly practice: readonly PracticeItem[]
  readonly check: readonly CheckItem[]
  /** The share of options judged right needed to pass, 0..1. */
  readonly pass_mark: number
  /** 0: unlimited. */
  readonly max_attempts: number
}

/** A study as its facilitator gets it: with the orientation, the training context and Familiarize. */
export interface EditableStudy extends Study {
  readonly orientation: string
  readonly training_context: { readonly name: string, readonly examples: readonly WorkedExample[] }
  readonly familiarize: FamiliarizeContent
}

export interface FamiliarizePatch {
  readonly orientation: string
  readonly training_context: { readonly examples: readonly WorkedExample[] }
  readonly familiarize: FamiliarizeContent
}

/** What participants see (GET …/familiarize): the pages are HTML the server sanitized. */
export interface FamiliarizePreview {
  readonly training_context: string
  readonly orientation_pages: readonly string[]
  readonly lesson_pages: readonly string[]
  readonly worked_examples: readonly WorkedExample[]
  readonly practice: ReadonlyArray<{ readonly id: string }>
  readonly check: { readonly items: ReadonlyArray<{ readonly id: string }>, readonly pass_mark: number, readonly max_attempts: number }
}

export type StageState = 'open' | 'closed'
export type OverrideState = StageState | 'default'

export interface StageStatus {
  readonly stage: Stage
  readonly state: StageState
  /** In words, e.g. "previous stage completed", "opened or closed for the group by the facilitator". */
  readonly reason: string
  /** What decided `state`: the rule, or the facilitator's override for the group or the person. */
  readonly set_by: StageSetBy
  readonly completed_at: string | null
}

export interface FamiliarizeResult {
  readonly participant_id: string
  readonly display_name: string
  readonly group_id: string
  readonly current: Stage
  readonly orientation_done: boolean
  readonly lesson_done: boolean
  readonly practice_done: number
  readonly attempts: number
  readonly best_score: number | null
  readonly passed_at: string | null
  readonly stages: readonly StageStatus[]
}

export interface FamiliarizeResults {
  readonly practice_items: number
  readonly check_items: number
  readonly pass_mark: number
  readonly participants: readonly FamiliarizeResult[]
}

export interface StageOverride {
  readonly scope: 'group' | 'participant'
  readonly target_id: string
  readonly stage: Stage
  readonly state: StageState
  readonly updated_at: string
}

export type OverrideTarget = { readonly group_id: string } | { readonly participant_id: string }

/** The study with its Familiarize content, or an error when the server did not send it (not its facilitator). */
export function editable (study: Study): EditableStudy {
  const candidate = study as Partial<EditableStudy>
  if (typeof candidate.orientation !== 'string' || candidate.training_context === undefined ||
      candidate.familiarize === undefined || candidate.familiarize === null) {
    throw new Error('the server did not send this study’s Familiarize content (are you its facilitator?)')
  }
  return candidate as EditableStudy
}

/** The failing fields of a validation problem (422), or none. */
export function fieldProblems (error: unknown): readonly FieldProblem[] {
  return error instanceof ApiError ? error.problem?.errors ?? [] : []
}

const enc = encodeURIComponent

export const familiarizeApi = {
  save: async (study: string, patch: FamiliarizePatch): Promise<EditableStudy> =>
    editable(await call<Study>('PATCH', `/studies/${enc(study)}`, patch)),
  preview: async (study: string): Promise<FamiliarizePreview> => await call('GET', `/studies/${enc(study)}/familiarize`),
  results: async (study: string): Promise<FamiliarizeResults> =>
    await call('GET', `/studies/${enc(study)}/familiarize/results`),
  overrides: async (study: string): Promise<StageOverride[]> =>
    (await call<{ overrides: StageOverride[] }>('GET', `/studies/${enc(study)}/stage-overrides`)).overrides,
  setOverride: async (study: string, target: OverrideTarget, stage: Stage, state: OverrideState): Promise<StageOverride[]> =>
    (await call<{ overrides: StageOverride[] }>('PUT', `/studies/${enc(study)}/stage-overrides`, { ...target, stage, state })).overrides,
} as const
