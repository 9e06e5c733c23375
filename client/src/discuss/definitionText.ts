/**
 * A textarea bound to a Y.Text, both ways. A local edit becomes the smallest Y.Text change that
 * turns the old text into the new one (one delete and one insert between the common prefix and
 * suffix), so that people typing in different places of the same definition do not overwrite
 * each other. A remote edit rewrites the textarea at once and keeps the caret (and selection) on
 * the same characters. Text being composed (IME) is sent once the composition ends.
 */
import * as Y from 'yjs'

/** The change that turns `before` into `after`: delete `remove` characters at `at`, then insert `insert`. */
export interface TextDiff {
  readonly at: number
  readonly remove: number
  readonly insert: string
}

export function diffText (before: string, after: string): TextDiff | undefined {
  if (before === after) return undefined
  let start = 0
  const shorter = Math.min(before.length, after.length)
  while (start < shorter && before.charCodeAt(start) === after.charCodeAt(start)) start += 1
  // never split a surrogate pair
  if (start > 0 && start < before.length && isLowSurrogate(before.charCodeAt(start))) start -= 1
  let end = 0
  while (end < shorter - start &&
    before.charCodeAt(before.length - 1 - end) === after.charCodeAt(after.length - 1 - end)) end += 1
  if (end > 0 && isLowSurrogate(before.charCodeAt(before.length - end))) end -= 1
  return { at: start, remove: before.length - start - end, insert: after.slice(start, after.length - end) }
}

function isLowSurrogate (code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff
}

type Delta = ReadonlyArray<{ readonly insert?: unknown, readonly delete?: number, readonly retain?: number }>

/**
 * Where position `pos` of the old text is in the new one once `delta` is applied (a Yjs delta:
 * retain and delete count old characters, insert adds new ones; an insert at `pos` pushes it on).
 */
export function movePosition (pos: number, delta: Delta): number {
  let old = 0 // where the delta is, in the old text
  let moved = pos
  for (const op of delta) {
    if (old > pos) break
    if (op.retain !== undefined) {
      old += op.retain
    } else if (op.insert !== undefined) {
      if (old <= pos) moved += typeof op.insert === 'string' ? op.insert.length : 1
    } else if (op.delete !== undefined) {
      if (old < pos) moved -= Math.min(op.delete, pos - old)
      old += op.delete
    }
  }
  return Math.max(0, moved)
}

export class DefinitionBinding {
  private composing = false
  private readonly origin = Symbol('definition-binding')
  private readonly observer: (event: Y.YTextEvent, transaction: Y.Transaction) => void

  constructor (private readonly text: Y.Text, readonly textarea: HTMLTextAreaElement) {
    textarea.value = text.toString()
    this.observer = (event, transaction) => {
      if (transaction.origin === this.origin) return
      this.remoteChanged(event.delta as Delta)
    }
    text.observe(this.observer)
    textarea.addEventListener('input', this.onInput)
    textarea.addEventListener('compositionstart', this.onCompositionStart)
    textarea.addEventListener('compositionend', this.onCompositionEnd)
  }

  destroy (): void {
    this.text.unobserve(this.observer)
    this.textarea.removeEventListener('input', this.onInput)
    this.textarea.removeEventListener('compositionstart', this.onCompositionStart)
    this.textarea.removeEventListener('compositionend', this.onCompositionEnd)
  }

  private readonly onInput = (): void => {
    if (!this.composing) this.push()
  }

  private readonly onCompositionStart = (): void => { this.composing = true }

  private readonly onCompositionEnd = (): void => {
    this.composing = false
    this.push()
  }

  /** Apply the textarea's text to the Y.Text as a minimal change. */
  private push (): void {
    const diff = diffText(this.text.toString(), this.textarea.value)
    if (diff === undefined) return
    const doc = this.text.doc
    const apply = (): void => {
      if (diff.remove > 0) this.text.delete(diff.at, diff.remove)
      if (diff.insert !== '') this.text.insert(diff.at, diff.insert)
    }
    if (doc === null) apply()
    else doc.transact(apply, this.origin)
  }

  private remoteChanged (delta: Delta): void {
    const area = this.textarea
    const value = this.text.toString()
    if (area.value === value) return
    const focused = document.activeElement === area
    const start = movePosition(area.selectionStart, delta)
    const end = movePosition(area.selectionEnd, delta)
    const direction = area.selectionDirection
    area.value = value
    if (focused) area.setSelectionRange(Math.min(start, value.length), Math.min(end, value.length), direction ?? 'none')
  }
}
