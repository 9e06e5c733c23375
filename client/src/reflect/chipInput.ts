/**
 * Codes as chips: type a code and press Enter (or pick one of your own earlier codes from the
 * suggestions) to add it; × removes it. A code is one chip, whatever it contains (commas and
 * semicolons included): nothing is split. Suggestions come only from the participant's own codes.
 */
import { element } from '../dom'
import { normalLabel, sameLabel } from './project'

const MAX_SUGGESTIONS = 8
export const MAX_CODES = 20
export const MAX_LABEL = 200

let counter = 0

export interface ChipInputHandlers {
  /** The chips or the text being typed changed. */
  onChange: () => void
  /** Enter in an empty box: the participant is done. */
  onDone: () => void
}

export class ChipInput {
  readonly el: HTMLElement
  readonly input: HTMLInputElement
  private readonly list: HTMLUListElement
  private readonly suggestions: HTMLUListElement
  private readonly note: HTMLElement
  private chips: string[] = []
  private options: readonly string[] = []
  private shown: string[] = []
  private active = -1

  constructor (label: string, private readonly handlers: ChipInputHandlers) {
    counter += 1
    const inputId = `rf-code-input-${counter}`
    const listId = `rf-code-suggestions-${counter}`
    this.el = element('div', { class: 'rf-chip-input' })
    this.list = element('ul', { class: 'rf-chips', 'data-testid': 'chip-list', 'aria-label': 'Codes' })
    this.input = element('input', {
      id: inputId, type: 'text', 'data-testid': 'code-input', role: 'combobox', 'aria-autocomplete': 'list',
      'aria-expanded': 'false', 'aria-controls': listId, autocomplete: 'off', maxlength: String(MAX_LABEL),
      placeholder: 'Type a code and press Enter',
    })
    const add = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'add-code' }, 'Add')
    this.suggestions = element('ul', { id: listId, class: 'rf-suggestions', role: 'listbox', 'data-testid': 'code-suggestions' })
    this.suggestions.hidden = true
    this.note = element('p', { class: 'hint rf-chip-note', 'aria-live': 'polite' })
    const row = element('div', { class: 'rf-chip-row' })
    row.append(this.input, add)
    const field = element('div', { class: 'rf-combo' })
    field.append(row, this.suggestions)
    this.el.append(element('label', { for: inputId, class: 'rf-field-label' }, label), this.list, field, this.note)

    add.addEventListener('click', () => {
      this.commitTyped()
      this.input.focus()
    })
    this.input.addEventListener('input', () => {
      this.active = -1
      this.suggest()
      this.handlers.onChange()
    })
    this.input.addEventListener('focus', () => { this.suggest() })
    this.input.addEventListener('blur', () => { this.hideSuggestions() })
    this.input.addEventListener('keydown', (event) => { this.key(event) })
  }

  /** The participant's own codes, offered as they type. */
  setOptions (labels: readonly string[]): void {
    this.options = labels
    if (document.activeElement === this.input) this.suggest()
  }

  get value (): readonly string[] {
    return this.chips
  }

  /** The text typed but not yet added as a chip. */
  get typed (): string {
    return this.input.value
  }

  set (chips: readonly string[], typed = ''): void {
    this.chips = []
    for (const chip of chips) this.push(chip)
    this.input.value = typed
    this.note.textContent = ''
    this.render()
  }

  /** Add what is typed as a chip (if anything); false when it could not be added. */
  commitTyped (): boolean {
    const label = normalLabel(this.input.value)
    if (label === '') return true
    if (!this.push(label)) return false
    this.input.value = ''
    this.active = -1
    this.render()
    this.suggest()
    this.handlers.onChange()
    return true
  }

  private push (raw: string): boolean {
    const label = normalLabel(raw)
    if (label === '') return false
    if (this.chips.some((c) => sameLabel(c, label))) {
      this.note.textContent = `“${label}” is there already.`
      return true
    }
    if (this.chips.length >= MAX_CODES) {
      this.note.textContent = `At most ${MAX_CODES} codes on one passage.`
      return false
    }
    this.note.textContent = ''
    this.chips.push(label.slice(0, MAX_LABEL))
    return true
  }

  private remove (index: number): void {
    this.chips.splice(index, 1)
    this.render()
    this.handlers.onChange()
    this.input.focus()
  }

  private render (): void {
    this.list.replaceChildren(...this.chips.map((label, index) => {
      const chip = element('li', { class: 'rf-chip', 'data-testid': 'chip', 'data-label': label })
      const remove = element('button', {
        type: 'button', class: 'rf-chip-remove', 'aria-label': `Remove ${label}`, 'data-testid': 'chip-remove',
      }, '×')
      remove.addEventListener('click', () => { this.remove(index) })
      chip.append(element('span', {}, label), remove)
      return chip
    }))
  }

  private suggest (): void {
    const typed = normalLabel(this.input.value).toLowerCase()
    const unused = this.options.filter((o) => !this.chips.some((c) => sameLabel(c, o)))
    const matches = typed === ''
      ? unused
      : [
          ...unused.filter((o) => o.toLowerCase().startsWith(typed)),
          ...unused.filter((o) => !o.toLowerCase().startsWith(typed) && o.toLowerCase().includes(typed)),
        ]
    this.shown = matches.slice(0, MAX_SUGGESTIONS)
    if (this.shown.length === 0 || (this.shown.length === 1 && this.shown[0]?.toLowerCase() === typed)) {
      this.hideSuggestions()
      return
    }
    this.suggestions.replaceChildren(...this.shown.map((label, index) => {
      const option = element('li', {
        role: 'option', class: 'rf-suggestion', 'data-testid': 'code-suggestion', id: `${this.suggestions.id}-${index}`,
        'aria-selected': index === this.active ? 'true' : 'false',
      }, label)
      option.addEventListener('mousedown', (event) => { event.preventDefault() }) // keep the focus in the box
      option.addEventListener('click', () => { this.pick(label) })
      return option
    }))
    this.suggestions.hidden = false
    this.input.setAttribute('aria-expanded', 'true')
    if (this.active >= 0) this.input.setAttribute('aria-activedescendant', `${this.suggestions.id}-${this.active}`)
    else this.input.removeAttribute('aria-activedescendant')
  }

  private hideSuggestions (): void {
    this.suggestions.hidden = true
    this.input.setAttribute('aria-expanded', 'false')
    this.input.removeAttribute('aria-activedescendant')
    this.active = -1
  }

  private pick (label: string): void {
    if (this.push(label)) {
      this.input.value = ''
      this.active = -1
      this.render()
      this.handlers.onChange()
    }
    this.suggest()
  }

  private key (event: KeyboardEvent): void {
    const open = !this.suggestions.hidden && this.shown.length > 0
    if (event.key === 'ArrowDown' && open) {
      event.preventDefault()
      this.active = (this.active + 1) % this.shown.length
      this.suggest()
    } else if (event.key === 'ArrowUp' && open) {
      event.preventDefault()
      this.active = this.active <= 0 ? this.shown.length - 1 : this.active - 1
      this.suggest()
    } else if (event.key === 'Escape' && open) {
      event.preventDefault()
      event.stopPropagation()
      this.hideSuggestions()
    } else if (event.key === 'Enter') {
      const chosen = open && this.active >= 0 ? this.shown[this.active] : undefined
      if (chosen !== undefined) {
        event.preventDefault()
        this.pick(chosen)
      } else if (normalLabel(this.input.value) !== '') {
        event.preventDefault()
        this.commitTyped()
      } else {
        event.preventDefault()
        this.handlers.onDone()
      }
    } else if (event.key === 'Backspace' && this.input.value === '' && this.chips.length > 0) {
      this.chips.pop()
      this.render()
      this.handlers.onChange()
    }
  }
}
