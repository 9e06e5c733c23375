/**
 * Search on the canvas: cards whose text holds the query (case-insensitive) are marked, the others
 * dimmed, "n matches" is shown, and Enter goes to the next match (Shift+Enter: the one before),
 * in reading order (top to bottom, then left to right). Kept up to date as cards come and change.
 */
import type { CardLayer } from './cardLayer'
import type { Card } from './cards'

export interface SearchElements {
  readonly input: HTMLInputElement
  readonly count: HTMLElement
  /** The world element: it carries `cv-searching` while there is a query. */
  readonly world: HTMLElement
}

function key (text: string): string {
  return text.toLocaleLowerCase()
}

export class Search {
  private query = ''
  private readonly matches = new Set<string>()
  private current: string | undefined

  constructor (
    private readonly els: SearchElements,
    private readonly layer: CardLayer,
    private readonly cards: ReadonlyMap<string, Card>,
    /** Show a card (the camera goes there). */
    private readonly goTo: (card: Card) => void,
  ) {
    els.input.addEventListener('input', () => { this.setQuery(els.input.value) })
    els.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault()
        this.step(event.shiftKey ? -1 : 1)
      } else if (event.key === 'Escape') {
        els.input.value = ''
        this.setQuery('')
      }
    })
    this.show()
  }

  setQuery (text: string): void {
    const query = key(text.trim())
    if (query === this.query) return
    this.query = query
    this.setCurrent(undefined)
    this.refresh(this.cards.keys(), true)
  }

  /** Cards added, changed or removed: check them against the query again. */
  refresh (ids: Iterable<string>, all = false): void {
    if (all) {
      for (const id of this.matches) this.layer.mark(id, 'cv-match', false)
      this.matches.clear()
    }
    if (this.query !== '') {
      for (const id of ids) {
        const card = this.cards.get(id)
        const match = card !== undefined && key(card.text).includes(this.query)
        if (match) this.matches.add(id)
        else this.matches.delete(id)
        this.layer.mark(id, 'cv-match', match)
      }
    }
    if (this.current !== undefined && !this.matches.has(this.current)) this.setCurrent(undefined)
    this.show()
  }

  private show (): void {
    const searching = this.query !== ''
    this.els.world.classList.toggle('cv-searching', searching)
    const n = this.matches.size
    this.els.count.hidden = !searching
    this.els.count.dataset['count'] = String(n)
    this.els.count.textContent = !searching ? '' : n === 1 ? '1 match' : `${n} matches`
  }

  private step (direction: 1 | -1): void {
    if (this.matches.size === 0) return
    const order = [...this.matches]
      .map((id) => this.cards.get(id))
      .filter((card): card is Card => card !== undefined)
      .sort((a, b) => a.y - b.y || a.x - b.x)
    const at = this.current === undefined ? -1 : order.findIndex((card) => card.id === this.current)
    const next = order[at === -1 ? (direction === 1 ? 0 : order.length - 1) : (at + direction + order.length) % order.length]
    if (next === undefined) return
    this.setCurrent(next.id)
    this.goTo(next)
  }

  private setCurrent (id: string | undefined): void {
    if (this.current !== undefined) this.layer.mark(this.current, 'cv-current', false)
    this.current = id
    if (id !== undefined) this.layer.mark(id, 'cv-current', true)
  }
}
