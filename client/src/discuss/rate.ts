/**
 * Segment 5, individual ratings: for every active group attribute, its definition as the group left
 * it and a 5-point agreement scale (radio buttons), then a ranking of them all; private until the
 * session closes (PUT …/discuss/ratings). Rows are kept by attribute, so a late edit of a
 * definition updates its text without losing what was picked.
 */
import { errorMessage } from '../api'
import { element, whileBusy } from '../dom'
import { definitionText, type BoardAttribute } from './board'
import { OrderedPicker, orderedChoice } from './ranking'
import type { DiscussApi, DiscussState } from './rest'

export const LIKERT: ReadonlyArray<{ readonly value: number, readonly label: string }> = [
  { value: 1, label: 'Strongly disagree' },
  { value: 2, label: 'Disagree' },
  { value: 3, label: 'Neither' },
  { value: 4, label: 'Agree' },
  { value: 5, label: 'Strongly agree' },
]

class LikertRow {
  readonly el: HTMLElement
  private readonly name = element('h4', { 'data-testid': 'rate-name' })
  private readonly definition = element('p', { class: 'ds-rate-definition', 'data-testid': 'rate-definition' })
  private readonly radios: HTMLInputElement[] = []

  constructor (readonly id: string) {
    this.el = element('li', { class: 'card ds-rate-row', 'data-testid': 'rate-row', 'data-attribute-id': id })
    const scale = element('fieldset', { class: 'ds-likert', 'data-testid': 'likert' })
    const legend = element('legend', { class: 'visually-hidden' })
    scale.append(legend)
    for (const point of LIKERT) {
      const input = element('input', { type: 'radio', name: `likert-${id}`, value: String(point.value), 'data-testid': 'likert-option', 'data-value': String(point.value) })
      const label = element('label', { class: 'ds-likert-point' })
      label.append(input, element('span', {}, point.label))
      scale.append(label)
      this.radios.push(input)
    }
    this.el.append(this.name, this.definition, scale)
  }

  update (attribute: BoardAttribute): void {
    this.name.textContent = attribute.name
    const text = definitionText(attribute).trim()
    this.definition.textContent = text !== '' ? text : '(no definition)'
    const legend = this.el.querySelector('legend')
    if (legend !== null) legend.textContent = `How much do you agree with the definition of ${attribute.name}?`
  }

  get value (): number | undefined {
    const checked = this.radios.find((r) => r.checked)
    return checked === undefined ? undefined : Number(checked.value)
  }

  set value (v: number | undefined) {
    for (const radio of this.radios) radio.checked = radio.value === String(v)
  }

  set disabled (on: boolean) {
    for (const radio of this.radios) radio.disabled = on
  }
}

export class RatePanel {
  readonly el = element('div', { class: 'ds-rate', 'data-testid': 'rate' })
  private readonly form = element('form', { 'data-testid': 'rate-form', novalidate: '' })
  private readonly rows = element('ol', { class: 'ds-rate-rows' })
  private readonly pickerSlot = element('div', { class: 'card' })
  private readonly submit = element('button', { type: 'submit', 'data-testid': 'rate-submit' }, 'Submit my ratings')
  private readonly status = element('p', { class: 'saved', role: 'status', 'aria-live': 'polite', 'data-testid': 'rate-status' })
  private readonly error = element('p', { class: 'error', role: 'alert', 'data-testid': 'rate-error' })
  private readonly count = element('p', { class: 'ds-count', 'data-testid': 'ratings-count' })
  private readonly note = element('p', { class: 'hint', 'data-testid': 'rate-readonly' }, 'Participants rate each definition privately here.')
  private readonly byId = new Map<string, LikertRow>()
  private picker: OrderedPicker | undefined
  private active: readonly BoardAttribute[] = []
  private filled = false
  private participant = false

  constructor (private readonly api: DiscussApi, private readonly onSaved: () => void) {
    this.form.append(element('p', { class: 'hint' }, 'How much do you agree with each definition? Your answers stay private until the session closes.'),
      this.rows, this.pickerSlot, this.submit, this.status, this.error)
    this.form.addEventListener('submit', (event) => {
      event.preventDefault()
      void whileBusy(this.submit, 'Submitting…', async () => { await this.save() })
    })
    this.el.append(this.count, this.note, this.form)
  }

  /** The board's attributes changed. */
  setAttributes (attributes: readonly BoardAttribute[]): void {
    const active = attributes.filter((a) => a.status === 'active').sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))
    const sameSet = active.length === this.active.length && active.every((a, i) => a.id === this.active[i]?.id)
    this.active = active
    for (const attribute of active) {
      let row = this.byId.get(attribute.id)
      if (row === undefined) {
        row = new LikertRow(attribute.id)
        this.byId.set(attribute.id, row)
      }
      row.update(attribute)
    }
    if (!sameSet) {
      for (const id of this.byId.keys()) if (!active.some((a) => a.id === id)) this.byId.delete(id)
      this.rows.replaceChildren(...active.map((a) => this.byId.get(a.id)?.el).filter((el): el is HTMLElement => el !== undefined))
      const kept = this.picker?.values ?? []
      this.picker = new OrderedPicker(active.length, 'Rank them all, best first', 'rate-ranking')
      this.picker.setCandidates(active.map((a) => ({ id: a.id, name: a.name })))
      this.picker.set(kept)
      this.pickerSlot.replaceChildren(this.picker.el)
    } else {
      this.picker?.setCandidates(active.map((a) => ({ id: a.id, name: a.name })))
    }
    this.rows.hidden = active.length === 0
  }

  update (state: DiscussState): void {
    this.participant = state.role === 'participant' && state.can_write
    this.form.hidden = !this.participant || state.segment !== 'rate'
    this.note.hidden = this.participant
    const mine = state.mine?.ratings ?? null
    if (!this.filled && mine !== null) {
      for (const [id, value] of Object.entries(mine.likert)) {
        const row = this.byId.get(id)
        if (row !== undefined) row.value = value
      }
      this.picker?.set(mine.ranking)
      this.filled = true
    }
    if (mine !== null) this.status.textContent = 'Your ratings are in. You can change them until the session closes.'
    this.el.dataset['submitted'] = String(mine !== null)
    this.count.textContent = `${state.ratings_submitted} of ${state.participants} ${state.participants === 1 ? 'participant has' : 'participants have'} rated.`
  }

  private async save (): Promise<void> {
    const likert: Record<string, number> = {}
    for (const attribute of this.active) {
      const value = this.byId.get(attribute.id)?.value
      if (value === undefined) {
        this.error.textContent = `Rate every definition (“${attribute.name}” is not rated yet).`
        return
      }
      likert[attribute.id] = value
    }
    const ranking = orderedChoice(this.picker?.values ?? [])
    if (ranking === undefined || ranking.length !== this.active.length) {
      this.error.textContent = 'Rank every attribute, each once.'
      return
    }
    try {
      await this.api.putRatings({ likert, ranking })
      this.error.textContent = ''
      this.status.textContent = 'Your ratings are in. You can change them until the session closes.'
      this.onSaved()
    } catch (error) {
      this.error.textContent = errorMessage(error)
    }
  }
}
