/**
 * The Familiarize calls of the REST API (server/calma/api/familiarize.py) and what they answer
 * (server/calma/api/schemas.py `FamiliarizeView`, `CheckOutcome`). Calls go through ../api.ts's
 * `call`: failures become ApiErrors with the problem's `detail`.
 *
 * `orientation_pages` and `lesson_pages` are HTML the server rendered from the facilitator's
 * Markdown and sanitized (markdown-it without raw HTML, then nh3): the only server strings this
 * page inserts as HTML. Everything else is text.
 */
import { call, type StageState } from '../api'

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
  /** The participant's codes, once they answered. */
  readonly my_codes: readonly string[] | null
  /** The facilitator's codes: only once the participant answered. */
  readonly example_codes: readonly string[] | null
  readonly explanation: string | null
}

export interface CheckItem {
  readonly id: string
  readonly excerpt: string
  /** The codes to judge: which of them describe values? */
  readonly options: readonly string[]
  /** Why, once the participant passed. */
  readonly explanation: string | null
}

export interface CheckState {
  readonly items: readonly CheckItem[]
  /** The share of options to judge rightly, 0–1. */
  readonly pass_mark: number
  /** 0: unlimited. */
  readonly max_attempts: number
  readonly attempts: number
  readonly attempts_left: number | null
  readonly best_score: number | null
  readonly passed: boolean
}

export interface FamiliarizeProgress {
  readonly orientation_pages_seen: number
  readonly orientation_done: boolean
  readonly lesson_done: boolean
  readonly practice_done: number
  readonly complete: boolean
}

export interface FamiliarizeView {
  readonly study_id: string
  readonly training_context: string
  /** Sanitized HTML, one per page. */
  readonly orientation_pages: readonly string[]
  /** Sanitized HTML, one per page. */
  readonly lesson_pages: readonly string[]
  readonly worked_examples: readonly WorkedExample[]
  readonly practice: readonly PracticeItem[]
  readonly check: CheckState
  readonly progress: FamiliarizeProgress
  readonly stages: readonly StageState[]
}

export interface CheckOutcome {
  readonly score: number
  readonly passed: boolean
  readonly right: number
  readonly total: number
  /** Items with at least one wrong judgement (not which). */
  readonly items_to_revisit: readonly string[]
  readonly attempts: number
  readonly attempts_left: number | null
  /** Every item's explanation, once passed. */
  readonly explanations: Readonly<Record<string, string>>
  readonly stages: readonly StageState[]
}

const enc = encodeURIComponent
const base = (study: string): string => `/studies/${enc(study)}/familiarize`

export const familiarizeApi = {
  view: async (study: string): Promise<FamiliarizeView> => await call('GET', base(study)),
  sawOrientation: async (study: string, pagesSeen: number): Promise<FamiliarizeView> =>
    await call('PUT', `${base(study)}/orientation`, { pages_seen: pagesSeen }),
  readLesson: async (study: string): Promise<FamiliarizeView> => await call('PUT', `${base(study)}/lesson`),
  codePractice: async (study: string, item: string, codes: readonly string[]): Promise<FamiliarizeView> =>
    await call('PUT', `${base(study)}/practice/${enc(item)}`, { codes }),
  takeCheck: async (study: string, answers: Readonly<Record<string, readonly string[]>>): Promise<CheckOutcome> =>
    await call('POST', `${base(study)}/check`, { answers }),
} as const
