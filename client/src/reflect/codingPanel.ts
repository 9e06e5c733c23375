/**
 * The small form for coding a passage: the passage, its codes as chips (suggesting the
 * participant's own earlier codes), an optional memo; Save, Cancel, and for a passage already coded
 * Delete. A code that may describe structure rather than a value gets its gentle note right here.
 * What is typed is reported as it changes (`onDraft`) so that the page can keep it across a reload.
 */
import { element } from '../dom'
import { ChipInput } from './chipInput'
import { hintNote } from './hint'
import { normalLabel, sameLabel, type ViewAnnotation, type ViewCode } from './project'
import type { Span } from './spans'

const MAX_MEMO = 4000

export type PanelTarget =
  | { readonly mode: 'new', readonly item: string, readonly span: Span }
  | { readonly mode: 'edit', readonly annotation: string }

/** What is typed in the panel, kept across reloads. */
export interface PanelDraft {
  readonly target: PanelTarget
  readonly codes: readonly string[]
  readonly typed: string
  readonly memo: string
}

export interface CodingPanelHandlers {
  onSave: (target: PanelTarget, codes: readonly string[], memo: string) => void
  onDelete: (annotation: string) => void
  onClose: () => void
  onDraft: (draft: PanelDraft | undefined) => void
  /** Switch to another annotation covering the same words. */
  onSwitch: (annotation: string) => void
}

export class CodingPanel {
  readonly el: HTMLFormElement
  private readonly title: HTMLElement
  private readonly quote: HTMLElement
  private readonly chips: ChipInput
  private readonly memo: HTMLTextAreaElement
  private readonly hints: HTMLElement
  private readonly deleteButton: HTMLButtonElement
  private readonly error: HTMLElement
  private readonly others: HTMLElement
  private target: PanelTarget | undefined
  private codes: readonly ViewCode[] = []
  private original: { codes: readonly string[], memo: string } | undefined

  constructor (private readonly handlers: CodingPanelHandlers) {
    this.el = element('form', { class: 'rf-panel', 'data-testid': 'coding-panel', novalidate: '' })
    this.el.hidden = true
    this.title = element('h3', { class: 'rf-panel-title' })
    this.quote = element('blockquote', { class: 'rf-quote', 'data-testid': 'panel-quote' })
    this.chips = new ChipInput('Codes — the values you see here, stated or implied', {
      onChange: () => { this.changed() },
      onDone: () => { this.save() },
    })
    const memoId = 'rf-memo'
    this.memo = element('textarea', { id: memoId, rows: '2', 'data-testid': 'memo-input', maxlength: String(MAX_MEMO),
      placeholder: 'Why you coded it so (optional)' })
    this.hints = element('div', { class: 'rf-panel-hints' })
    const save = element('button', { type: 'submit', 'data-testid': 'save-codes' }, 'Save')
    const cancel = element('button', { type: 'button', class: 'secondary', 'data-testid': 'cancel-coding' }, 'Cancel')
    this.deleteButton = element('button', { type: 'button', class: 'secondary danger', 'data-testid': 'delete-annotation' },
      'Delete')
    this.error = element('p', { class: 'error', role: 'alert', 'data-testid': 'panel-error' })
    this.others = element('p', { class: 'hint rf-others', 'data-testid': 'panel-others' })
    const actions = element('div', { class: 'form-actions' })
    actions.append(save, cancel, this.deleteButton)
    this.el.append(this.title, this.quote, this.others, this.chips.el, this.hints,
      element('label', { for: memoId, class: 'rf-field-label' }, 'Memo'), this.memo, actions, this.error)

    this.memo.addEventListener('input', () => { this.changed() })
    this.el.addEventListener('submit', (event) => {
      event.preventDefault()
      this.save()
    })
    cancel.addEventListener('click', () => { this.close() })
    this.deleteButton.addEventListener('click', () => {
      if (this.target?.mode === 'edit') {
        const id = this.target.annotation
        this.finish()
        this.handlers.onDelete(id)
      }
    })
    this.el.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault()
        this.close()
      }
    })
  }

  get open (): PanelTarget | undefined {
    return this.target
  }

  /** The participant's codes: offered while typing, and their hints shown. */
  setCodes (codes: readonly ViewCode[]): void {
    this.codes = codes
    this.chips.setOptions(codes.map((c) => c.label))
    if (this.target !== undefined) this.showHints()
  }

  /** Code a new passage (with what was typed before a reload, if any). */
  openNew (item: string, span: Span, draft?: PanelDraft): void {
    this.target = { mode: 'new', item, span }
    this.original = undefined
    this.title.textContent = 'Code this passage'
    this.quote.textContent = span.quote
    this.others.replaceChildren()
    this.deleteButton.hidden = true
    this.fill(draft?.codes ?? [], draft?.typed ?? '', draft?.memo ?? '')
  }

  /** Change the codes or memo of a coded passage; `overlapping`: other passages covering the same words. */
  openEdit (annotation: ViewAnnotation, overlapping: readonly ViewAnnotation[], draft?: PanelDraft): void {
    this.target = { mode: 'edit', annotation: annotation.id }
    const labels = annotation.code_ids.map((id) => this.codes.find((c) => c.id === id)?.label)
      .filter((l): l is string => l !== undefined)
    this.original = { codes: labels, memo: annotation.memo }
    this.title.textContent = 'Your codes on this passage'
    this.quote.textContent = annotation.quote
    this.deleteButton.hidden = false
    this.others.replaceChildren()
    if (overlapping.length > 0) {
      this.others.append(document.createTextNode('Also coded here: '))
      for (const other of overlapping) {
        const button = element('button', { type: 'button', class: 'link-button', 'data-testid': 'switch-annotation' },
          `“${shorten(other.quote, 40)}”`)
        button.addEventListener('click', () => { this.handlers.onSwitch(other.id) })
        this.others.append(button, document.createTextNode(' '))
      }
    }
    this.fill(draft?.codes ?? labels, draft?.typed ?? '', draft?.memo ?? annotation.memo)
  }

  /** The passage being edited is gone (deleted elsewhere): close without saving. */
  close (): void {
    this.finish()
    this.handlers.onClose()
  }

  private finish (): void {
    this.target = undefined
    this.el.hidden = true
    this.handlers.onDraft(undefined)
  }

  private fill (codes: readonly string[], typed: string, memo: string): void {
    this.chips.set(codes, typed)
    this.memo.value = memo
    this.error.textContent = ''
    this.el.hidden = false
    this.showHints()
    this.el.scrollIntoView({ block: 'nearest' })
    this.chips.input.focus({ preventScroll: true })
  }

  private changed (): void {
    this.error.textContent = ''
    this.showHints()
    if (this.target !== undefined) {
      this.handlers.onDraft({ target: this.target, codes: this.chips.value, typed: this.chips.typed, memo: this.memo.value })
    }
  }

  private showHints (): void {
    const notes = []
    for (const label of this.chips.value) {
      const code = this.codes.find((c) => sameLabel(c.label, label))
      if (code?.hint != null) notes.push(hintNote(code.label, code.hint))
    }
    this.hints.replaceChildren(...notes)
  }

  private save (): void {
    const target = this.target
    if (target === undefined) return
    if (!this.chips.commitTyped()) return
    const codes = this.chips.value.map(normalLabel).filter((c) => c !== '')
    if (codes.length === 0) {
      this.error.textContent = target.mode === 'edit'
        ? 'Add at least one code — or delete the passage.'
        : 'Add at least one code.'
      this.chips.input.focus()
      return
    }
    const memo = this.memo.value
    const original = this.original
    this.finish()
    if (original !== undefined && sameList(original.codes, codes) && original.memo === memo) {
      this.handlers.onClose()
      return
    }
    this.handlers.onSave(target, codes, memo)
    this.handlers.onClose()
  }
}

function sameList (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((label, i) => label === b[i])
}

export function shorten (text: string, max: number): string {
  const points = Array.from(text)
  return points.length <= max ? text : `${points.slice(0, max - 1).join('')}…`
}
