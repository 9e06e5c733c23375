/**
 * Codes as chips: a list to read (value codes, structural labels, the participant's own, the
 * facilitator's examples) and an input where the participant adds their own codes one by one
 * (Enter or Add; × removes one). Text only.
 */
import { element } from '../dom'

export type ChipKind = 'value' | 'structure' | 'mine' | 'example' | 'plain'

/** A list of codes as chips. */
export function chipList (codes: readonly string[], kind: ChipKind, testid: string): HTMLElement {
  const list = element('ul', { class: `chips chips-${kind}`, 'data-testid': testid })
  list.append(...codes.map((code) => element('li', { class: `chip chip-${kind}`, 'data-testid': 'chip' }, code)))
  if (codes.length === 0) list.append(element('li', { class: 'chips-empty muted' }, 'None'))
  return list
}

/** The server's limits on a practice answer (schemas.PracticeAnswerIn). */
export const MAX_CODES = 20
export const MAX_CODE_LENGTH = 200

export class ChipInput {
  readonly el: HTMLElement
  private readonly codes: string[] = []
  private readonly list: HTMLElement
  private readonly input: HTMLInputElement
  private readonly add: HTMLButtonElement
  private readonly note: HTMLElement

  constructor (label: string, private readonly onChange: () => void) {
    this.el = element('div', { class: 'chip-input', 'data-testid': 'code-input' })
    const id = `code-${Math.random().toString(36).slice(2, 10)}`
    const labelEl = element('label', { for: id, class: 'chip-input-label' }, label)
    this.list = element('ul', { class: 'chips chips-mine', 'data-testid': 'my-draft-codes', 'aria-live': 'polite' })
    const row = element('div', { class: 'chip-input-row' })
    this.input = element('input', {
      id, type: 'text', maxlength: String(MAX_CODE_LENGTH), autocomplete: 'off', enterkeyhint: 'done',
      placeholder: 'Type a code, then Enter', 'data-testid': 'code-text',
    })
    this.add = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'add-code' }, 'Add')
    this.note = element('p', { class: 'hint', 'aria-live': 'polite' })
    row.append(this.input, this.add)
    this.el.append(labelEl, this.list, row, this.note)
    this.input.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter' || event.isComposing) return
      event.preventDefault()
      this.addTyped()
    })
    this.input.addEventListener('input', () => { this.onChange() })
    this.add.addEventListener('click', () => {
      this.addTyped()
      this.input.focus()
    })
  }

  /** The codes added, and what is still typed in the box (a code not yet added counts too). */
  value (): string[] {
    const typed = this.input.value.trim()
    return typed === '' || this.has(typed) ? [...this.codes] : [...this.codes, typed]
  }

  /** Whether the codes can be sent. */
  get ready (): boolean {
    const codes = this.value()
    return codes.length > 0 && codes.length <= MAX_CODES
  }

  set disabled (disabled: boolean) {
    this.input.disabled = disabled
    this.add.disabled = disabled
    for (const button of this.list.querySelectorAll('button')) button.disabled = disabled
  }

  focus (): void {
    this.input.focus()
  }

  private has (code: string): boolean {
    return this.codes.some((c) => c.toLowerCase() === code.toLowerCase())
  }

  private addTyped (): void {
    const code = this.input.value.trim().replace(/\s+/g, ' ')
    this.note.textContent = ''
    if (code === '') return
    if (this.has(code)) {
      this.note.textContent = `"${code}" is there already.`
    } else if (this.codes.length >= MAX_CODES) {
      this.note.textContent = `At most ${MAX_CODES} codes.`
      return
    } else {
      this.codes.push(code)
    }
    this.input.value = ''
    this.render()
    this.onChange()
  }

  private remove (code: string): void {
    const at = this.codes.indexOf(code)
    if (at >= 0) this.codes.splice(at, 1)
    this.render()
    this.onChange()
    this.input.focus()
  }

  private render (): void {
    this.list.replaceChildren(...this.codes.map((code) => {
      const chip = element('li', { class: 'chip chip-mine', 'data-testid': 'chip' })
      const remove = element('button', {
        type: 'button', class: 'chip-remove', 'aria-label': `Remove the code ${code}`, title: 'Remove',
      }, '×')
      remove.addEventListener('click', () => { this.remove(code) })
      chip.append(element('span', { class: 'chip-text' }, code), remove)
      return chip
    }))
  }
}
