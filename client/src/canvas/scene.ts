/**
 * The scene: the board's cards and hints as plain values (cards.ts), with the edits document's moves
 * and decisions laid over them, kept up to date from the documents' changes and handed to the layers at most once per animation frame. Only what changed
 * is read again and redrawn. It decides how a card's move is shown: not animated on the first
 * render or when this client moved it; a 400 ms glide when the server fitted the layout again (or
 * moved many cards at once); a short glide when someone else drags it.
 */
import type * as Y from 'yjs'
import type { CardLayer, Motion } from './cardLayer'
import {
  cardsMap, decisionsMap, hintsMap, movesMap, observeBoard, readCard, readDecision, readHint, readLayout, readMove,
  type BoardChange, type Card, type Hint, type LayoutInfo,
} from './cards'
import type { HintLayer } from './hintLayer'

/** A remote transaction moving at least this many cards is a re-layout, animated like a refit. */
const MANY_MOVES = 3
const REFIT_MS = 450

/** What one frame changed, after the layers were updated. */
export interface SceneFrame {
  /** Cards added, changed or removed. */
  readonly cards: ReadonlySet<string>
  /** Cards added, removed or whose text changed (what search and the hint list read). */
  readonly texts: ReadonlySet<string>
  /** Cards whose position changed (including added and removed ones). */
  readonly moved: ReadonlySet<string>
  readonly hints: ReadonlySet<string>
  /** The layout was fitted again in this frame. */
  readonly refit: boolean
}

export class Scene {
  readonly cards = new Map<string, Card>()
  readonly hints = new Map<string, Hint>()
  layout: LayoutInfo
  private readonly dirtyCards = new Set<string>()
  private readonly dirtyMoves = new Set<string>()
  private readonly dirtyHints = new Set<string>()
  private readonly motion = new Map<string, Motion>()
  private refitSeen = false
  private frame: number | undefined
  private live = false
  private readonly stop: () => void

  constructor (
    private readonly doc: Y.Doc,
    private readonly edits: Y.Doc,
    private readonly cardLayer: CardLayer,
    private readonly hintLayer: HintLayer,
    private readonly onFrame: (frame: SceneFrame) => void,
  ) {
    this.layout = readLayout(doc)
    this.stop = observeBoard(doc, edits, (change) => { this.take(change) })
  }

  /** Whether the first render was done (moves are animated from then on). */
  get rendered (): boolean { return this.live }

  /** Render what is pending now, without waiting for a frame (the first render after sync). */
  flush (): void {
    if (this.frame !== undefined) cancelAnimationFrame(this.frame)
    this.frame = undefined
    this.render()
    this.live = true
  }

  destroy (): void {
    this.stop()
    if (this.frame !== undefined) cancelAnimationFrame(this.frame)
  }

  private take (change: BoardChange): void {
    let refit = false
    if (change.layout) {
      const layout = readLayout(this.doc)
      refit = layout.refits !== this.layout.refits
      this.layout = layout
    }
    const remoteMoves = change.local ? 0 : change.moved.size
    const many = refit || remoteMoves >= MANY_MOVES
    for (const id of change.cards) this.dirtyCards.add(id)
    for (const id of change.moved) {
      this.dirtyMoves.add(id)
      if (!this.live || change.local) this.motion.set(id, 'none')
      else this.motion.set(id, many ? 'refit' : this.motion.get(id) === 'refit' ? 'refit' : 'glide')
    }
    for (const id of change.hints) this.dirtyHints.add(id)
    if (refit && this.live) this.refitSeen = true
    this.frame ??= requestAnimationFrame(() => {
      this.frame = undefined
      this.render()
    })
  }

  private render (): void {
    const cardIds = new Set(this.dirtyCards)
    const moved = new Set(this.dirtyMoves)
    const hintIds = new Set(this.dirtyHints)
    const motion = new Map(this.motion)
    const refit = this.refitSeen
    this.dirtyCards.clear()
    this.dirtyMoves.clear()
    this.dirtyHints.clear()
    this.motion.clear()
    this.refitSeen = false

    const cards = cardsMap(this.doc)
    const moves = movesMap(this.edits)
    const texts = new Set<string>()
    for (const id of cardIds) {
      const before = this.cards.get(id)
      const card = readCard(id, cards.get(id), readMove(id, moves.get(id)))
      if (card === undefined) this.cards.delete(id)
      else this.cards.set(id, card)
      if (before === undefined || card === undefined || before.x !== card.x || before.y !== card.y) moved.add(id)
      if (before === undefined || card === undefined || before.text !== card.text) {
        if (before !== undefined || card !== undefined) texts.add(id)
      }
    }
    const hints = hintsMap(this.doc)
    const decisions = decisionsMap(this.edits)
    for (const id of hintIds) {
      const hint = readHint(id, hints.get(id), readDecision(id, decisions.get(id)))
      if (hint === undefined) this.hints.delete(id)
      else this.hints.set(id, hint)
    }
    this.cardLayer.update(cardIds, this.cards, (id) => motion.get(id) ?? 'none')
    if (refit || [...motion.values()].includes('refit')) this.hintLayer.settle(REFIT_MS)
    this.hintLayer.update(hintIds, this.hints)
    this.hintLayer.cardsMoved(moved, hintIds)
    this.onFrame({ cards: cardIds, texts, moved, hints: hintIds, refit })
  }
}
