/**
 * Labelled form fields with a place for the server's message under each, and the map from a
 * validation problem's field paths (e.g. `familiarize.check.1.options`) to those places.
 */
import type { FieldProblem } from '../api'
import { element } from '../dom'

let nextId = 0

/** A fresh element id with `prefix`. */
export function uid (prefix: string): string {
  nextId += 1
  return `${prefix}-${nextId}`
}

export interface Field<C extends HTMLElement> {
  readonly wrap: HTMLElement
  readonly control: C
  readonly error: HTMLElement
}

/** The message slot under a field: empty (and hidden by CSS) until the server has something to say. */
export function errorSlot (): HTMLElement {
  return element('p', { id: uid('field-error'), class: 'field-error', 'data-testid': 'field-error' })
}

function labelled<C extends HTMLElement> (label: string, control: C, hint: string | undefined, testid: string): Field<C> {
  control.id = uid('field')
  control.dataset['testid'] = testid
  const wrap = element('div', { class: 'field' })
  wrap.append(element('label', { for: control.id }, label))
  if (hint !== undefined) {
    const hintEl = element('p', { class: 'hint', id: uid('hint') }, hint)
    control.setAttribute('aria-describedby', hintEl.id)
    wrap.append(hintEl)
  }
  const error = errorSlot()
  wrap.append(control, error)
  return { wrap, control, error }
}

export interface TextOptions {
  readonly value: string
  readonly testid: string
  readonly hint?: string
  readonly rows?: number
  readonly maxLength?: number
}

export function textArea (label: string, options: TextOptions): Field<HTMLTextAreaElement> {
  const control = element('textarea', { rows: String(options.rows ?? 3) })
  if (options.maxLength !== undefined) control.maxLength = options.maxLength
  control.value = options.value
  return labelled(label, control, options.hint, options.testid)
}

export function numberInput (label: string, options: TextOptions & { min: number, max: number, step: string }): Field<HTMLInputElement> {
  const control = element('input', {
    type: 'number', min: String(options.min), max: String(options.max), step: options.step, inputmode: 'decimal',
  })
  control.value = options.value
  return labelled(label, control, options.hint, options.testid)
}

/** Codes as one per line (a code may hold commas); blank lines are dropped. */
export function codesOf (text: string): string[] {
  return text.split('\n').map((line) => line.trim()).filter((line) => line !== '')
}

/** Open every collapsed section around `el`, so that a message inside it is seen. */
function openAround (el: HTMLElement): void {
  for (let at = el.parentElement; at !== null; at = at.parentElement) {
    if (at instanceof HTMLDetailsElement) at.open = true
  }
}

interface Slot { readonly error: HTMLElement, readonly control: HTMLElement | undefined }

const HINTS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^familiarize\.pass_mark$/, ' (the pass mark is sent as a share: 100% is 1)'],
]

/**
 * Where each field path of the form shows its problems. Paths are registered as the form is read
 * (so a row's index is the one sent); a problem goes to the longest registered prefix of its path.
 */
export class FieldSlots {
  private readonly slots = new Map<string, Slot>()
  private readonly shown = new Set<Slot>()

  add (path: string, error: HTMLElement, control?: HTMLElement): void {
    error.dataset['field'] = path
    this.slots.set(path, { error, control })
  }

  /** Empty every message and forget every path (the form registers them again as it is read). */
  clear (): void {
    for (const slot of this.shown) {
      slot.error.textContent = ''
      if (slot.control !== undefined) {
        slot.control.removeAttribute('aria-invalid')
        const described = (slot.control.getAttribute('aria-describedby') ?? '').split(' ')
          .filter((id) => id !== '' && id !== slot.error.id)
        if (described.length > 0) slot.control.setAttribute('aria-describedby', described.join(' '))
        else slot.control.removeAttribute('aria-describedby')
      }
    }
    this.shown.clear()
    this.slots.clear()
  }

  /** Show each problem at its field; the problems that have no place in the form. The first invalid control gets focus. */
  show (problems: readonly FieldProblem[]): FieldProblem[] {
    const unplaced: FieldProblem[] = []
    let first: HTMLElement | undefined
    for (const problem of problems) {
      const slot = this.find(problem.field)
      if (slot === undefined) {
        unplaced.push(problem)
        continue
      }
      const hint = HINTS.find(([pattern]) => pattern.test(problem.field))?.[1] ?? ''
      const where = this.placeOf(problem.field)
      const message = `${where}${problem.message}${hint}.`
      slot.error.textContent = slot.error.textContent === '' ? message : `${slot.error.textContent} ${message}`
      if (slot.control !== undefined) {
        slot.control.setAttribute('aria-invalid', 'true')
        const described = slot.control.getAttribute('aria-describedby') ?? ''
        if (!described.split(' ').includes(slot.error.id)) {
          slot.control.setAttribute('aria-describedby', `${described} ${slot.error.id}`.trim())
        }
        first ??= slot.control
      }
      this.shown.add(slot)
      openAround(slot.error)
    }
    first?.focus()
    return unplaced
  }

  private find (path: string): Slot | undefined {
    const parts = path.split('.')
    for (let n = parts.length; n > 0; n--) {
      const slot = this.slots.get(parts.slice(0, n).join('.'))
      if (slot !== undefined) return slot
    }
    return undefined
  }

  /** For a problem deeper than its slot (a code in a list of codes): which one, e.g. "Code 2: ". */
  private placeOf (path: string): string {
    if (this.slots.has(path)) return ''
    const last = path.split('.').pop() ?? ''
    return /^\d+$/.test(last) && /_codes\.\d+$/.test(path) ? `Code ${Number(last) + 1}: ` : ''
  }
}
