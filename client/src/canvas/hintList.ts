/**
 * The hints beside the canvas: a list of the server's suggestions (likely duplicates, possible
 * groups) with their status, open ones first, and the selected hint's decision — Accept or
 * Dismiss (or Reopen), which write the hint's status and who decided. Nothing is merged: a hint
 * only ever draws an outline. "Show dismissed" brings dismissed hints back to the list and the
 * canvas.
 */
import { element } from '../dom'
import type { Card, Hint, HintStatus } from './cards'

export interface HintListElements {
  readonly list: HTMLElement
  readonly empty: HTMLElement
  readonly showDismissed: HTMLInputElement
  readonly detail: HTMLElement
}

export interface HintListHandlers {
  /** A hint was picked in the list or on the canvas (undefined: none). */
  readonly onSelect: (hint: Hint | undefined) => void
  readonly onDecide: (hint: Hint, status: HintStatus) => void
  readonly onShowDismissed: (on: boolean) => void
  /** Show the hint's cards on the canvas. */
  readonly onShow: (hint: Hint) => void
}

const STATUS_ORDER: { readonly [S in HintStatus]: number } = { open: 0, accepted: 1, dismissed: 2 }
const SHOWN_CARDS = 4

function quoted (texts: readonly string[]): string {
  const shown = texts.slice(0, SHOWN_CARDS).map((t) => `“${t.length > 60 ? `${t.slice(0, 59)}…` : t}”`)
  const more = texts.length - shown.length
  if (more > 0) return `${shown.join(', ')} and ${more} more`
  if (shown.length <= 1) return shown.join('')
  return `${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1] ?? ''}`
}

function statusText (hint: Hint): string {
  if (hint.status === 'open') return 'Open'
  const verb = hint.status === 'accepted' ? 'Accepted' : 'Dismissed'
  return hint.decidedBy !== '' ? `${verb} by ${hint.decidedBy}` : verb
}

export class HintList {
  private selected: string | undefined
  private showDismissed = false

  constructor (
    private readonly els: HintListElements,
    private readonly hints: ReadonlyMap<string, Hint>,
    private readonly cards: ReadonlyMap<string, Card>,
    private readonly canDecide: boolean,
    private readonly handlers: HintListHandlers,
  ) {
    els.showDismissed.addEventListener('change', () => {
      this.showDismissed = els.showDismissed.checked
      handlers.onShowDismissed(this.showDismissed)
      this.render()
    })
  }

  get selectedId (): string | undefined { return this.selected }

  select (id: string | undefined): void {
    this.selected = id
    this.handlers.onSelect(id === undefined ? undefined : this.hints.get(id))
    this.render()
  }

  /** Texts of a hint's cards that are on the board. */
  texts (hint: Hint): string[] {
    return hint.cards.map((id) => this.cards.get(id)?.text).filter((t): t is string => t !== undefined)
  }

  summary (hint: Hint): string {
    const texts = this.texts(hint)
    return hint.kind === 'duplicate' ? `Maybe the same: ${quoted(texts)}` : `Maybe a group: ${quoted(texts)}`
  }

  /** Redraw the list and the selected hint's decision (a few dozen hints at most: all of it). */
  render (): void {
    const shown = [...this.hints.values()]
      .filter((h) => this.showDismissed || h.status !== 'dismissed')
      .filter((h) => this.texts(h).length >= 2)
      .sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || b.similarity - a.similarity || a.id.localeCompare(b.id))
    this.els.list.replaceChildren(...shown.map((hint) => this.item(hint)))
    this.els.empty.hidden = shown.length > 0
    const selected = this.selected === undefined ? undefined : this.hints.get(this.selected)
    if (this.selected !== undefined && (selected === undefined || (selected.status === 'dismissed' && !this.showDismissed))) {
      // it went (or was dismissed, here or elsewhere): nothing is selected any more
      this.selected = undefined
      this.handlers.onSelect(undefined)
    }
    this.renderDetail(this.selected === undefined ? undefined : this.hints.get(this.selected))
  }

  private item (hint: Hint): HTMLElement {
    const li = element('li', { class: `cv-hint-item cv-hint-item-${hint.status}` })
    const button = element('button', {
      type: 'button',
      class: 'cv-hint-pick',
      'data-testid': 'hint-item',
      'data-hint-id': hint.id,
      'data-status': hint.status,
      'aria-pressed': String(hint.id === this.selected),
    })
    button.append(
      element('span', { class: 'cv-hint-summary' }, this.summary(hint)),
      element('span', { class: 'cv-hint-status hint' }, `${statusText(hint)} · ${Math.round(hint.similarity * 100)}% alike`),
    )
    button.addEventListener('click', () => {
      this.select(hint.id === this.selected ? undefined : hint.id)
      if (this.selected !== undefined) this.handlers.onShow(hint)
    })
    li.append(button)
    return li
  }

  private renderDetail (hint: Hint | undefined): void {
    const box = this.els.detail
    box.hidden = hint === undefined
    if (hint === undefined) {
      box.replaceChildren()
      delete box.dataset['hintId']
      return
    }
    box.dataset['hintId'] = hint.id
    box.dataset['status'] = hint.status
    const title = hint.kind === 'duplicate' ? 'These labels may mean the same' : 'These labels may belong together'
    const list = element('ul', { class: 'cv-hint-cards' })
    list.append(...this.texts(hint).map((t) => element('li', {}, t)))
    const note = element('p', { class: 'hint' },
      'A suggestion from the similarity of the labels. Accepting draws a solid outline; nothing is merged.')
    box.replaceChildren(element('h3', {}, title), list, element('p', { class: 'hint' }, statusText(hint)), note)
    if (!this.canDecide) return
    const actions = element('div', { class: 'cv-hint-actions' })
    const button = (text: string, testid: string, status: HintStatus, cls: string): HTMLButtonElement => {
      const b = element('button', { type: 'button', class: `small ${cls}`, 'data-testid': testid }, text)
      b.addEventListener('click', () => { this.handlers.onDecide(hint, status) })
      return b
    }
    if (hint.status !== 'accepted') actions.append(button('Accept', 'hint-accept', 'accepted', ''))
    if (hint.status !== 'dismissed') actions.append(button('Dismiss', 'hint-dismiss', 'dismissed', 'secondary'))
    if (hint.status !== 'open') actions.append(button('Reopen', 'hint-reopen', 'open', 'secondary'))
    box.append(actions)
  }
}
