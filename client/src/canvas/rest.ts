/**
 * The canvas's calls of the REST API (server/calma/api/canvas.py): which board a person sees and
 * what they may do there, writing a new label (the server embeds and places it; it arrives over
 * Yjs), and the detail of one card with the excerpts behind it. Calls go through ../api.ts's `call`:
 * failures become ApiErrors with the problem's `detail`.
 */
import { call } from '../api'
import type { CardKind } from './cards'

export interface CanvasInfo {
  readonly study_id: string
  readonly group_id: string
  readonly group_name: string
  /** The board room: study-<s>.group-<g>.board. */
  readonly room: string
  /** The group's edits room: study-<s>.group-<g>.edits (card moves, hint decisions). */
  readonly edits_room: string
  /** The study keeps the canvas anonymous: cards carry no authors. */
  readonly anonymous: boolean
  /** May write labels, move cards and decide hints (false for observers). */
  readonly can_write: boolean
  /** May bring everyone to their view (the study's facilitator). */
  readonly can_steer: boolean
  /** Cards on the board when asked. */
  readonly cards: number
}

export interface PlacedCard {
  readonly id: string
  readonly text: string
  readonly kind: CardKind
  readonly x: number
  readonly y: number
}

export type ExcerptSource = 'baseline' | 'shared' | 'own'

export interface Excerpt {
  readonly quote: string
  readonly source: ExcerptSource
  readonly prompt: string
}

export interface CardDetail {
  readonly id: string
  readonly text: string
  readonly kind: CardKind
  readonly uses: number
  readonly people: number
  readonly authors: readonly string[]
  /** The excerpts this person may read. */
  readonly excerpts: readonly Excerpt[]
  /** How many more there are, from conversations whose authors did not share them. */
  readonly private_excerpts: number
}

/** The longest label the server takes. */
export const MAX_LABEL_LENGTH = 200

const enc = encodeURIComponent

/** `?group_id=` when the caller names a group (the facilitator must; others get their own). */
function groupQuery (group: string | undefined): string {
  return group === undefined ? '' : `?group_id=${enc(group)}`
}

export const canvasApi = {
  info: async (study: string, group?: string): Promise<CanvasInfo> =>
    await call('GET', `/studies/${enc(study)}/canvas${groupQuery(group)}`),
  addLabel: async (study: string, text: string, group?: string): Promise<PlacedCard> =>
    (await call<{ card: PlacedCard }>('POST', `/studies/${enc(study)}/canvas/labels`,
      group === undefined ? { text } : { text, group_id: group })).card,
  card: async (study: string, card: string, group?: string): Promise<CardDetail> =>
    await call('GET', `/studies/${enc(study)}/canvas/cards/${enc(card)}${groupQuery(group)}`),
} as const
