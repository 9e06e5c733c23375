/**
 * The Interact calls of the REST API (server/calma/api/conversations.py): the study's models,
 * the participant's conversations and a conversation's stored turns; and whether Interact is open
 * for the participant (server/calma/api/familiarize.py). Calls go through ../api.ts's `call`:
 * failures become ApiErrors with the problem's `detail`.
 */
import { call, type ParticipantStages } from '../api'
import type { ChatStatus } from '../generated/control'

export type { ParticipantStages, StageState } from '../api'

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
