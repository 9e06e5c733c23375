/**
 * The Interact calls of the REST API (server/calma/api/conversations.py): the study's models,
 * the participant's conversations and a conversation's stored turns; and whether Interact is open
 * for the participant (server/calma/api/familiarize.py). Failures become ApiErrors
 * with the problem's `detail`, as in ../api.ts.
 */
import { ApiError, type Problem } from '../api'
import type { ChatStatus, Stage } from '../generated/control'

export type ModelChoice = 'participant' | 'assigned'

export interface StudyModel {
  readonly name: string
  /** The packaged demo model: a stand-in, not for a real study. */
  readonly stand_in: boolean
}

export interface StudyModels {
  readonly model_choice: ModelChoice
  readonly models: readonly StudyModel[]
  /** What to tell participants about the models (the stand-in notice), if anything. */
  readonly notice: string | null
}

export interface Conversation {
  readonly id: string
  readonly study_id: string
  readonly model: string
  readonly title: string
  readonly created_at: string
  readonly updated_at: string
}

/** One stored turn, as GET …/conversations/{id} returns it (the fields this page reads). */
export interface StoredMessage {
  readonly id: string
  readonly seq: number
  readonly role: 'user' | 'assistant'
  readonly content: string
  readonly status: ChatStatus
  readonly replaces: string | null
  readonly error: string | null
}

export interface ConversationDetail {
  readonly conversation: Conversation
  /** Every turn on record by seq, including replies that were regenerated. */
  readonly messages: readonly StoredMessage[]
}

/** Whether a stage is open for the participant (stage gating), and why. */
export interface StageState {
  readonly stage: Stage
  readonly state: string
  readonly reason: string
}

export interface ParticipantStages {
  readonly participant_id: string
  readonly current: Stage
  readonly stages: readonly StageState[]
}

function isProblem (value: unknown): value is Problem {
  if (typeof value !== 'object' || value === null) return false
  const record = value as Record<string, unknown>
  return typeof record['detail'] === 'string' && typeof record['status'] === 'number' && typeof record['title'] === 'string'
}

function sentence (problem: Problem): string {
  const text = problem.detail !== '' ? problem.detail : problem.title
  const ended = /[.!?)]$/.test(text) ? text : `${text}.`
  return ended.charAt(0).toUpperCase() + ended.slice(1)
}

async function call<T> (method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
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
  let payload: unknown
  try {
    payload = await response.json()
  } catch {
    payload = undefined
  }
  if (response.ok) return payload as T
  if (isProblem(payload)) throw new ApiError(response.status, sentence(payload), payload)
  throw new ApiError(response.status, `The server answered ${response.status} ${response.statusText}.`)
}

const enc = encodeURIComponent

export const interactApi = {
  models: async (study: string): Promise<StudyModels> => await call('GET', `/studies/${enc(study)}/models`),
  conversations: async (study: string): Promise<Conversation[]> =>
    (await call<{ conversations: Conversation[] }>('GET', `/studies/${enc(study)}/conversations`)).conversations,
  startConversation: async (study: string, model?: string): Promise<Conversation> =>
    await call('POST', `/studies/${enc(study)}/conversations`, model === undefined ? {} : { model }),
  conversation: async (study: string, id: string): Promise<ConversationDetail> =>
    await call('GET', `/studies/${enc(study)}/conversations/${enc(id)}`),
  stages: async (study: string, participant: string): Promise<ParticipantStages> =>
    await call('GET', `/studies/${enc(study)}/participants/${enc(participant)}/stages`),
} as const
