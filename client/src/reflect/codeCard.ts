/**
 * A code in Focused coding: its label (renamed in place), how often it is used, its excerpts (to
 * expand), the clusters it is in, a note when it may describe structure rather than a value, a box
 * to pick it for merging, and "Add to cluster…" — the keyboard's way to do what dragging does.
 * Cards are draggable (HTML5) into clusters. A code waiting for the server (made offline) cannot be
 * grouped until it is saved.
 */
import { element } from '../dom'
import { shorten } from './codingPanel'
import { hintNote } from './hint'
import { normalLabel, sameLabel, type ViewCluster, type ViewCode } from './project'

export const CODE_MIME = 'application/x-calma-code'
const NEW_CLUSTER = '__new__'

export interface CodeCardActions {
  rename: (code: string, label: string) => void
  addTo: (code: string, cluster: string | 'new') => void
  select: (code: string, selected: boolean) => void
}

export class CodeCard {
  readonly el: HTMLLIElement
  private readonly pick: HTMLInputElement
  private readonly label: HTMLElement
  private readonly uses: HTMLElement
  private readonly renameButton: HTMLButtonElement
  private readonly renameForm: HTMLFormElement
  private readonly renameInput: HTMLInputElement
  private readonly renameError: HTMLElement
  private readonly inClusters: HTMLElement
  private readonly hint: HTMLElement
  private readonly excerpts: HTMLDetailsElement
  private readonly excerptsTitle: HTMLElement
  private readonly excerptList: HTMLUListElement
  private readonly addTo: HTMLSelectElement
  private readonly waiting: HTMLElement
  private code: ViewCode | undefined
  private optionsShown = ''
  private excerptsShown = ''
  private others: readonly ViewCode[] = []

  constructor (private readonly id: string, private readonly actions: CodeCardActions) {
    this.el = element('li', { class: 'rf-code', 'data-testid': 'code-card', 'data-code-id': id })
    const head = element('div', { class: 'rf-code-head' })
    this.pick = element('input', { type: 'checkbox', 'data-testid': 'select-code' })
    this.label = element('span', { class: 'rf-code-label', 'data-testid': 'code-label' })
    this.uses = element('span', { class: 'rf-uses', 'data-testid': 'code-uses' })
    const pickLabel = element('label', { class: 'rf-code-pick' })
    pickLabel.append(this.pick, this.label)
    head.append(pickLabel, this.uses)

    this.renameForm = element('form', { class: 'rf-rename', novalidate: '' })
    this.renameForm.hidden = true
    this.renameInput = element('input', { type: 'text', 'data-testid': 'rename-input', maxlength: '200', 'aria-label': 'New label' })
    const save = element('button', { type: 'submit', class: 'small', 'data-testid': 'rename-save' }, 'Save')
    const cancel = element('button', { type: 'button', class: 'secondary small' }, 'Cancel')
    this.renameError = element('p', { class: 'error', role: 'alert' })
    this.renameForm.append(this.renameInput, save, cancel, this.renameError)

    this.inClusters = element('p', { class: 'hint rf-in-clusters', 'data-testid': 'code-clusters' })
    this.hint = element('div')
    this.excerpts = element('details', { class: 'rf-excerpts', 'data-testid': 'code-excerpts' })
    this.excerptsTitle = element('summary')
    this.excerptList = element('ul', { class: 'rf-excerpt-list' })
    this.excerpts.append(this.excerptsTitle, this.excerptList)

    const actionsRow = element('div', { class: 'rf-row-actions' })
    this.addTo = element('select', { 'data-testid': 'add-to-cluster', 'aria-label': 'Add to cluster' })
    this.renameButton = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'rename-code' }, 'Rename')
    this.waiting = element('span', { class: 'rf-waiting', 'data-testid': 'code-pending' }, 'waiting to be saved')
    actionsRow.append(this.addTo, this.renameButton, this.waiting)
    this.el.append(head, this.renameForm, this.inClusters, this.hint, this.excerpts, actionsRow)

    this.pick.addEventListener('change', () => { this.actions.select(this.id, this.pick.checked) })
    this.renameButton.addEventListener('click', () => { this.startRename() })
    cancel.addEventListener('click', () => { this.stopRename() })
    this.renameForm.addEventListener('submit', (event) => {
      event.preventDefault()
      this.finishRename()
    })
    this.renameForm.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault()
        this.stopRename()
      }
    })
    this.addTo.addEventListener('change', () => {
      const value = this.addTo.value
      this.addTo.value = ''
      if (value === NEW_CLUSTER) this.actions.addTo(this.id, 'new')
      else if (value !== '') this.actions.addTo(this.id, value)
    })
    this.el.addEventListener('dragstart', (event) => {
      if (this.code === undefined || this.code.provisional || event.dataTransfer === null) return
      event.dataTransfer.setData(CODE_MIME, this.id)
      event.dataTransfer.setData('text/plain', this.code.label)
      event.dataTransfer.effectAllowed = 'copy'
      this.el.classList.add('rf-dragging')
    })
    this.el.addEventListener('dragend', () => { this.el.classList.remove('rf-dragging') })
  }

  update (code: ViewCode, codes: readonly ViewCode[], clusters: readonly ViewCluster[], selected: boolean): void {
    this.code = code
    this.others = codes.filter((c) => c.id !== code.id)
    this.el.dataset['label'] = code.label
    this.label.textContent = code.label
    this.uses.textContent = `${code.uses}×`
    this.uses.title = `used on ${code.uses} passage${code.uses === 1 ? '' : 's'}`
    this.pick.checked = selected
    this.pick.setAttribute('aria-label', `Pick ${code.label} to merge`)
    const waiting = code.provisional
    this.el.draggable = !waiting
    this.el.dataset['provisional'] = String(waiting)
    this.pick.disabled = waiting
    this.addTo.disabled = waiting
    this.renameButton.disabled = waiting
    this.waiting.hidden = !waiting

    const inside = clusters.filter((c) => c.code_ids.includes(code.id))
    this.inClusters.textContent = inside.length === 0 ? 'In no cluster yet' : `In: ${inside.map((c) => c.name).join(', ')}`
    this.hint.replaceChildren(...(code.hint === null ? [] : [hintNote(code.label, code.hint)]))

    const n = code.excerpts.length
    this.excerptsTitle.textContent = `${n} excerpt${n === 1 ? '' : 's'}`
    this.excerpts.hidden = n === 0
    const excerpts = JSON.stringify(code.excerpts.map((e) => e.quote))
    if (excerpts !== this.excerptsShown) {
      this.excerptsShown = excerpts
      this.excerptList.replaceChildren(...code.excerpts.map((e) =>
        element('li', { class: 'rf-excerpt', 'data-testid': 'excerpt' }, `“${shorten(e.quote, 240)}”`)))
    }

    const choices = clusters.filter((c) => !c.code_ids.includes(code.id)).map((c) => [c.id, c.name])
    const shown = JSON.stringify(choices)
    if (shown !== this.optionsShown) { // rebuilt only when it changed: an open menu stays open
      this.optionsShown = shown
      this.addTo.replaceChildren(
        element('option', { value: '' }, 'Add to cluster…'),
        ...choices.map(([id, name]) => element('option', { value: id ?? '' }, name)),
        element('option', { value: NEW_CLUSTER }, 'A new cluster'),
      )
      this.addTo.value = ''
    }
  }

  private startRename (): void {
    if (this.code === undefined) return
    this.renameForm.hidden = false
    this.renameError.textContent = ''
    this.renameInput.value = this.code.label
    this.renameInput.focus()
    this.renameInput.select()
  }

  private stopRename (): void {
    this.renameForm.hidden = true
    this.renameButton.focus()
  }

  private finishRename (): void {
    const label = normalLabel(this.renameInput.value)
    if (this.code === undefined) return
    if (label === '') {
      this.renameError.textContent = 'A code needs a label.'
      return
    }
    const clash = this.others.find((c) => sameLabel(c.label, label))
    if (clash !== undefined) {
      this.renameError.textContent = `You have a code “${clash.label}” already: pick both and merge them instead.`
      return
    }
    this.stopRename()
    if (label !== this.code.label) this.actions.rename(this.id, label)
  }
}
