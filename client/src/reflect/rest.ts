/**
 * The Reflect calls of the REST API (server/calma/api/reflect.py) and the shapes they answer with
 * (server/calma/api/schemas.py `ReflectState`, `ReflectOpsOut`, `GroupCodes`). Changes are operations
 * (server/calma/reflect/ops.py), each sent with an id the page chose: an operation sent twice is
 * applied once, so a queue of them can always be sent again.
 */
import { call } from '../api'

export type TargetKind = 'baseline' | 'message'
export type ItemSource = 'own' | 'baseline' | 'shared'

/** Something to code: a baseline response or a model reply (the participant's own, or shared). */
export interface ReflectItem {
  readonly kind: TargetKind
  readonly id: string
  readonly prompt: string
  readonly text: string
  readonly source: ItemSource
  readonly conversation_id: string | null
  readonly model: string | null
  readonly coded: boolean
}

/** A span of an item's text with codes; `start`/`end` count Unicode code points. */
export interface Annotation {
  readonly id: string
  readonly target_kind: TargetKind
  readonly target_id: string
  readonly start: number
  readonly end: number
  readonly quote: string
  readonly memo: string
  readonly code_ids: readonly string[]
  readonly created_at: number
  readonly updated_at: number
}

export interface Excerpt {
  readonly annotation_id: string
  readonly target_kind: TargetKind
  readonly target_id: string
  readonly quote: string
}

export interface Code {
  readonly id: string
  readonly label: string
  readonly uses: number
  readonly excerpts: readonly Excerpt[]
  /** Set when the label may describe the structure of an answer rather than a value in it. */
  readonly hint: string | null
  readonly created_at: number
  readonly updated_at: number
  /** Codes merged into this one. */
  readonly merged: readonly string[]
}

export interface Cluster {
  readonly id: string
  readonly name: string
  readonly definition: string
  readonly code_ids: readonly string[]
  readonly created_at: number
  readonly updated_at: number
}

export interface ReflectProgress {
  readonly responses_coded: number
  readonly responses: number
  readonly baseline_coded: number
  readonly baseline: number
  readonly codes: number
  readonly clusters: number
}

export interface ReflectState {
  readonly version: number
  readonly items: readonly ReflectItem[]
  readonly annotations: readonly Annotation[]
  readonly codes: readonly Code[]
  readonly clusters: readonly Cluster[]
  readonly progress: ReflectProgress
  readonly sharing: boolean
}

/** The operations (server/calma/reflect/ops.py); ids of new records are 16 lowercase hex digits. */
export type Op =
  | { readonly kind: 'annotation.create', readonly id: string, readonly target_kind: TargetKind, readonly target_id: string,
      readonly start: number, readonly end: number, readonly quote: string, readonly codes: readonly string[], readonly memo?: string }
  | { readonly kind: 'annotation.set_codes', readonly id: string, readonly codes: readonly string[] }
  | { readonly kind: 'annotation.set_memo', readonly id: string, readonly memo: string }
  | { readonly kind: 'annotation.delete', readonly id: string }
  | { readonly kind: 'annotation.restore', readonly id: string }
  | { readonly kind: 'code.rename', readonly id: string, readonly label: string }
  | { readonly kind: 'code.merge', readonly ids: readonly string[], readonly into: string }
  | { readonly kind: 'code.unmerge', readonly ids: readonly string[] }
  | { readonly kind: 'cluster.create', readonly id: string, readonly name: string, readonly definition?: string,
      readonly code_ids?: readonly string[] }
  | { readonly kind: 'cluster.update', readonly id: string, readonly name?: string, readonly definition?: string }
  | { readonly kind: 'cluster.set_codes', readonly id: string, readonly code_ids: readonly string[] }
  | { readonly kind: 'cluster.merge', readonly ids: readonly string[], readonly into: string }
  | { readonly kind: 'cluster.split', readonly id: string, readonly new_id: string, readonly name: string,
      readonly definition?: string, readonly code_ids: readonly string[] }
  | { readonly kind: 'cluster.delete', readonly id: string }
  | { readonly kind: 'cluster.restore', readonly id: string }

export interface OpEntry {
  readonly op_id: string
  readonly op: Op
}

export type OpStatus = 'applied' | 'duplicate' | 'refused'

export interface OpOutcome {
  readonly op_id: string
  readonly status: OpStatus
  /** What the operation did, with `undo`: the operations that undo it. */
  readonly result: { readonly undo?: readonly Op[], readonly [key: string]: unknown }
  readonly error: string | null
}

export interface OpsOut {
  readonly outcomes: readonly OpOutcome[]
  readonly version: number
}

/** A code of the participant's group, once the facilitator released them (labels compared case-blind). */
export interface GroupCode {
  readonly label: string
  readonly uses: number
  /** How many people in the group used it. */
  readonly participants: number
  /** Its share of all the group's uses, 0..1. */
  readonly frequency: number
}

export interface GroupCodes {
  readonly group_id: string
  readonly released_at: string | null
  readonly codes: readonly GroupCode[]
}

/** At most this many operations in one request (the server's limit). */
export const MAX_BATCH = 100

const enc = encodeURIComponent

export const reflectApi = {
  state: async (study: string): Promise<ReflectState> => await call('GET', `/studies/${enc(study)}/reflect`),
  ops: async (study: string, ops: readonly OpEntry[]): Promise<OpsOut> =>
    await call('POST', `/studies/${enc(study)}/reflect/ops`, { ops }),
  /** Agree (or not) that others in the group may code a sample of your conversations; the state after. */
  sharing: async (study: string, agree: boolean): Promise<ReflectState> =>
    await call('PUT', `/studies/${enc(study)}/reflect/sharing`, { agree }),
  /** The group's codes: a 409 ApiError until the facilitator releases them. */
  groupCodes: async (study: string): Promise<GroupCodes> => await call('GET', `/studies/${enc(study)}/reflect/group-codes`),
} as const
