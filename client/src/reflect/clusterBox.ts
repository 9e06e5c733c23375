/**
 * A cluster in Focused coding: its name and definition, edited in place and saved as they are typed
 * (after a pause, on leaving the field, and before the page goes away); its codes, each removable;
 * a drop target for code cards; and merging another cluster into it, splitting codes out into a
 * new cluster, or deleting it (Undo brings it back).
 */
import { element } from '../dom'
import { CODE_MIME } from './codeCard'
import type { ViewCluster, ViewCode } from './project'

const TYPING_PAUSE_MS = 600
const MAX_DEFINITION = 4000

export interface ClusterActions {
  update: (cluster: string, fields: { name?: string, definition?: string }) => void
  setCodes: (cluster: string, codeIds: readonly string[]) => void
  mergeInto: (into: string, other: string) => void
  split: (cluster: string, codeIds: readonly string[], name: string) => void
  remove: (cluster: string) => void
}

export class ClusterBox {
  readonly el: HTMLElement
  readonly name: HTMLInputElement
  private readonly definition: HTMLTextAreaElement
  private readonly nameError: HTMLElement
  private readonly codes: HTMLUListElement
  private readonly empty: HTMLElement
  private readonly waiting: HTMLElement
  private readonly merge: HTMLSelectElement
  private readonly splitButton: HTMLButtonElement
  private readonly splitForm: HTMLFormElement
  private readonly splitChoices: HTMLElement
  private readonly splitName: HTMLInputElement
  private readonly splitError: HTMLElement
  private cluster: ViewCluster | undefined
  private dirty: { name?: string, definition?: string } = {}
  private codesShown = ''
  private mergeShown = ''
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor (private readonly id: string, private readonly actions: ClusterActions) {
    this.el = element('article', { class: 'rf-cluster', 'data-testid': 'cluster', 'data-cluster-id': id })
    const nameId = `rf-cluster-name-${id}`
    const definitionId = `rf-cluster-definition-${id}`
    this.name = element('input', { id: nameId, type: 'text', class: 'rf-cluster-name', 'data-testid': 'cluster-name', maxlength: '200' })
    this.nameError = element('p', { class: 'error', role: 'alert', 'data-testid': 'cluster-name-error' })
    this.definition = element('textarea', {
      id: definitionId, rows: '2', 'data-testid': 'cluster-definition', maxlength: String(MAX_DEFINITION),
      placeholder: 'What the codes in it have in common',
    })
    this.waiting = element('span', { class: 'rf-waiting', 'data-testid': 'cluster-pending' }, 'waiting to be saved')
    this.codes = element('ul', { class: 'rf-chips rf-cluster-codes', 'data-testid': 'cluster-codes', 'aria-label': 'Codes in the cluster' })
    this.empty = element('p', { class: 'hint rf-drop-hint' }, 'Drag codes here, or use “Add to cluster…” on a code.')

    const actionsRow = element('div', { class: 'rf-row-actions' })
    this.merge = element('select', { 'data-testid': 'merge-cluster', 'aria-label': 'Merge another cluster into this one' })
    this.splitButton = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'split-cluster' }, 'Split…')
    const remove = element('button', { type: 'button', class: 'secondary small danger', 'data-testid': 'delete-cluster' }, 'Delete')
    actionsRow.append(this.merge, this.splitButton, remove, this.waiting)

    this.splitForm = element('form', { class: 'rf-split', 'data-testid': 'split-form', novalidate: '' })
    this.splitForm.hidden = true
    this.splitChoices = element('fieldset', { class: 'rf-split-choices' })
    const splitNameId = `rf-split-name-${id}`
    this.splitName = element('input', { id: splitNameId, type: 'text', 'data-testid': 'split-name', maxlength: '200' })
    this.splitError = element('p', { class: 'error', role: 'alert' })
    const splitActions = element('div', { class: 'form-actions' })
    const splitCancel = element('button', { type: 'button', class: 'secondary small' }, 'Cancel')
    splitActions.append(element('button', { type: 'submit', class: 'small', 'data-testid': 'split-confirm' }, 'Move to the new cluster'),
      splitCancel)
    this.splitForm.append(this.splitChoices, element('label', { for: splitNameId, class: 'rf-field-label' }, 'Name of the new cluster'),
      this.splitName, splitActions, this.splitError)

    this.el.append(
      element('label', { for: nameId, class: 'rf-field-label' }, 'Cluster name'), this.name, this.nameError,
      element('label', { for: definitionId, class: 'rf-field-label' }, 'Definition'), this.definition,
      this.codes, this.empty, actionsRow, this.splitForm,
    )

    this.name.addEventListener('input', () => { this.typed({ name: this.name.value }) })
    this.definition.addEventListener('input', () => { this.typed({ definition: this.definition.value }) })
    this.name.addEventListener('blur', () => {
      this.commit()
      if (this.name.value.trim() === '' && this.cluster !== undefined) {
        this.name.value = this.cluster.name
        this.nameError.textContent = ''
      }
    })
    this.definition.addEventListener('blur', () => { this.commit() })
    this.merge.addEventListener('change', () => {
      const other = this.merge.value
      this.merge.value = ''
      if (other !== '') this.actions.mergeInto(this.id, other)
    })
    this.splitButton.addEventListener('click', () => { this.openSplit() })
    splitCancel.addEventListener('click', () => { this.splitForm.hidden = true })
    this.splitForm.addEventListener('submit', (event) => {
      event.preventDefault()
      this.split()
    })
    remove.addEventListener('click', () => {
      this.commit()
      this.actions.remove(this.id)
    })
    this.el.addEventListener('dragover', (event) => {
      if (event.dataTransfer?.types.includes(CODE_MIME) !== true) return
      event.preventDefault()
      event.dataTransfer.dropEffect = 'copy'
      this.el.classList.add('rf-drop')
    })
    this.el.addEventListener('dragleave', (event) => {
      if (!(event.relatedTarget instanceof Node) || !this.el.contains(event.relatedTarget)) this.el.classList.remove('rf-drop')
    })
    this.el.addEventListener('drop', (event) => {
      this.el.classList.remove('rf-drop')
      const code = event.dataTransfer?.getData(CODE_MIME) ?? ''
      if (code === '') return
      event.preventDefault()
      this.add(code)
    })
  }

  /** Add a code (by id), unless it is there already. */
  add (code: string): void {
    if (this.cluster === undefined || this.cluster.code_ids.includes(code)) return
    this.actions.setCodes(this.id, [...this.cluster.code_ids, code])
  }

  update (cluster: ViewCluster, codes: ReadonlyMap<string, ViewCode>, clusters: readonly ViewCluster[]): void {
    this.cluster = cluster
    this.el.dataset['name'] = cluster.name
    if (document.activeElement !== this.name && this.dirty.name === undefined) this.name.value = cluster.name
    if (document.activeElement !== this.definition && this.dirty.definition === undefined) {
      this.definition.value = cluster.definition
    }
    this.waiting.hidden = !cluster.pending
    const shownCodes = JSON.stringify([cluster.name, cluster.code_ids.map((id) => [id, codes.get(id)?.label])])
    if (shownCodes !== this.codesShown) this.showCodes(cluster, codes, shownCodes)
    this.empty.hidden = cluster.code_ids.length > 0
    this.splitButton.disabled = cluster.code_ids.length === 0
    const others = clusters.filter((c) => c.id !== cluster.id)
    this.merge.hidden = others.length === 0
    const shownMerge = JSON.stringify(others.map((c) => [c.id, c.name]))
    if (shownMerge !== this.mergeShown) {
      this.mergeShown = shownMerge
      this.merge.replaceChildren(element('option', { value: '' }, 'Merge in another…'),
        ...others.map((c) => element('option', { value: c.id }, c.name)))
      this.merge.value = ''
    }
    if (!this.splitForm.hidden) this.fillSplit()
  }

  private showCodes (cluster: ViewCluster, codes: ReadonlyMap<string, ViewCode>, signature: string): void {
    this.codesShown = signature
    const focused = document.activeElement instanceof HTMLElement && this.codes.contains(document.activeElement)
      ? document.activeElement.closest<HTMLElement>('[data-code-id]')?.dataset['codeId']
      : undefined
    this.codes.replaceChildren(...cluster.code_ids.map((id) => {
      const code = codes.get(id)
      const label = code?.label ?? '(merged code)'
      const chip = element('li', { class: 'rf-chip', 'data-testid': 'cluster-code', 'data-code-id': id, 'data-label': label })
      const remove = element('button', {
        type: 'button', class: 'rf-chip-remove', 'data-testid': 'remove-from-cluster', 'aria-label': `Take ${label} out of ${cluster.name}`,
      }, '×')
      remove.addEventListener('click', () => {
        this.actions.setCodes(this.id, (this.cluster?.code_ids ?? []).filter((c) => c !== id))
      })
      chip.append(element('span', {}, label), remove)
      return chip
    }))
    if (focused !== undefined) {
      this.codes.querySelector<HTMLElement>(`[data-code-id="${CSS.escape(focused)}"] button`)?.focus()
    }
  }

  /** Save what is being typed now (leaving the field or the page). */
  commit (): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    const fields: { name?: string, definition?: string } = {}
    if (this.dirty.name !== undefined) {
      const name = this.dirty.name.trim()
      if (name === '') {
        this.nameError.textContent = 'A cluster needs a name.'
      } else {
        this.nameError.textContent = ''
        if (name !== this.cluster?.name) fields.name = name
      }
    }
    if (this.dirty.definition !== undefined && this.dirty.definition !== this.cluster?.definition) {
      fields.definition = this.dirty.definition
    }
    this.dirty = {}
    if (fields.name !== undefined || fields.definition !== undefined) this.actions.update(this.id, fields)
  }

  private typed (fields: { name?: string, definition?: string }): void {
    this.dirty = { ...this.dirty, ...fields }
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.commit()
    }, TYPING_PAUSE_MS)
  }

  private openSplit (): void {
    this.splitForm.hidden = false
    this.splitName.value = ''
    this.splitError.textContent = ''
    this.fillSplit()
    this.splitChoices.querySelector('input')?.focus()
  }

  private fillSplit (): void {
    const checked = new Set([...this.splitChoices.querySelectorAll<HTMLInputElement>('input:checked')].map((i) => i.value))
    const choices = (this.cluster?.code_ids ?? []).map((id) => {
      const label = element('label', { class: 'rf-split-choice' })
      const box = element('input', { type: 'checkbox', value: id, 'data-testid': 'split-code' })
      box.checked = checked.has(id)
      const chip = this.codes.querySelector<HTMLElement>(`[data-code-id="${CSS.escape(id)}"]`)
      label.append(box, document.createTextNode(` ${chip?.dataset['label'] ?? id}`))
      return label
    })
    this.splitChoices.replaceChildren(element('legend', {}, 'Codes to move out'), ...choices)
  }

  private split (): void {
    const ids = [...this.splitChoices.querySelectorAll<HTMLInputElement>('input:checked')].map((i) => i.value)
    const name = this.splitName.value.trim()
    if (ids.length === 0) {
      this.splitError.textContent = 'Pick the codes to move out.'
      return
    }
    if (name === '') {
      this.splitError.textContent = 'Name the new cluster.'
      this.splitName.focus()
      return
    }
    this.splitForm.hidden = true
    this.actions.split(this.id, ids, name)
  }
}
