/**
 * Typed access to a study group's two board documents (shared_schema/board.json, version 3): the
 * board room's `cards`, `hints` and `layout` maps (written by the server only; read-only here) and
 * the edits room's `moves` and `hints` (what people changed: where they put cards, what they decided
 * on hints), read into plain values with the edits laid over the board; the two writes a client may
 * make (moving a card, deciding a hint), both into the edits document; and change notifications
 * that name only what changed. Remote content is untrusted: entries that do not fit the schema are
 * skipped and reported (`reportSkipped`), strings are cut to their limits, and text is only ever
 * shown as text.
 */
import * as Y from 'yjs'
import { reportSkipped } from '../board'

export const CARDS_KEY = 'cards'
export const HINTS_KEY = 'hints'
export const LAYOUT_KEY = 'layout'
/** The edits document's maps (the edits room's `hints` holds decisions, keyed like the board's). */
export const MOVES_KEY = 'moves'
export const DECISIONS_KEY = 'hints'

export const MAX_TEXT_LENGTH = 500
export const MAX_NAME_LENGTH = 80
const MAX_AUTHORS = 20
const MAX_HINT_CARDS = 200
/** Positions beyond this are not on any map the server makes; such cards are skipped. */
const MAX_COORDINATE = 1_000_000

export type CardKind = 'code' | 'top3' | 'attribute' | 'label'
export const CARD_KINDS: ReadonlyArray<CardKind> = ['code', 'top3', 'attribute', 'label']

export interface Card {
  readonly id: string
  readonly text: string
  readonly kind: CardKind
  /** Display names of who used it; empty when the canvas is anonymous. */
  readonly authors: readonly string[]
  readonly uses: number
  readonly people: number
  readonly x: number
  readonly y: number
  readonly pinned: boolean
  readonly movedBy: string
  readonly placedAt: number
}

export type HintKind = 'group' | 'duplicate'
export type HintStatus = 'open' | 'accepted' | 'dismissed'

export interface Hint {
  readonly id: string
  readonly kind: HintKind
  readonly cards: readonly string[]
  readonly similarity: number
  readonly status: HintStatus
  readonly decidedBy: string
}

export interface LayoutInfo {
  readonly refits: number
  readonly refitAt: number
  readonly placedSinceRefit: number
}

type Entry = Y.Map<unknown>

export function cardsMap (doc: Y.Doc): Y.Map<unknown> { return doc.getMap(CARDS_KEY) }
export function hintsMap (doc: Y.Doc): Y.Map<unknown> { return doc.getMap(HINTS_KEY) }
export function layoutMap (doc: Y.Doc): Y.Map<unknown> { return doc.getMap(LAYOUT_KEY) }
export function movesMap (edits: Y.Doc): Y.Map<unknown> { return edits.getMap(MOVES_KEY) }
export function decisionsMap (edits: Y.Doc): Y.Map<unknown> { return edits.getMap(DECISIONS_KEY) }

/** Where someone put a card (the edits document's `moves`). */
export interface Move {
  readonly x: number
  readonly y: number
  readonly movedBy: string
}

/** What someone decided on a hint (the edits document's `hints`). */
export interface Decision {
  readonly status: HintStatus
  readonly decidedBy: string
}

function plain (value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Y.AbstractType)
    ? value as Record<string, unknown>
    : undefined
}

/** One entry of `moves`, or undefined (reported) when it does not fit. */
export function readMove (id: string, value: unknown): Move | undefined {
  if (value === undefined) return undefined
  const entry = plain(value)
  const x = coordinate(entry?.['x'])
  const y = coordinate(entry?.['y'])
  const by: unknown = entry?.['movedBy']
  if (x === undefined || y === undefined || typeof by !== 'string') {
    reportSkipped('moves', id, 'not {x, y, movedBy} with finite coordinates')
    return undefined
  }
  return { x, y, movedBy: by.slice(0, MAX_NAME_LENGTH) }
}

/** One entry of the edits' `hints`, or undefined (reported) when it does not fit. */
export function readDecision (id: string, value: unknown): Decision | undefined {
  if (value === undefined) return undefined
  const entry = plain(value)
  const status: unknown = entry?.['status']
  const by: unknown = entry?.['decidedBy']
  if ((status !== 'open' && status !== 'accepted' && status !== 'dismissed') || typeof by !== 'string') {
    reportSkipped('hint decisions', id, 'not {status, decidedBy}')
    return undefined
  }
  return { status, decidedBy: by.slice(0, MAX_NAME_LENGTH) }
}

function count (value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.floor(value) : 0
}

function name (value: unknown): string {
  return typeof value === 'string' ? value.slice(0, MAX_NAME_LENGTH) : ''
}

function coordinate (value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && Math.abs(value) <= MAX_COORDINATE ? value : undefined
}

/** A plain array (or Y.Array) of strings, each cut to `maxLength`, at most `maxItems`; others skipped. */
function strings (value: unknown, maxItems: number, maxLength: number): string[] {
  const items: unknown[] = value instanceof Y.Array ? value.toArray() : Array.isArray(value) ? value : []
  const out: string[] = []
  for (const item of items) {
    if (typeof item === 'string' && item !== '') out.push(item.slice(0, maxLength))
    if (out.length >= maxItems) break
  }
  return out
}

/**
 * One entry of `cards` as a Card, where `move` (from the edits document) put it if someone moved it,
 * or undefined when it does not fit (no text, no position…: reported, then skipped).
 */
export function readCard (id: string, entry: unknown, move?: Move): Card | undefined {
  if (entry === undefined) return undefined
  if (!(entry instanceof Y.Map)) {
    reportSkipped('cards', id, 'not a map')
    return undefined
  }
  const map = entry as Entry
  const text: unknown = map.get('text')
  const kind: unknown = map.get('kind')
  const x = move?.x ?? coordinate(map.get('x'))
  const y = move?.y ?? coordinate(map.get('y'))
  if (typeof text !== 'string' || text.trim() === '' || x === undefined || y === undefined) {
    reportSkipped('cards', id, 'no text or no finite position')
    return undefined
  }
  const placedAt: unknown = map.get('placedAt')
  return {
    id,
    text: text.slice(0, MAX_TEXT_LENGTH),
    kind: typeof kind === 'string' && (CARD_KINDS as readonly string[]).includes(kind) ? kind as CardKind : 'label',
    authors: strings(map.get('authors'), MAX_AUTHORS, MAX_NAME_LENGTH),
    uses: count(map.get('uses')),
    people: count(map.get('people')),
    x,
    y,
    pinned: move !== undefined || map.get('pinned') === true,
    movedBy: move?.movedBy ?? name(map.get('movedBy')),
    placedAt: typeof placedAt === 'number' && Number.isFinite(placedAt) ? placedAt : 0,
  }
}

/** One entry of the board's `hints`, with the group's decision (from the edits document) as its status. */
export function readHint (id: string, entry: unknown, decision?: Decision): Hint | undefined {
  if (entry === undefined) return undefined
  if (!(entry instanceof Y.Map)) {
    reportSkipped('hints', id, 'not a map')
    return undefined
  }
  const map = entry as Entry
  const kind: unknown = map.get('kind')
  const status: unknown = map.get('status') // boards before version 3 kept decisions here
  const similarity: unknown = map.get('similarity')
  const cards = strings(map.get('cards'), MAX_HINT_CARDS, 64)
  if ((kind !== 'group' && kind !== 'duplicate') || cards.length < 2) {
    reportSkipped('hints', id, 'no kind or fewer than two cards')
    return undefined
  }
  return {
    id,
    kind,
    cards,
    similarity: typeof similarity === 'number' && Number.isFinite(similarity) ? similarity : 0,
    status: decision?.status ?? (status === 'accepted' || status === 'dismissed' ? status : 'open'),
    decidedBy: decision?.decidedBy ?? name(map.get('decidedBy')),
  }
}

export function readLayout (doc: Y.Doc): LayoutInfo {
  const map = layoutMap(doc)
  const refitAt: unknown = map.get('refitAt')
  return {
    refits: count(map.get('refits')),
    refitAt: typeof refitAt === 'number' && Number.isFinite(refitAt) ? refitAt : 0,
    placedSinceRefit: count(map.get('placedSinceRefit')),
  }
}

export function readCards (board: Y.Doc, edits?: Y.Doc): Map<string, Card> {
  const cards = new Map<string, Card>()
  const moves = edits === undefined ? undefined : movesMap(edits)
  cardsMap(board).forEach((entry, id) => {
    const card = readCard(id, entry, readMove(id, moves?.get(id)))
    if (card !== undefined) cards.set(id, card)
  })
  return cards
}

export function readHints (board: Y.Doc, edits?: Y.Doc): Map<string, Hint> {
  const hints = new Map<string, Hint>()
  const decisions = edits === undefined ? undefined : decisionsMap(edits)
  hintsMap(board).forEach((entry, id) => {
    const hint = readHint(id, entry, readDecision(id, decisions?.get(id)))
    if (hint !== undefined) hints.set(id, hint)
  })
  return hints
}

/**
 * A person moved a card: {x, y, movedBy} under the card's id in the edits document (all a client
 * may write of a card; the server's guard checks the name is theirs and the card is on the board).
 * Positions are rounded to a tenth of a unit. Returns false when the card is not on the board.
 */
export function moveCard (board: Y.Doc, edits: Y.Doc, id: string, x: number, y: number, by: string): boolean {
  if (!(cardsMap(board).get(id) instanceof Y.Map)) return false
  const round = (v: number): number => Math.round(Math.max(-MAX_COORDINATE, Math.min(MAX_COORDINATE, v)) * 10) / 10
  movesMap(edits).set(id, { x: round(x), y: round(y), movedBy: by.slice(0, MAX_NAME_LENGTH) })
  return true
}

/** Accept or dismiss a hint (or open it again): {status, decidedBy} in the edits document. Nothing is ever merged. */
export function decideHint (board: Y.Doc, edits: Y.Doc, id: string, status: HintStatus, by: string): boolean {
  if (!(hintsMap(board).get(id) instanceof Y.Map)) return false
  decisionsMap(edits).set(id, { status, decidedBy: status === 'open' ? '' : by.slice(0, MAX_NAME_LENGTH) })
  return true
}

/** What one transaction changed on the board. */
export interface BoardChange {
  /** Cards added, removed or changed (read them again). */
  readonly cards: ReadonlySet<string>
  /** Of those, cards whose x or y changed on an existing card. */
  readonly moved: ReadonlySet<string>
  readonly hints: ReadonlySet<string>
  /** The layout map changed in the same transaction (a refit, when `refits` went up). */
  readonly layout: boolean
  /** This client made the change (a drag, a decision). */
  readonly local: boolean
}

/**
 * Call `listener` once after every transaction that touched the board or the edits, with what it
 * touched; returns an unsubscribe. Deep observers gather the card and hint ids (their events' paths
 * name the entry; a move in the edits names its card), and each document's `afterTransaction`,
 * which runs after them, hands over that transaction's whole change at once.
 */
export function observeBoard (board: Y.Doc, edits: Y.Doc, listener: (change: BoardChange) => void): () => void {
  const cards = cardsMap(board)
  const hints = hintsMap(board)
  const layout = layoutMap(board)
  const moves = movesMap(edits)
  const decisions = decisionsMap(edits)
  let pending: { cards: Set<string>, moved: Set<string>, hints: Set<string> } | undefined
  const gathered = (): { cards: Set<string>, moved: Set<string>, hints: Set<string> } => {
    pending ??= { cards: new Set(), moved: new Set(), hints: new Set() }
    return pending
  }
  const collect = (events: Array<Y.YEvent<Y.AbstractType<unknown>>>, changed: Set<string>, moved?: Set<string>): void => {
    for (const event of events) {
      const id = event.path[0]
      if (id === undefined) {
        // the top-level map itself: entries added, replaced or removed
        if (event instanceof Y.YMapEvent) for (const key of event.keysChanged) changed.add(key)
        continue
      }
      if (typeof id !== 'string') continue
      changed.add(id)
      if (moved !== undefined && event.path.length === 1 && event instanceof Y.YMapEvent &&
        (event.keysChanged.has('x') || event.keysChanged.has('y'))) moved.add(id)
    }
  }
  const onCards = (events: Array<Y.YEvent<Y.AbstractType<unknown>>>): void => {
    const into = gathered()
    collect(events, into.cards, into.moved)
  }
  const onMoves = (events: Array<Y.YEvent<Y.AbstractType<unknown>>>): void => {
    const into = gathered()
    const ids = new Set<string>()
    collect(events, ids)
    for (const id of ids) {
      into.cards.add(id)
      into.moved.add(id)
    }
  }
  const onHints = (events: Array<Y.YEvent<Y.AbstractType<unknown>>>): void => { collect(events, gathered().hints) }
  const onTransaction = (transaction: Y.Transaction): void => {
    const layoutChanged = transaction.doc === board && (transaction.changed as ReadonlyMap<unknown, unknown>).has(layout)
    const change = pending
    pending = undefined
    if (change === undefined && !layoutChanged) return
    listener({
      cards: change?.cards ?? new Set(),
      moved: change?.moved ?? new Set(),
      hints: change?.hints ?? new Set(),
      layout: layoutChanged,
      local: transaction.local,
    })
  }
  cards.observeDeep(onCards)
  hints.observeDeep(onHints)
  moves.observeDeep(onMoves)
  decisions.observeDeep(onHints)
  board.on('afterTransaction', onTransaction)
  edits.on('afterTransaction', onTransaction)
  return () => {
    cards.unobserveDeep(onCards)
    hints.unobserveDeep(onHints)
    moves.unobserveDeep(onMoves)
    decisions.unobserveDeep(onHints)
    board.off('afterTransaction', onTransaction)
    edits.off('afterTransaction', onTransaction)
  }
}
