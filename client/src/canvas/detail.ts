/**
 * The card detail panel: what a card says, its kind, how many people used it and how often, who
 * (or "anonymous"), and the excerpts behind it, read from the server when the card is opened. What
 * the board already knows shows at once; the excerpts follow. Text only.
 */
import { errorMessage } from '../api'
import { element } from '../dom'
import { kindText } from './cardLayer'
import type { Card } from './cards'
import type { CardDetail, Excerpt, ExcerptSource } from './rest'

const SOURCE_TEXT: { readonly [S in ExcerptSource]: string } = {
  baseline: 'Baseline response',
  shared: 'Someone else’s conversation',
  own: 'Their own conversation',
}

export interface DetailElements {
  readonly panel: HTMLElement
  readonly title: HTMLElement
  readonly meta: HTMLElement
  readonly authors: HTMLElement
  readonly excerpts: HTMLElement
  readonly status: HTMLElement
  readonly close: HTMLButtonElement
}

function plural (n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`
}

export class DetailPanel {
  private open: string | undefined
  private asked = 0

  constructor (
    private readonly els: DetailElements,
    private readonly load: (card: string) => Promise<CardDetail>,
    /** The canvas keeps authors anonymous. */
    private readonly anonymous: boolean,
    private readonly onClose: () => void,
  ) {
    els.close.addEventListener('click', () => { this.close() })
  }

  get cardId (): string | undefined { return this.open }

  /** Open `card`: what the board says now, then the server's detail with its excerpts. */
  show (card: Card): void {
    this.open = card.id
    const ask = ++this.asked
    const els = this.els
    els.panel.hidden = false
    els.panel.dataset['cardId'] = card.id
    els.panel.dataset['state'] = 'loading'
    this.showCard(card.text, card.kind, card.uses, card.people, card.authors)
    els.excerpts.replaceChildren()
    els.status.textContent = 'Loading the excerpts…'
    this.load(card.id).then((detail) => {
      if (ask !== this.asked) return
      this.showCard(detail.text, detail.kind, detail.uses, detail.people, detail.authors)
      this.showExcerpts(detail.excerpts, detail.private_excerpts)
      els.panel.dataset['state'] = 'loaded'
    }, (error: unknown) => {
      if (ask !== this.asked) return
      els.panel.dataset['state'] = 'error'
      els.status.textContent = `The excerpts could not be loaded: ${errorMessage(error)}`
    })
  }

  /** The open card changed on the board (or went). */
  changed (card: Card | undefined): void {
    if (this.open === undefined) return
    if (card === undefined) {
      this.els.status.textContent = 'This card is no longer on the board.'
      return
    }
    this.showCard(card.text, card.kind, card.uses, card.people, this.anonymous ? [] : card.authors)
  }

  close (): void {
    if (this.open === undefined) return
    this.open = undefined
    this.asked++
    this.els.panel.hidden = true
    delete this.els.panel.dataset['cardId']
    this.onClose()
  }

  private showCard (text: string, kind: Card['kind'], uses: number, people: number, authors: readonly string[]): void {
    const els = this.els
    els.title.textContent = text
    els.meta.textContent = `${kindText(kind)} · used ${plural(uses, 'time', 'times')} by ${plural(people, 'person', 'people')}`
    els.authors.textContent = authors.length > 0 ? `By ${authors.join(', ')}` : 'Anonymous'
    els.authors.dataset['anonymous'] = String(authors.length === 0)
  }

  private showExcerpts (excerpts: readonly Excerpt[], hidden: number): void {
    const els = this.els
    const more = typeof hidden === 'number' && hidden > 0
      ? `${plural(hidden, 'excerpt is', 'excerpts are')} from conversations not shared with the group.`
      : ''
    els.status.textContent = excerpts.length > 0 ? more
      : more !== '' ? `No excerpts you can read: ${more.charAt(0).toLowerCase()}${more.slice(1)}`
        : 'No excerpts behind this card (it was written on the canvas).'
    els.excerpts.replaceChildren(...excerpts.map((excerpt) => {
      const item = element('li', { class: 'cv-excerpt', 'data-testid': 'excerpt', 'data-source': excerpt.source })
      const quote = element('blockquote', { class: 'cv-excerpt-quote' }, excerpt.quote)
      const source = element('p', { class: 'cv-excerpt-source hint' }, SOURCE_TEXT[excerpt.source] ?? 'An excerpt')
      item.append(quote, source)
      if (typeof excerpt.prompt === 'string' && excerpt.prompt !== '') {
        item.append(element('p', { class: 'cv-excerpt-prompt hint' }, `Asked: ${excerpt.prompt}`))
      }
      return item
    }))
  }
}
