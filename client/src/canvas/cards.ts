/**
 * Typed access to a study board room's Yjs document (shared_schema/board.json, version 2): the
 * `cards` and `hints` maps and the `layout` map, read into plain values; the two writes a client may
 * make (moving a card, deciding a hint); and change notifications that name only what changed.
 * Remote content is untrusted: entries that do not fit the schema are skipped, strings are cut to
 * their limits, and text is only ever shown as text.
 */
import * as Y from 'yjs'

export const CARDS_KEY = 'cards'
export const HINTS_KEY = 'hints'
export const LAYOUT_KEY = 'layout'

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

/** One entry of `cards` as a Card, or undefined when it does not fit (no text, no position…). */
export function readCard (id: string, entry: unknown): Card | undefined {
  if (!(entry instanceof Y.Map)) return undefined
  const map = entry as Entry
  const text: unknown = map.get('text')
  const kind: unknown = map.get('kind')
  const x = coordinate(map.get('x'))
  const y = coordinate(map.get('y'))
  if (typeof text !== 'string' || text.trim() === '' || x === undefined || y === undefined) return undefined
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
    pinned: map.get('pinned') === true,
    movedBy: name(map.get('movedBy')),
    placedAt: typeof placedAt === 'number' && Number.isFinite(placedAt) ? placedAt : 0,
  }
}

export function readHint (id: string, entry: unknown): Hint | undefined {
  if (!(entry instanceof Y.Map)) return undefined
  const map = entry as Entry
  const kind: unknown = map.get('kind')
  const status: unknown = map.get('status')
  const similarity: unknown = map.get('similarity')
  const cards = strings(map.get('cards'), MAX_HINT_CARDS, 64)
  if (kind !== 'group' && kind !== 'duplicate') return undefined
  if (cards.length < 2) return undefined
  return {
    id,
    kind,
    cards,
    similarity: typeof similarity === 'number' && Number.isFinite(similarity) ? similarity : 0,
    status: status === 'accepted' || status === 'dismissed' ? status : 'open',
    decidedBy: name(map.get('decidedBy')),
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

export function readCards (doc: Y.Doc): Map<string, Card> {
  const cards = new Map<string, Card>()
  cardsMap(doc).forEach((entry, id) => {
    const card = readCard(id, entry)
    if (card !== undefined) cards.set(id, card)
  })
  return cards
}

export function readHints (doc: Y.Doc): Map<string, Hint> {
  const hints = new Map<string, Hint>()
  hintsMap(doc).forEach((entry, id) => {
    const hint = readHint(id, entry)
    if (hint !== undefined) hints.set(id, hint)
  })
  return hints
}

/**
 * A person moved a card: x, y, pinned and movedBy in one transaction (all a client may write of a
 * card). Positions are rounded to a tenth of a unit. Returns false when the card is gone.
 */
export function moveCard (doc: Y.Doc, id: string, x: number, y: number, by: string): boolean {
  const entry = cardsMap(doc).get(id)
  if (!(entry instanceof Y.Map)) return false
  const map = entry as Entry
  const round = (v: number): number => Math.round(Math.max(-MAX_COORDINATE, Math.min(MAX_COORDINATE, v)) * 10) / 10
  doc.transact(() => {
    map.set('x', round(x))
    map.set('y', round(y))
    if (map.get('pinned') !== true) map.set('pinned', true)
    if (map.get('movedBy') !== by) map.set('movedBy', by.slice(0, MAX_NAME_LENGTH))
  })
  return true
}

/** Accept or dismiss a hint (or open it again): status and decidedBy. Nothing is ever merged. */
export function decideHint (doc: Y.Doc, id: string, status: HintStatus, by: string): boolean {
  const entry = hintsMap(doc).get(id)
  if (!(entry instanceof Y.Map)) return false
  const map = entry as Entry
  doc.transact(() => {
    map.set('status', status)
    map.set('decidedBy', status === 'open' ? '' : by.slice(0, MAX_NAME_LENGTH))
  })
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
 * Call `listener` once after every transaction that touched the board, with what it touched;
 * returns an unsubscribe. Deep observers gather the card and hint ids (their events' paths name
 * the entry), and `afterTransaction`, which runs after them, hands over the whole change at once.
 */
export function observeBoard (doc: Y.Doc, listener: (change: BoardChange) => void): () => void {
  const cards = cardsMap(doc)
  const hints = hintsMap(doc)
  const layout = layoutMap(doc)
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
  const onHints = (events: Array<Y.YEvent<Y.AbstractType<unknown>>>): void => { collect(events, gathered().hints) }
  const onTransaction = (transaction: Y.Transaction): void => {
    const layoutChanged = (transaction.changed as ReadonlyMap<unknown, unknown>).has(layout)
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
  doc.on('afterTransaction', onTransaction)
  return () => {
    cards.unobserveDeep(onCards)
    hints.unobserveDeep(onHints)
    doc.off('afterTransaction', onTransaction)
  }
}
