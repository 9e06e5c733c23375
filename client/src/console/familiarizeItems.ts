/**
 * The editable lists of Familiarize: worked examples, practice items and check items (each check
 * item with its options). Each row keeps its item's id, which is how participants' answers are
 * kept: a new item gets a new id, an existing one keeps its own.
 */
import type { CheckItem, CheckOption, PracticeItem, WorkedExample } from './familiarizeApi'
import { codesOf, errorSlot, textArea, uid, type FieldSlots } from './formFields'
import { element } from '../dom'

interface Row<T> {
  readonly el: HTMLElement
  readonly id: string
  /** The item as sent, with its fields' problem slots registered under `path` (e.g. `familiarize.check.2`). */
  collect: (path: string, slots: FieldSlots) => T
}

const CODES_HINT = 'One code per line.'

function codesArea (label: string, codes: readonly string[], testid: string): ReturnType<typeof textArea> {
  return textArea(label, { value: codes.join('\n'), testid, hint: CODES_HINT, rows: 3 })
}

function rowShell (kind: string, id: string, testid: string, title: string, onRemove: () => void): { el: HTMLElement, body: HTMLElement } {
  const el = element('li', { class: 'item-row', 'data-testid': testid, 'data-item-id': id })
  const head = element('div', { class: 'item-head' })
  head.append(element('span', { class: 'item-title' }, title), element('code', { class: 'item-id', title: 'Participants’ answers are kept by this id' }, id))
  const remove = element('button', { type: 'button', class: 'secondary small danger', 'data-testid': 'remove-item' }, `Remove ${kind}`)
  remove.addEventListener('click', onRemove)
  head.append(remove)
  const body = element('div', { class: 'item-body' })
  el.append(head, body)
  return { el, body }
}

function exampleRow (item: WorkedExample, onRemove: () => void): Row<WorkedExample> {
  const { el, body } = rowShell('example', item.id, 'example-item', 'Worked example', onRemove)
  const prompt = textArea('Prompt', { value: item.prompt, testid: 'example-prompt', rows: 2 })
  const response = textArea('Response', { value: item.response, testid: 'example-response', rows: 3 })
  const values = codesArea('Value codes', item.value_codes, 'example-value-codes')
  const structural = codesArea('Structural codes (the contrast: not values)', item.structural_codes, 'example-structural-codes')
  const notes = textArea('Notes', { value: item.notes, testid: 'example-notes', rows: 2 })
  const codes = element('div', { class: 'two-fields' })
  codes.append(values.wrap, structural.wrap)
  body.append(prompt.wrap, response.wrap, codes, notes.wrap)
  const error = errorSlot()
  el.append(error)
  return {
    el,
    id: item.id,
    collect: (path, slots) => {
      slots.add(path, error)
      slots.add(`${path}.prompt`, prompt.error, prompt.control)
      slots.add(`${path}.response`, response.error, response.control)
      slots.add(`${path}.notes`, notes.error, notes.control)
      slots.add(`${path}.value_codes`, values.error, values.control)
      slots.add(`${path}.structural_codes`, structural.error, structural.control)
      return {
        id: item.id,
        prompt: prompt.control.value,
        response: response.control.value,
        notes: notes.control.value,
        value_codes: codesOf(values.control.value),
        structural_codes: codesOf(structural.control.value),
      }
    },
  }
}

function practiceRow (item: PracticeItem, onRemove: () => void): Row<PracticeItem> {
  const { el, body } = rowShell('item', item.id, 'practice-item', 'Practice item', onRemove)
  const prompt = textArea('Prompt', { value: item.prompt, testid: 'practice-prompt', rows: 2 })
  const response = textArea('Response to code', { value: item.response, testid: 'practice-response', rows: 3 })
  const codes = codesArea('Example codes (shown after the participant answers)', item.example_codes, 'practice-example-codes')
  const explanation = textArea('Explanation', { value: item.explanation, testid: 'practice-explanation', rows: 2 })
  body.append(prompt.wrap, response.wrap, codes.wrap, explanation.wrap)
  const error = errorSlot()
  el.append(error)
  return {
    el,
    id: item.id,
    collect: (path, slots) => {
      slots.add(path, error)
      slots.add(`${path}.prompt`, prompt.error, prompt.control)
      slots.add(`${path}.response`, response.error, response.control)
      slots.add(`${path}.example_codes`, codes.error, codes.control)
      slots.add(`${path}.explanation`, explanation.error, explanation.control)
      return {
        id: item.id,
        prompt: prompt.control.value,
        response: response.control.value,
        example_codes: codesOf(codes.control.value),
        explanation: explanation.control.value,
      }
    },
  }
}

interface OptionRow {
  readonly el: HTMLElement
  collect: (path: string, slots: FieldSlots) => CheckOption
}

function optionRow (option: CheckOption, onRemove: (row: OptionRow) => void): OptionRow {
  const el = element('li', { class: 'option-row', 'data-testid': 'check-option' })
  const codeId = uid('option-code')
  const code = element('input', { id: codeId, type: 'text', autocomplete: 'off', 'data-testid': 'option-code', maxlength: '200' })
  code.value = option.code
  const valueId = uid('option-value')
  const isValue = element('input', { id: valueId, type: 'checkbox', 'data-testid': 'option-is-value' })
  isValue.checked = option.is_value
  const valueLabel = element('label', { for: valueId, class: 'check-label' })
  valueLabel.append(isValue, document.createTextNode(' describes a value'))
  const remove = element('button', { type: 'button', class: 'secondary small danger', 'data-testid': 'remove-option' }, 'Remove')
  const error = errorSlot()
  el.append(element('label', { for: codeId, class: 'visually-hidden' }, 'Option'), code, valueLabel, remove, error)
  const row: OptionRow = {
    el,
    collect: (path, slots) => {
      slots.add(path, error, code)
      slots.add(`${path}.code`, error, code)
      return { code: code.value.trim(), is_value: isValue.checked }
    },
  }
  remove.setAttribute('aria-label', `Remove option ${option.code}`.trim())
  code.addEventListener('input', () => { remove.setAttribute('aria-label', `Remove option ${code.value}`.trim()) })
  remove.addEventListener('click', () => { onRemove(row) })
  return row
}

function checkRow (item: CheckItem, onRemove: () => void, onChange: () => void): Row<CheckItem> {
  const { el, body } = rowShell('item', item.id, 'check-item', 'Check item', onRemove)
  const excerpt = textArea('Excerpt', { value: item.excerpt, testid: 'check-excerpt', rows: 3 })
  const optionsWrap = element('div', { class: 'field' })
  const optionsTitle = element('p', { class: 'field-title', id: uid('options-title') }, 'Options')
  const list = element('ul', { class: 'option-list', 'aria-labelledby': optionsTitle.id })
  const optionsError = errorSlot()
  let options: OptionRow[] = []
  const removeOption = (row: OptionRow): void => {
    options = options.filter((o) => o !== row)
    row.el.remove()
    onChange()
  }
  const addOption = (option: CheckOption): OptionRow => {
    const row = optionRow(option, removeOption)
    options.push(row)
    list.append(row.el)
    return row
  }
  for (const option of item.options) addOption(option)
  const add = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'add-option' }, 'Add option')
  add.addEventListener('click', () => {
    const row = addOption({ code: '', is_value: false })
    row.el.querySelector('input')?.focus()
    onChange()
  })
  optionsWrap.append(optionsTitle, list, add, optionsError)
  const explanation = textArea('Explanation (shown once the participant passed)', {
    value: item.explanation, testid: 'check-explanation', rows: 2,
  })
  body.append(excerpt.wrap, optionsWrap, explanation.wrap)
  const error = errorSlot()
  el.append(error)
  return {
    el,
    id: item.id,
    collect: (path, slots) => {
      slots.add(path, error)
      slots.add(`${path}.excerpt`, excerpt.error, excerpt.control)
      slots.add(`${path}.options`, optionsError)
      slots.add(`${path}.explanation`, explanation.error, explanation.control)
      return {
        id: item.id,
        excerpt: excerpt.control.value,
        options: options.map((o, i) => o.collect(`${path}.options.${i}`, slots)),
        explanation: explanation.control.value,
      }
    },
  }
}

/** A new item id like `practice-4`, not yet in `taken`. */
function freshId (prefix: string, taken: ReadonlySet<string>): string {
  for (let n = taken.size + 1; ; n++) {
    const id = `${prefix}-${n}`
    if (!taken.has(id)) return id
  }
}

export type ItemKind = 'example' | 'practice' | 'check'

interface Kinds { example: WorkedExample, practice: PracticeItem, check: CheckItem }

const BLANK: { readonly [K in ItemKind]: (id: string) => Kinds[K] } = {
  example: (id) => ({ id, prompt: '', response: '', notes: '', value_codes: [], structural_codes: [] }),
  practice: (id) => ({ id, prompt: '', response: '', example_codes: [], explanation: '' }),
  check: (id) => ({ id, excerpt: '', options: [{ code: '', is_value: true }, { code: '', is_value: false }], explanation: '' }),
}

const ADD_TEXT: { readonly [K in ItemKind]: string } = {
  example: 'Add worked example', practice: 'Add practice item', check: 'Add check item',
}

/** One list of items: shown, added to, removed from, read back. */
export class ItemList<K extends ItemKind> {
  readonly el: HTMLElement
  private readonly list: HTMLOListElement
  private readonly error: HTMLElement
  private rows: Array<Row<Kinds[K]>> = []
  /** Every id this list has shown since the study was loaded: a removed item's id is not reused for a new one. */
  private readonly seen = new Set<string>()

  constructor (private readonly kind: K, private readonly onChange: () => void) {
    this.el = element('div', { class: 'item-list', 'data-testid': `${kind}-list` })
    this.list = element('ol', { class: 'items' })
    this.error = errorSlot()
    const add = element('button', { type: 'button', class: 'secondary small', 'data-testid': `add-${kind}` }, ADD_TEXT[kind])
    add.addEventListener('click', () => {
      const row = this.add(BLANK[kind](freshId(kind, this.seen)))
      row.el.querySelector('textarea')?.focus()
      this.onChange()
    })
    this.el.append(this.list, this.error, add)
  }

  show (items: ReadonlyArray<Kinds[K]>): void {
    this.rows = []
    this.seen.clear()
    this.list.replaceChildren()
    for (const item of items) this.add(item)
  }

  collect (path: string, slots: FieldSlots): Array<Kinds[K]> {
    slots.add(path, this.error)
    return this.rows.map((row, i) => row.collect(`${path}.${i}`, slots))
  }

  private add (item: Kinds[K]): Row<Kinds[K]> {
    this.seen.add(item.id)
    const remove = (): void => {
      this.rows = this.rows.filter((r) => r !== row)
      row.el.remove()
      this.onChange()
    }
    const row = this.build(item, remove)
    this.rows.push(row)
    this.list.append(row.el)
    return row
  }

  private build (item: Kinds[K], remove: () => void): Row<Kinds[K]> {
    // Each kind's row builder, chosen by the list's kind (the casts restate what `kind` already says).
    switch (this.kind) {
      case 'example': return exampleRow(item as WorkedExample, remove) as Row<Kinds[K]>
      case 'practice': return practiceRow(item as PracticeItem, remove) as Row<Kinds[K]>
      default: return checkRow(item as CheckItem, remove, this.onChange) as Row<Kinds[K]>
    }
  }
}
