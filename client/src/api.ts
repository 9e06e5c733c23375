/**
 * The REST API under /api (server/calma/api; OpenAPI at /api/openapi.json), as typed calls.
 * Every failure is an RFC 9457 problem: it becomes an ApiError whose message is the problem's
 * `detail` (with the failing fields of a validation problem), written for people to read.
 */
import type { Stage } from './generated/control'

export type Role = 'facilitator' | 'participant' | 'observer'
export type InviteRole = 'participant' | 'observer'
export type InviteStatus = 'active' | 'expired' | 'revoked' | 'used-up'
export type InviteKind = 'personal' | 'group'

/** POST /studies/{id}/invites: a group link needs max_uses; a personal one takes none. */
export interface InviteRequest {
  readonly group_id: string
  readonly role: InviteRole
  readonly ttl_seconds: number
  readonly kind: InviteKind
  readonly max_uses?: number
  readonly label: string
}

export interface FieldProblem { readonly field: string, readonly message: string, readonly code: string }

export interface Problem {
  readonly type: string
  readonly title: string
  readonly status: number
  readonly detail: string
  readonly instance?: string
  readonly errors?: readonly FieldProblem[]
}

export interface Me {
  readonly role: Role
  readonly name: string
  readonly facilitator_id: string | null
  readonly email: string | null
  readonly participant_id: string | null
  readonly study_id: string | null
  readonly group_id: string | null
}

export interface SessionState { readonly signed_in: boolean, readonly me: Me | null }

export interface DeploymentContext {
  readonly name: string
  readonly description: string
  readonly system_prompt: string
  readonly models: readonly string[]
}

export interface DiscussSettings {
  /** Cards on the semantic canvas show no authors. */
  readonly anonymous_canvas: boolean
  /** A link participants get with their session artifacts (http(s)); empty for none. */
  readonly artifact_link: string
}

export interface Study {
  readonly id: string
  readonly name: string
  readonly deployment_context: DeploymentContext
  readonly stage_order: readonly Stage[]
  readonly discuss: DiscussSettings
  readonly created_at: string
  readonly updated_at: string
}

export interface StudySummary {
  readonly id: string
  readonly name: string
  readonly context_name: string
  readonly created_at: string
}

export interface Group {
  readonly id: string
  readonly study_id: string
  readonly name: string
  readonly created_at: string
}

export interface Invite {
  readonly id: string
  readonly group_id: string | null
  readonly role: Role
  readonly participant_id: string | null
  /** personal: one person, resumed on every open; group: up to max_uses people */
  readonly kind: InviteKind
  readonly max_uses: number | null
  readonly uses: number
  readonly label: string
  /** null: issued by `calma admin token` */
  readonly created_by: string | null
  readonly status: InviteStatus
  readonly expires_at: string
  readonly revoked_at: string | null
  readonly created_at: string
  /** The path to open: /join?token=... */
  readonly link: string
}

export interface Progress {
  readonly participant_id: string
  readonly display_name: string
  readonly group_id: string
  readonly stage: Stage
  readonly updated_at: string
}

export interface InvitePreview {
  readonly study_id: string
  readonly study_name: string
  readonly context_name: string
  readonly context_description: string
  readonly stage_order: readonly Stage[]
  readonly group_id: string | null
  readonly group_name: string | null
  readonly role: Role
  readonly expires_at: string
}

export interface StudyPatch {
  readonly name?: string
  readonly deployment_context?: { readonly name?: string, readonly description?: string, readonly system_prompt?: string }
  readonly discuss?: Partial<DiscussSettings>
}

/** What decided whether a stage is open: the rule (in order), or the facilitator's override for the group or the person. */
export type StageSetBy = 'rule' | 'group' | 'person'

/** Whether a stage is open for a participant (stage gating, server/calma/familiarize/gating.py), and why. */
export interface StageState {
  readonly stage: Stage
  readonly state: 'open' | 'closed'
  /** The server's reason, e.g. "previous stage completed"; see stageReasonText in stages.ts. */
  readonly reason: string
  /** What decided `state`; the words for it come from this, not from `reason`. */
  readonly set_by: StageSetBy
  /** When the participant completed the stage, if they did. */
  readonly completed_at: string | null
}

/** A participant's stage (`current`) and which stages are open for them. */
export interface ParticipantStages {
  readonly participant_id: string
  readonly current: Stage
  readonly stages: readonly StageState[]
}

/** A failed API call: the server's problem when it sent one. */
export class ApiError extends Error {
  readonly status: number
  readonly problem: Problem | undefined

  constructor (status: number, message: string, problem?: Problem) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.problem = problem
  }

  /** The problem type's last path segment, e.g. "token-revoked", or "" when there is none. */
  get kind (): string {
    return this.problem?.type.split('/').pop() ?? ''
  }
}

/** What went wrong, in words for the person using the page. */
export function errorMessage (error: unknown): string {
  if (error instanceof ApiError) return error.message
  if (error instanceof Error) return error.message
  return String(error)
}

function isProblem (value: unknown): value is Problem {
  if (typeof value !== 'object' || value === null) return false
  const record = value as Record<string, unknown>
  return typeof record['title'] === 'string' && typeof record['status'] === 'number' &&
    typeof record['detail'] === 'string' && typeof record['type'] === 'string'
}

function problemMessage (problem: Problem): string {
  const detail = problem.detail !== '' ? problem.detail : problem.title
  const fields = (problem.errors ?? []).map((e) => `${e.field}: ${e.message}`)
  const text = fields.length > 0 ? `${detail} (${fields.join('; ')})` : detail
  const sentence = /[.!?)]$/.test(text) ? text : `${text}.`
  return sentence.charAt(0).toUpperCase() + sentence.slice(1)
}

/**
 * One call to the API at `/api${path}` with the session cookie: the JSON answer, or an ApiError
 * (the problem's `detail` in words; status 0 when the server could not be reached).
 */
export async function call<T> (method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json, application/problem+json' }
  const init: RequestInit = { method, headers, credentials: 'same-origin', cache: 'no-store' }
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  let response: Response
  try {
    response = await fetch(`/api${path}`, init)
  } catch {
    throw new ApiError(0, 'Could not reach the server. Check your connection and try again.')
  }
  if (response.status === 204) return undefined as T
  let payload: unknown
  try {
    payload = await response.json()
  } catch {
    payload = undefined
  }
  if (response.ok) return payload as T
  if (isProblem(payload)) throw new ApiError(response.status, problemMessage(payload), payload)
  throw new ApiError(response.status, `The server answered ${response.status} ${response.statusText}.`)
}

const enc = encodeURIComponent

export const api = {
  sessionState: async (): Promise<SessionState> => await call('GET', '/session'),
  signIn: async (email: string, password: string): Promise<Me> => await call('POST', '/session', { email, password }),
  signOut: async (): Promise<void> => { await call('DELETE', '/session') },

  studies: async (): Promise<StudySummary[]> =>
    (await call<{ studies: StudySummary[] }>('GET', '/studies')).studies,
  createStudy: async (template: 'pilot' | 'blank', name?: string): Promise<Study> =>
    await call('POST', '/studies', name === undefined ? { template } : { template, name }),
  study: async (id: string): Promise<Study> => await call('GET', `/studies/${enc(id)}`),
  updateStudy: async (id: string, patch: StudyPatch): Promise<Study> => await call('PATCH', `/studies/${enc(id)}`, patch),

  groups: async (study: string): Promise<Group[]> =>
    (await call<{ groups: Group[] }>('GET', `/studies/${enc(study)}/groups`)).groups,
  group: async (study: string, group: string): Promise<Group> =>
    await call('GET', `/studies/${enc(study)}/groups/${enc(group)}`),
  createGroup: async (study: string, name: string): Promise<Group> =>
    await call('POST', `/studies/${enc(study)}/groups`, { name }),

  invites: async (study: string): Promise<Invite[]> =>
    (await call<{ invites: Invite[] }>('GET', `/studies/${enc(study)}/invites`)).invites,
  createInvite: async (study: string, request: InviteRequest): Promise<Invite> =>
    await call('POST', `/studies/${enc(study)}/invites`, request),
  revokeInvite: async (study: string, invite: string): Promise<Invite> =>
    await call('POST', `/studies/${enc(study)}/invites/${enc(invite)}/revoke`),
  reissueInvite: async (study: string, invite: string): Promise<Invite> =>
    await call('POST', `/studies/${enc(study)}/invites/${enc(invite)}/reissue`),

  progress: async (study: string, participant: string): Promise<Progress> =>
    await call('GET', `/studies/${enc(study)}/participants/${enc(participant)}/progress`),
  moveTo: async (study: string, participant: string, stage: Stage): Promise<Progress> =>
    await call('PUT', `/studies/${enc(study)}/participants/${enc(participant)}/progress`, { stage }),

  stages: async (study: string, participant: string): Promise<ParticipantStages> =>
    await call('GET', `/studies/${enc(study)}/participants/${enc(participant)}/stages`),
  /** The participant says they are done with a stage completed by saying so (Interact), which opens the next. */
  completeStage: async (study: string, participant: string, stage: Stage): Promise<ParticipantStages> =>
    await call('POST', `/studies/${enc(study)}/participants/${enc(participant)}/stages/${enc(stage)}/complete`),

  previewInvite: async (token: string): Promise<InvitePreview> => await call('GET', `/join?token=${enc(token)}`),
  join: async (token: string, displayName: string): Promise<Me> =>
    await call('POST', '/join', { token, display_name: displayName }),
} as const
