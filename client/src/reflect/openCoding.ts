/**
 * Open coding: the responses to code (baseline examples, the participant's own replies, shared
 * ones), each marked ✓ once coded; the chosen one's prompt and response, with the coded passages
 * highlighted (overlapping passages shade deeper). Selecting words (or "Code whole response")
 * opens the coding panel; clicking a highlight or "Edit" opens the passage's codes and memo.
 * What is being typed in the panel is kept in sessionStorage, so a reload does not lose it.
 */
import { element } from '../dom'
import { CodingPanel, shorten, type PanelDraft, type PanelTarget } from './codingPanel'
import { hintNote } from './hint'
import { newRecordId } from './ids'
import type { ReflectView, ViewAnnotation, ViewCode } from './project'
import type { ItemSource, Op, ReflectItem } from './rest'
import { segments, selectedSpan, wholeSpan, type Span } from './spans'

const DRAFT_ID = 'draft'

/** What a shared item is: someone else's conversation, anonymous. */
const SHARED_NOTE = 'Someone else in your group shared this conversation: their prompt and the model’s reply. ' +
  'You do not see who it was, and they do not see your codes.'

const GROUPS: ReadonlyArray<{ source: ItemSource, title: string }> = [
  { source: 'baseline', title: 'Baseline examples' },
  { source: 'own', title: 'Your conversations' },
  { source: 'shared', title: 'Shared by others in your group' },
]

export function itemKey (item: { readonly kind: string, readonly id: string }): string {
  return `${item.kind}:${item.id}`
}

export interface OpenCodingOptions {
  /** Make a change (see ReflectStore.change). */
  readonly change: (ops: readonly Op[], what: string) => void
  /** The chosen response changed (for the address bar). */
  readonly onPick: (item: string) => void
  /** Where to keep what is typed in the panel (sessionStorage key). */
  readonly draftKey: string
}

export class OpenCoding {
  readonly el: HTMLElement
  private readonly nav: HTMLElement
  private readonly pane: HTMLElement
  private readonly eyebrow: HTMLElement
  private readonly sharedNote: HTMLElement
  private readonly prompt: HTMLElement
  private readonly text: HTMLElement
  private readonly list: HTMLUListElement
  private readonly listEmpty: HTMLElement
  private readonly panel: CodingPanel
  private view: ReflectView | undefined
  private selected: string | undefined
  private rendered = ''
  private renderedItems = ''
  private renderedList = ''
  private restored = false
  /** A selection just opened the panel: the click that ends it is not a click on a highlight. */
  private selecting = false

  constructor (private readonly options: OpenCodingOptions) {
    this.el = element('div', { class: 'rf-open' })
    this.nav = element('nav', { class: 'card rf-items', 'aria-label': 'Responses to code', 'data-testid': 'item-list' })
    this.pane = element('article', { class: 'card rf-pane', 'data-testid': 'item-pane' })
    this.eyebrow = element('p', { class: 'eyebrow', 'data-testid': 'item-source' })
    this.sharedNote = element('p', { class: 'rf-shared-note', 'data-testid': 'item-shared-note' }, SHARED_NOTE)
    this.prompt = element('p', { class: 'rf-prompt', 'data-testid': 'item-prompt' })
    const tools = element('div', { class: 'rf-tools' })
    const whole = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'code-whole' },
      'Code whole response')
    tools.append(element('p', { class: 'hint' }, 'Select words in the response to code them, or'), whole)
    this.text = element('div', { class: 'rf-response', 'data-testid': 'response-text', lang: 'en' })
    this.panel = new CodingPanel({
      onSave: (target, codes, memo) => { this.save(target, codes, memo) },
      onDelete: (id) => { this.options.change([{ kind: 'annotation.delete', id }], 'Delete a coded passage') },
      onClose: () => { this.renderText(true) },
      onDraft: (draft) => { this.keepDraft(draft) },
      onSwitch: (id) => { this.edit(id) },
    })
    const listHead = element('h3', { class: 'rf-list-title' }, 'Your codes on this response')
    this.list = element('ul', { class: 'rf-annotations', 'data-testid': 'annotation-list' })
    this.listEmpty = element('p', { class: 'hint', 'data-testid': 'annotations-empty' }, 'Nothing coded here yet.')
    this.pane.append(this.eyebrow, this.sharedNote, element('p', { class: 'rf-label' }, 'Prompt'), this.prompt,
      element('p', { class: 'rf-label' }, 'Response'), tools, this.text, this.panel.el, listHead, this.list, this.listEmpty)
    this.el.append(this.nav, this.pane)

    whole.addEventListener('click', () => {
      const item = this.item()
      const span = item === undefined ? undefined : wholeSpan(item.text)
      if (item !== undefined && span !== undefined) this.draft(item, span)
    })
    this.text.addEventListener('mousedown', () => { this.selecting = false })
    this.text.addEventListener('mouseup', () => { this.fromSelection() })
    this.text.addEventListener('keyup', (event) => {
      if (event.shiftKey) this.fromSelection()
    })
    this.text.addEventListener('click', (event) => { this.clickHighlight(event) })
  }

  /** Show this response (by `kind:id`); the first one when it is not there. */
  pick (key: string | undefined): void {
    if (key !== this.selected && this.panel.open !== undefined) this.panel.close()
    this.selected = key
    if (this.view !== undefined) this.update(this.view)
  }

  update (view: ReflectView): void {
    this.view = view
    if (this.selected === undefined || !view.items.some((i) => itemKey(i) === this.selected)) {
      const first = view.items[0]
      this.selected = first === undefined ? undefined : itemKey(first)
    }
    this.panel.setCodes(view.codes)
    this.renderItems(view)
    const item = this.item()
    this.pane.hidden = item === undefined
    if (item === undefined) return
    this.eyebrow.textContent = sourceText(item, view.items)
    this.pane.dataset['source'] = item.source
    this.sharedNote.hidden = item.source !== 'shared'
    this.prompt.textContent = item.prompt === '' ? '(no prompt)' : item.prompt
    const open = this.panel.open
    if (open?.mode === 'edit' && !view.annotations.some((a) => a.id === open.annotation)) this.panel.close()
    this.renderText(false)
    this.renderAnnotations(view, item)
    if (!this.restored) this.restoreDraft()
  }

  private item (): ReflectItem | undefined {
    return this.view?.items.find((i) => itemKey(i) === this.selected)
  }

  private annotationsOf (item: ReflectItem): ViewAnnotation[] {
    return (this.view?.annotations ?? [])
      .filter((a) => a.target_kind === item.kind && a.target_id === item.id)
      .sort((a, b) => a.start - b.start || b.end - a.end)
  }

  private renderItems (view: ReflectView): void {
    const signature = JSON.stringify([this.selected, view.items.map((i) => [itemKey(i), i.coded, i.prompt, i.source])])
    if (signature === this.renderedItems) return
    this.renderedItems = signature
    const focused = document.activeElement instanceof HTMLElement && this.nav.contains(document.activeElement)
      ? document.activeElement.dataset['item']
      : undefined
    const parts: HTMLElement[] = []
    for (const group of GROUPS) {
      const items = view.items.filter((i) => i.source === group.source)
      if (items.length === 0) continue
      const list = element('ul', { class: 'rf-item-list' })
      for (const item of items) {
        const key = itemKey(item)
        const button = element('button', {
          type: 'button', class: 'rf-item', 'data-testid': 'item-link', 'data-item': key,
          'data-coded': String(item.coded), 'data-source': item.source,
        })
        if (key === this.selected) button.setAttribute('aria-current', 'true')
        button.append(
          element('span', { class: 'rf-check', 'aria-label': item.coded ? 'coded' : 'not coded yet' }, item.coded ? '✓' : ''),
          element('span', { class: 'rf-item-text' }, shorten(item.prompt === '' ? item.text : item.prompt, 80)),
        )
        if (item.source === 'shared') {
          button.append(element('span', { class: 'rf-shared-badge', 'data-testid': 'shared-badge', title: SHARED_NOTE },
            'someone else’s'))
        }
        button.addEventListener('click', () => {
          this.pick(key)
          this.options.onPick(key)
        })
        const li = element('li')
        li.append(button)
        list.append(li)
      }
      parts.push(element('h3', { class: 'rf-group-title' }, group.title), list)
    }
    if (parts.length === 0) parts.push(element('p', { class: 'hint' }, 'There is nothing to code yet.'))
    this.nav.replaceChildren(...parts)
    if (focused !== undefined) this.nav.querySelector<HTMLElement>(`[data-item="${CSS.escape(focused)}"]`)?.focus()
  }

  /** Draw the response with its highlights, unless nothing about them changed (keeps a selection alive). */
  private renderText (force: boolean): void {
    const item = this.item()
    if (item === undefined) return
    const annotations = this.annotationsOf(item)
    const open = this.panel.open
    const spans = annotations.map((a) => ({ id: a.id, start: a.start, end: a.end }))
    if (open?.mode === 'new' && open.item === itemKey(item)) {
      spans.push({ id: DRAFT_ID, start: open.span.start, end: open.span.end })
    }
    const active = open?.mode === 'edit' ? open.annotation : ''
    const signature = JSON.stringify([itemKey(item), item.text.length, spans, active])
    if (!force && signature === this.rendered) return
    this.rendered = signature
    const pending = new Set(annotations.filter((a) => a.pending).map((a) => a.id))
    this.text.replaceChildren(...segments(item.text, spans).map((segment) => {
      if (segment.ids.length === 0) return document.createTextNode(segment.text)
      const saved = segment.ids.filter((id) => id !== DRAFT_ID)
      const mark = element('mark', {
        class: 'rf-mark', 'data-testid': 'highlight', 'data-ids': saved.join(' '),
        'data-depth': String(Math.min(saved.length, 3)),
      }, segment.text)
      if (segment.ids.includes(DRAFT_ID)) mark.classList.add('rf-mark-draft')
      if (active !== '' && saved.includes(active)) mark.classList.add('rf-mark-active')
      if (saved.some((id) => pending.has(id))) mark.dataset['pending'] = 'true'
      return mark
    }))
  }

  private renderAnnotations (view: ReflectView, item: ReflectItem): void {
    const codes = new Map(view.codes.map((c) => [c.id, c]))
    const annotations = this.annotationsOf(item)
    const signature = JSON.stringify([itemKey(item), annotations,
      annotations.flatMap((a) => a.code_ids).map((id) => [codes.get(id)?.label, codes.get(id)?.hint])])
    if (signature === this.renderedList) return
    this.renderedList = signature
    this.listEmpty.hidden = annotations.length > 0
    this.list.replaceChildren(...annotations.map((a) => annotationRow(a, codes, {
      edit: () => { this.edit(a.id) },
      remove: () => { this.options.change([{ kind: 'annotation.delete', id: a.id }], 'Delete a coded passage') },
    })))
  }

  private fromSelection (): void {
    const item = this.item()
    if (item === undefined) return
    const span = selectedSpan(this.text, item.text)
    if (span === undefined) return
    this.selecting = true
    this.draft(item, span)
  }

  /** Code `span`: the passage with exactly these words, if there is one, else a new one. */
  private draft (item: ReflectItem, span: Span, draft?: PanelDraft): void {
    const same = this.annotationsOf(item).find((a) => a.start === span.start && a.end === span.end)
    if (same !== undefined && draft === undefined) {
      this.edit(same.id)
      return
    }
    this.panel.openNew(itemKey(item), span, draft)
    window.getSelection()?.removeAllRanges()
    this.renderText(false)
  }

  private edit (id: string, draft?: PanelDraft): void {
    const annotation = this.view?.annotations.find((a) => a.id === id)
    if (annotation === undefined) return
    const key = itemKey({ kind: annotation.target_kind, id: annotation.target_id })
    if (key !== this.selected) {
      this.selected = key
      this.options.onPick(key)
      if (this.view !== undefined) this.update(this.view)
    }
    const overlapping = this.annotationsOf(this.item() as ReflectItem)
      .filter((a) => a.id !== id && a.start < annotation.end && annotation.start < a.end)
    this.panel.openEdit(annotation, overlapping, draft)
    this.renderText(false)
  }

  private clickHighlight (event: MouseEvent): void {
    if (this.selecting) {
      this.selecting = false
      return
    }
    const selection = window.getSelection()
    if (selection !== null && !selection.isCollapsed) return
    const target = event.target instanceof Element ? event.target.closest<HTMLElement>('mark[data-ids]') : null
    const first = target?.dataset['ids']?.split(' ').find((id) => id !== '')
    if (first !== undefined) this.edit(first)
  }

  private save (target: PanelTarget, codes: readonly string[], memo: string): void {
    if (target.mode === 'new') {
      const item = this.view?.items.find((i) => itemKey(i) === target.item)
      if (item === undefined) return
      this.options.change([{
        kind: 'annotation.create', id: newRecordId(), target_kind: item.kind, target_id: item.id,
        start: target.span.start, end: target.span.end, quote: target.span.quote, codes, memo,
      }], 'Code a passage')
      return
    }
    const annotation = this.view?.annotations.find((a) => a.id === target.annotation)
    if (annotation === undefined) return
    const labels = new Map(this.view?.codes.map((c) => [c.id, c.label]))
    const before = annotation.code_ids.map((id) => labels.get(id) ?? '')
    const ops: Op[] = []
    if (before.length !== codes.length || before.some((label, i) => label !== codes[i])) {
      ops.push({ kind: 'annotation.set_codes', id: annotation.id, codes })
    }
    if (memo !== annotation.memo) ops.push({ kind: 'annotation.set_memo', id: annotation.id, memo })
    this.options.change(ops, 'Change the codes of a passage')
  }

  private keepDraft (draft: PanelDraft | undefined): void {
    try {
      if (draft === undefined) sessionStorage.removeItem(this.options.draftKey)
      else sessionStorage.setItem(this.options.draftKey, JSON.stringify(draft))
    } catch {
      // a draft that cannot be kept is only lost on a reload
    }
  }

  /** After a reload: reopen the panel with what was being typed. */
  private restoreDraft (): void {
    this.restored = true
    let draft: PanelDraft | undefined
    try {
      const raw = sessionStorage.getItem(this.options.draftKey)
      draft = raw === null ? undefined : JSON.parse(raw) as PanelDraft
    } catch {
      draft = undefined
    }
    if (draft === undefined || typeof draft !== 'object' || !Array.isArray(draft.codes)) return
    if (draft.target.mode === 'edit') {
      this.edit(draft.target.annotation, draft)
      return
    }
    const key = draft.target.item
    const item = this.view?.items.find((i) => itemKey(i) === key)
    if (item === undefined) return
    if (key !== this.selected) {
      this.selected = key
      this.options.onPick(key)
      if (this.view !== undefined) this.update(this.view)
    }
    this.draft(item, draft.target.span, draft)
  }
}

function sourceText (item: ReflectItem, items: readonly ReflectItem[]): string {
  const same = items.filter((i) => i.source === item.source)
  const place = `${same.indexOf(item) + 1} of ${same.length}`
  if (item.source === 'baseline') return `Baseline example · ${place}`
  if (item.source === 'own') return `Your conversation · reply ${place}`
  return `Someone else’s conversation (shared anonymously) · reply ${place}`
}

function annotationRow (
  a: ViewAnnotation, codes: ReadonlyMap<string, ViewCode>, actions: { edit: () => void, remove: () => void },
): HTMLElement {
  const row = element('li', { class: 'rf-annotation', 'data-testid': 'annotation', 'data-annotation-id': a.id })
  if (a.pending) row.dataset['pending'] = 'true'
  const quote = element('blockquote', { class: 'rf-quote', 'data-testid': 'annotation-quote' }, shorten(a.quote, 280))
  const chips = element('ul', { class: 'rf-chips', 'aria-label': 'Codes' })
  const hints: HTMLElement[] = []
  for (const id of a.code_ids) {
    const code = codes.get(id)
    if (code === undefined) continue
    const chip = element('li', { class: 'rf-chip', 'data-testid': 'annotation-code', 'data-label': code.label }, code.label)
    if (code.hint !== null) {
      chip.classList.add('rf-chip-hinted')
      hints.push(hintNote(code.label, code.hint))
    }
    chips.append(chip)
  }
  const actionsRow = element('div', { class: 'rf-row-actions' })
  const edit = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'edit-annotation' }, 'Edit')
  const remove = element('button', { type: 'button', class: 'secondary small danger', 'data-testid': 'remove-annotation' },
    'Delete')
  edit.addEventListener('click', actions.edit)
  remove.addEventListener('click', actions.remove)
  actionsRow.append(edit, remove)
  if (a.pending) {
    actionsRow.append(element('span', { class: 'rf-waiting', 'data-testid': 'annotation-pending' }, 'waiting to be saved'))
  }
  row.append(quote, chips)
  if (a.memo !== '') row.append(element('p', { class: 'rf-memo', 'data-testid': 'annotation-memo' }, a.memo))
  row.append(...hints, actionsRow)
  return row
}
