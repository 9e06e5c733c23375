/**
 * The facilitator's Reflect calls (server/calma/api/reflect.py) and the shapes they answer with
 * (server/calma/api/schemas.py `ReflectStudyProgress`, `ReflectSettings`, `GroupCodes`): everyone's
 * progress, the two settings (the groups' codes released; the shared sample), a group's codes
 * (always readable by the facilitator: before the release it is a preview) and the exports.
 */
import { call } from '../api'
import type { ReflectProgress } from '../reflect/rest'

export type { ReflectProgress }

export interface ReflectParticipantProgress {
  readonly participant_id: string
  readonly display_name: string
  readonly group_id: string
  readonly progress: ReflectProgress
}

export interface ReflectSettings {
  /** Participants see their group's codes (counts, frequencies). */
  readonly codes_released: boolean
  /** When they were released (ISO 8601), or null. */
  readonly codes_released_at: string | null
  /** Participants also code a sample of the conversations others in their group agreed to share. */
  readonly share_sample: boolean
}

export interface ReflectSettingsPatch {
  readonly codes_released?: boolean
  readonly share_sample?: boolean
}

export interface GroupCode {
  readonly label: string
  /** How many coded passages carry it (labels compared case-blind). */
  readonly uses: number
  /** How many people used it. */
  readonly participants: number
  /** Its share of all the group's uses, 0..1. */
  readonly frequency: number
}

export interface GroupCodes {
  readonly group_id: string
  readonly released_at: string | null
  readonly codes: readonly GroupCode[]
}

export type ExportFormat = 'json' | 'csv'

const enc = encodeURIComponent

export const reflectConsoleApi = {
  progress: async (study: string): Promise<readonly ReflectParticipantProgress[]> =>
    (await call<{ participants: ReflectParticipantProgress[] }>('GET', `/studies/${enc(study)}/reflect/progress`)).participants,
  settings: async (study: string): Promise<ReflectSettings> => await call('GET', `/studies/${enc(study)}/reflect/settings`),
  setSettings: async (study: string, patch: ReflectSettingsPatch): Promise<ReflectSettings> =>
    await call('PUT', `/studies/${enc(study)}/reflect/settings`, patch),
  groupCodes: async (study: string, group: string): Promise<GroupCodes> =>
    await call('GET', `/studies/${enc(study)}/reflect/group-codes?group_id=${enc(group)}`),
  /** A participant's export, to download (the server says it is an attachment). */
  exportHref: (study: string, participant: string, format: ExportFormat): string =>
    `/api/studies/${enc(study)}/reflect/export.${format}?participant_id=${enc(participant)}`,
} as const
