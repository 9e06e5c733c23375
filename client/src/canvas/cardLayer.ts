/**
 * The cards on the canvas as DOM: one absolutely positioned element per card inside the world
 * element, placed with `transform: translate(x, y)` in canvas units, text only (textContent), the
 * text cut to two lines by CSS, a badge with how many people used it, and the kind as a colour.
 * Updates are incremental: only the cards named are touched. A card a person is dragging here is
 * "held": the layer shows where the pointer put it, whatever the document says meanwhile.
 *
 * Moves from elsewhere can be animated: `refit` (the server fitted the layout again: a 400 ms
 * glide) or `glide` (someone else is dragging it: a short linear step between their updates).
 * The element carries `data-x`/`data-y`: the card's position in the document.
 */
import type { Card, CardKind } from './cards'
import type { Point } from './viewport'

export type Motion = 'none' | 'glide' | 'refit'

const KIND_TEXT: { readonly [K in CardKind]: string } = {
  code: 'Reflect code',
  top3: 'Top 3',
  attribute: 'Group attribute',
  label: 'Canvas label',
}
const REFIT_MS = 450
const GLIDE_MS = 150

interface CardNode {
  readonly el: HTMLElement
  readonly text: HTMLElement
  readonly badge: HTMLElement
  card: Card
  /** Where it is drawn (the document's position, or where a drag holds it). */
  shown: Point
}

export function kindText (kind: CardKind): string {
  return KIND_TEXT[kind]
}

export class CardLayer {
  readonly el: HTMLElement
  private readonly nodes = new Map<string, CardNode>()
  private readonly held = new Map<string, Point>()
  private readonly settling = new Map<string, ReturnType<typeof setTimeout>>()

  constructor (private readonly draggable: boolean) {
    this.el = document.createElement('div')
    this.el.className = 'cv-cards'
  }

  get size (): number { return this.nodes.size }

  has (id: string): boolean { return this.nodes.has(id) }

  /** Where the card is drawn now (held cards: where the drag has it). */
  position (id: string): Point | undefined {
    return this.nodes.get(id)?.shown
  }

  card (id: string): Card | undefined {
    return this.nodes.get(id)?.card
  }

  element (id: string): HTMLElement | undefined {
    return this.nodes.get(id)?.el
  }

  ids (): IterableIterator<string> { return this.nodes.keys() }

  /** The id of the card an event happened on, if any. */
  cardAt (target: EventTarget | null): string | undefined {
    if (!(target instanceof Element)) return undefined
    const el = target.closest<HTMLElement>('.cv-card')
    if (el === null || !this.el.contains(el)) return undefined
    return el.dataset['cardId']
  }

  /**
   * Add, change or remove the cards named in `ids` (undefined in `cards`: removed). New cards go
   * into one fragment, so a first render of hundreds of cards is one insertion.
   */
  update (ids: Iterable<string>, cards: ReadonlyMap<string, Card>, motion: (id: string) => Motion): void {
    let fragment: DocumentFragment | undefined
    for (const id of ids) {
      const card = cards.get(id)
      const node = this.nodes.get(id)
      if (card === undefined) {
        if (node !== undefined) this.remove(id, node)
        continue
      }
      if (node === undefined) {
        fragment ??= document.createDocumentFragment()
        fragment.append(this.create(card))
        continue
      }
      this.change(node, card, motion(id))
    }
    if (fragment !== undefined) this.el.append(fragment)
  }

  /** A drag here holds the card at `point` (drawn at once, without animation). */
  hold (id: string, point: Point): void {
    const node = this.nodes.get(id)
    if (node === undefined) return
    this.held.set(id, point)
    node.el.classList.add('cv-held')
    this.place(node, point, 'none')
  }

  /** The drag ended: the card goes back to following the document (which has its last position). */
  release (id: string): void {
    this.held.delete(id)
    const node = this.nodes.get(id)
    if (node === undefined) return
    node.el.classList.remove('cv-held')
    this.place(node, { x: node.card.x, y: node.card.y }, 'none')
  }

  isHeld (id: string): boolean { return this.held.has(id) }

  /** Mark a card (search matches, the selected card, a card just written). */
  mark (id: string, className: string, on: boolean): void {
    this.nodes.get(id)?.el.classList.toggle(className, on)
  }

  private create (card: Card): HTMLElement {
    const el = document.createElement('div')
    el.className = `cv-card cv-kind-${card.kind}`
    el.dataset['testid'] = 'card'
    el.dataset['cardId'] = card.id
    el.dataset['draggable'] = String(this.draggable)
    el.tabIndex = 0
    el.setAttribute('role', 'button')
    const text = document.createElement('span')
    text.className = 'cv-card-text'
    const badge = document.createElement('span')
    badge.className = 'cv-card-people'
    badge.setAttribute('aria-hidden', 'true')
    el.append(text, badge)
    const node: CardNode = { el, text, badge, card, shown: { x: card.x, y: card.y } }
    this.nodes.set(card.id, node)
    this.fill(node, card)
    this.place(node, node.shown, 'none')
    return el
  }

  private change (node: CardNode, card: Card, motion: Motion): void {
    const before = node.card
    node.card = card
    if (before.text !== card.text || before.kind !== card.kind || before.people !== card.people ||
      before.uses !== card.uses || before.movedBy !== card.movedBy) this.fill(node, card)
    node.el.dataset['x'] = String(card.x)
    node.el.dataset['y'] = String(card.y)
    if (this.held.has(card.id)) return
    if (before.x !== card.x || before.y !== card.y) this.place(node, { x: card.x, y: card.y }, motion)
  }

  private fill (node: CardNode, card: Card): void {
    const el = node.el
    if (!el.classList.contains(`cv-kind-${card.kind}`)) {
      for (const cls of [...el.classList]) if (cls.startsWith('cv-kind-')) el.classList.remove(cls)
      el.classList.add(`cv-kind-${card.kind}`)
    }
    el.dataset['kind'] = card.kind
    el.dataset['people'] = String(card.people)
    el.dataset['x'] = String(card.x)
    el.dataset['y'] = String(card.y)
    node.text.textContent = card.text
    node.badge.textContent = String(card.people)
    const people = card.people === 1 ? '1 person' : `${card.people} people`
    const moved = card.movedBy !== '' ? ` · moved by ${card.movedBy}` : ''
    el.title = `${card.text}\n${kindText(card.kind)} · used by ${people}${moved}`
    el.setAttribute('aria-label', `${card.text} (${kindText(card.kind)}, used by ${people})`)
  }

  private place (node: CardNode, point: Point, motion: Motion): void {
    node.shown = point
    const el = node.el
    const id = node.card.id
    const pending = this.settling.get(id)
    if (pending !== undefined) clearTimeout(pending)
    el.classList.toggle('cv-refit', motion === 'refit')
    el.classList.toggle('cv-glide', motion === 'glide')
    if (motion !== 'none') {
      this.settling.set(id, setTimeout(() => {
        this.settling.delete(id)
        el.classList.remove('cv-refit', 'cv-glide')
      }, motion === 'refit' ? REFIT_MS : GLIDE_MS))
    } else {
      this.settling.delete(id)
    }
    el.style.transform = `translate(${point.x}px, ${point.y}px) translate(-50%, -50%)`
  }

  private remove (id: string, node: CardNode): void {
    const pending = this.settling.get(id)
    if (pending !== undefined) clearTimeout(pending)
    this.settling.delete(id)
    this.held.delete(id)
    this.nodes.delete(id)
    node.el.remove()
  }
}
