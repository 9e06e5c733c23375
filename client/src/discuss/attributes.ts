/**
 * Segment 4, the group attributes: every active attribute of the board with its name, its
 * definition (a textarea bound to the edits room's Y.Text: everyone edits it together, live, in segment 4), its
 * examples (baseline items or model replies, by reference) and its provenance (the canvas cards
 * that fed it); create, rename, keep the definition as a version, merge several, split one, set one
 * aside, and read any attribute's history (retired ones too). Everything but the definition goes
 * through REST; the server mirrors it into the board, so every page (this one too) sees the change
 * arrive over Yjs. Items are kept by id and updated in place, so typing is never interrupted.
 */
import { errorMessage } from '../api'
import { element, formatDateTime, whileBusy } from '../dom'
import type { BoardAttribute, BoardCard } from './board'
import { DefinitionBinding } from './definitionText'
import type { AttributeVersion, DiscussApi, ExampleItem, ExampleRef } from './rest'

const NAME_MAX = 120
const DEFINITION_MAX = 2000

function snippet (text: string, max = 80): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

function exampleKey (ref: ExampleRef): string {
  return `${ref.kind}:${ref.id}`
}

function exampleLabel (ref: ExampleRef, items: ReadonlyMap<string, ExampleItem>): string {
  const item = items.get(exampleKey(ref))
  if (item === undefined) return ref.kind === 'baseline' ? `A baseline item (${ref.id})` : 'A model reply in the group'
  return `${item.kind === 'baseline' ? 'Baseline' : 'Reply'}: ${snippet(item.prompt !== '' ? item.prompt : item.text)}`
}

/** A multiple select of options; the selection kept across refills. */
function fillSelect (select: HTMLSelectElement, options: ReadonlyArray<{ value: string, label: string }>, selected: ReadonlySet<string>): void {
  select.replaceChildren(...options.map((o) => {
    const option = element('option', { value: o.value }, o.label)
    option.selected = selected.has(o.value)
    return option
  }))
}

function selectedValues (select: HTMLSelectElement): string[] {
  return Array.from(select.selectedOptions, (o) => o.value)
}

export interface AttributeContext {
  readonly api: DiscussApi
  readonly cards: () => readonly BoardCard[]
  readonly examples: () => ReadonlyMap<string, ExampleItem>
  readonly canWrite: () => boolean
  /** Whether this person may edit definitions now (segment 4 only). */
  readonly canEditDefinition: () => boolean
}

function cardOptions (cards: readonly BoardCard[]): Array<{ value: string, label: string }> {
  return cards.map((c) => ({ value: c.id, label: `${c.text} (${c.kind === 'top3' ? 'top 3' : c.kind})` }))
}

function exampleOptions (items: ReadonlyMap<string, ExampleItem>): Array<{ value: string, label: string }> {
  return Array.from(items.entries(), ([key, item]) => ({ value: key, label: exampleLabel(item, items) }))
}

function refsOf (keys: readonly string[], items: ReadonlyMap<string, ExampleItem>, kept: readonly ExampleRef[]): ExampleRef[] {
  const known = new Map(kept.map((r) => [exampleKey(r), r]))
  const refs: ExampleRef[] = []
  for (const key of keys) {
    const item = items.get(key)
    const ref = item !== undefined ? { kind: item.kind, id: item.id } : known.get(key)
    if (ref !== undefined) refs.push(ref)
  }
  return refs
}

/** An attribute's version history, as a list. */
function historyList (versions: readonly AttributeVersion[]): HTMLElement {
  const list = element('ol', { class: 'ds-history', 'data-testid': 'attribute-history' })
  for (const v of versions) {
    const li = element('li', { 'data-testid': 'history-version', 'data-op': v.op, 'data-version': String(v.version) })
    const name = typeof v.snapshot['name'] === 'string' ? v.snapshot['name'] : ''
    const definition = typeof v.snapshot['definition'] === 'string' ? v.snapshot['definition'] : ''
    const status = typeof v.snapshot['status'] === 'string' ? v.snapshot['status'] : ''
    li.append(element('span', { class: 'ds-history-head' }, `v${v.version} · ${v.op} by ${v.by} · ${formatDateTime(v.at)}`),
      element('strong', {}, ` ${name}`))
    if (status !== '' && status !== 'active') li.append(element('span', { class: 'badge badge-closed' }, status))
    if (definition !== '') li.append(element('p', { class: 'ds-history-definition' }, definition))
    list.append(li)
  }
  return list
}

/** One active attribute on the page. */
class AttributeItem {
  readonly el: HTMLElement
  private readonly select = element('input', { type: 'checkbox', 'data-testid': 'attribute-select' })
  private readonly name = element('h3', { class: 'ds-attr-name', 'data-testid': 'attribute-name' })
  private readonly meta = element('p', { class: 'hint', 'data-testid': 'attribute-meta' })
  private readonly definition = element('textarea', { rows: '3', maxlength: String(DEFINITION_MAX), 'data-testid': 'attribute-definition' })
  private readonly provenance = element('ul', { class: 'ds-chips', 'data-testid': 'attribute-provenance' })
  private readonly examples = element('ul', { class: 'ds-list', 'data-testid': 'attribute-examples' })
  private readonly tools = element('div', { class: 'ds-attr-tools' })
  private readonly error = element('p', { class: 'error', role: 'alert', 'data-testid': 'attribute-error' })
  private readonly historySlot = element('div')
  private readonly rename = element('details', { class: 'ds-tool', 'data-testid': 'rename' })
  private readonly renameInput = element('input', { maxlength: String(NAME_MAX), 'aria-label': 'New name', 'data-testid': 'rename-input' })
  private readonly provenanceSelect = element('select', { multiple: '', size: '6', 'data-testid': 'provenance-select' })
  private readonly examplesSelect = element('select', { multiple: '', size: '6', 'data-testid': 'examples-select' })
  private binding: DefinitionBinding | undefined
  private current: BoardAttribute

  constructor (attribute: BoardAttribute, private readonly ctx: AttributeContext, onSelect: () => void) {
    this.current = attribute
    this.el = element('li', { class: 'card ds-attr', 'data-testid': 'attribute', 'data-attribute-id': attribute.id })
    const defId = `definition-${attribute.id}`
    this.definition.id = defId
    const head = element('div', { class: 'ds-attr-head' })
    const pick = element('label', { class: 'ds-attr-pick', title: 'Select to merge' })
    pick.append(this.select, element('span', { class: 'visually-hidden' }, `Select ${attribute.name} to merge`))
    head.append(pick, this.name)
    this.select.addEventListener('change', onSelect)
    this.el.append(head, this.meta,
      element('label', { for: defId, class: 'ds-attr-label' }, 'Definition (everyone edits it together)'),
      this.definition,
      element('p', { class: 'ds-attr-label' }, 'The labels that fed it'), this.provenance,
      element('p', { class: 'ds-attr-label' }, 'Examples'), this.examples,
      this.tools, this.error, this.historySlot)
    this.buildTools()
    this.update(attribute)
  }

  get id (): string { return this.current.id }
  get selected (): boolean { return this.select.checked }
  unselect (): void { this.select.checked = false }

  destroy (): void {
    this.binding?.destroy()
    this.el.remove()
  }

  update (attribute: BoardAttribute): void {
    const before = this.current
    this.current = attribute
    if (attribute.definition === undefined) {
      this.binding?.destroy()
      this.binding = undefined
      this.definition.value = attribute.savedDefinition
    } else if (this.binding === undefined || before.definition !== attribute.definition) {
      this.binding?.destroy()
      this.binding = new DefinitionBinding(attribute.definition, this.definition)
    }
    this.name.textContent = attribute.name
    if (!this.rename.open) this.renameInput.value = attribute.name // what the field starts from when opened
    this.el.dataset['version'] = String(attribute.version)
    const origin = attribute.splitFrom !== '' ? ' · split from another' : ''
    this.meta.textContent = `v${attribute.version} · by ${attribute.createdBy}${origin}`
    this.renderProvenance()
    this.renderExamples()
    const writable = this.ctx.canWrite()
    this.definition.readOnly = !writable || !this.ctx.canEditDefinition() || attribute.definition === undefined
    this.tools.hidden = !writable
    this.select.disabled = !writable
  }

  renderProvenance (): void {
    const cards = new Map(this.ctx.cards().map((c) => [c.id, c]))
    this.provenance.replaceChildren(...this.current.provenance.map((id) =>
      element('li', { class: 'ds-chip', 'data-testid': 'provenance-card', 'data-card-id': id }, cards.get(id)?.text ?? 'a label no longer on the canvas')))
    if (this.current.provenance.length === 0) this.provenance.append(element('li', { class: 'empty' }, 'None yet.'))
  }

  renderExamples (): void {
    const items = this.ctx.examples()
    this.examples.replaceChildren(...this.current.examples.map((ref) =>
      element('li', { 'data-testid': 'example', 'data-kind': ref.kind, 'data-example-id': ref.id }, exampleLabel(ref, items))))
    if (this.current.examples.length === 0) this.examples.append(element('li', { class: 'empty' }, 'None yet.'))
  }

  private async run (button: HTMLButtonElement, busy: string, action: () => Promise<unknown>): Promise<boolean> {
    return await whileBusy(button, busy, async () => {
      try {
        await action()
        this.error.textContent = ''
        return true
      } catch (error) {
        this.error.textContent = errorMessage(error)
        return false
      }
    })
  }

  private buildTools (): void {
    const api = this.ctx.api
    const id = this.current.id

    const save = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'attribute-save-version' }, 'Keep this definition as a version')
    save.addEventListener('click', () => { void this.run(save, 'Saving…', async () => await api.saveVersion(id)) })

    const rename = this.rename
    const renameInput = this.renameInput
    const renameButton = element('button', { type: 'button', class: 'small', 'data-testid': 'rename-button' }, 'Rename')
    rename.append(element('summary', {}, 'Rename'), renameInput, renameButton)
    renameButton.addEventListener('click', () => {
      const name = renameInput.value.trim()
      if (name === '') return
      void this.run(renameButton, 'Renaming…', async () => await api.updateAttribute(id, { name })).then((ok) => { if (ok) rename.open = false })
    })

    const provenance = element('details', { class: 'ds-tool', 'data-testid': 'edit-provenance' })
    const provenanceSave = element('button', { type: 'button', class: 'small', 'data-testid': 'provenance-save' }, 'Save the labels')
    const provenanceSummary = element('summary', {}, 'Labels that fed it')
    provenance.append(provenanceSummary,
      element('p', { class: 'hint' }, 'Pick the canvas labels (Ctrl or ⌘ for several).'), this.provenanceSelect, provenanceSave)
    // filled as it opens (the click comes before the details open), with what the attribute has now
    provenanceSummary.addEventListener('click', () => {
      if (!provenance.open) fillSelect(this.provenanceSelect, cardOptions(this.ctx.cards()), new Set(this.current.provenance))
    })
    provenanceSave.addEventListener('click', () => {
      const chosen = selectedValues(this.provenanceSelect)
      void this.run(provenanceSave, 'Saving…', async () => await api.updateAttribute(id, { provenance: chosen }))
        .then((ok) => { if (ok) provenance.open = false })
    })

    const examples = element('details', { class: 'ds-tool', 'data-testid': 'edit-examples' })
    const examplesSave = element('button', { type: 'button', class: 'small', 'data-testid': 'examples-save' }, 'Save the examples')
    const examplesSummary = element('summary', {}, 'Examples')
    examples.append(examplesSummary,
      element('p', { class: 'hint' }, 'Baseline items and model replies (Ctrl or ⌘ for several).'), this.examplesSelect, examplesSave)
    examplesSummary.addEventListener('click', () => {
      if (examples.open) return
      const items = this.ctx.examples()
      const options = exampleOptions(items)
      for (const ref of this.current.examples) {
        if (!items.has(exampleKey(ref))) options.push({ value: exampleKey(ref), label: exampleLabel(ref, items) })
      }
      fillSelect(this.examplesSelect, options, new Set(this.current.examples.map(exampleKey)))
    })
    examplesSave.addEventListener('click', () => {
      const refs = refsOf(selectedValues(this.examplesSelect), this.ctx.examples(), this.current.examples)
      void this.run(examplesSave, 'Saving…', async () => await api.updateAttribute(id, { examples: refs }))
        .then((ok) => { if (ok) examples.open = false })
    })

    const split = element('details', { class: 'ds-tool', 'data-testid': 'split' })
    const splitNames = element('textarea', { rows: '2', 'aria-label': 'The new names, one per line', 'data-testid': 'split-names' })
    const splitButton = element('button', { type: 'button', class: 'small', 'data-testid': 'split-button' }, 'Split')
    split.append(element('summary', {}, 'Split'),
      element('p', { class: 'hint' }, 'One new name per line; each keeps this definition, its examples and labels.'), splitNames, splitButton)
    splitButton.addEventListener('click', () => {
      const names = splitNames.value.split('\n').map((n) => n.trim()).filter((n) => n !== '')
      if (names.length < 2) {
        this.error.textContent = 'Give two or more names, one per line.'
        return
      }
      void this.run(splitButton, 'Splitting…', async () => await api.split(id, names))
    })

    const history = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'attribute-history-button', 'aria-expanded': 'false' }, 'History')
    history.addEventListener('click', () => {
      if (this.historySlot.childElementCount > 0) {
        this.historySlot.replaceChildren()
        history.setAttribute('aria-expanded', 'false')
        return
      }
      void this.run(history, 'Loading…', async () => {
        this.historySlot.replaceChildren(historyList(await api.history(id)))
        history.setAttribute('aria-expanded', 'true')
      })
    })

    const remove = element('button', { type: 'button', class: 'secondary small danger', 'data-testid': 'attribute-remove' }, 'Set aside')
    const confirm = element('button', { type: 'button', class: 'small danger', 'data-testid': 'attribute-remove-confirm', hidden: '' }, 'Yes, set it aside')
    remove.addEventListener('click', () => { confirm.hidden = !confirm.hidden })
    confirm.addEventListener('click', () => { void this.run(confirm, 'Setting aside…', async () => await api.remove(id)) })

    const buttons = element('div', { class: 'ds-attr-buttons' })
    buttons.append(save, history, remove, confirm)
    this.tools.append(buttons, rename, provenance, examples, split)
  }
}

export class AttributesPanel {
  readonly el = element('div', { class: 'ds-attributes', 'data-testid': 'attributes' })
  private readonly list = element('ul', { class: 'ds-attr-list', 'data-testid': 'attribute-list' })
  private readonly empty = element('p', { class: 'hint', 'data-testid': 'attributes-empty' }, 'No group attributes yet.')
  private readonly createForm = element('form', { class: 'card ds-attr-create', 'data-testid': 'attribute-form', novalidate: '' })
  private readonly createName = element('input', { id: 'new-attribute-name', maxlength: String(NAME_MAX), autocomplete: 'off', 'data-testid': 'new-attribute-name' })
  private readonly createDefinition = element('textarea', { id: 'new-attribute-definition', rows: '2', maxlength: String(DEFINITION_MAX), 'data-testid': 'new-attribute-definition' })
  private readonly createProvenance = element('select', { id: 'new-attribute-provenance', multiple: '', size: '5', 'data-testid': 'new-attribute-provenance' })
  private readonly createExamples = element('select', { id: 'new-attribute-examples', multiple: '', size: '4', 'data-testid': 'new-attribute-examples' })
  private readonly createButton = element('button', { type: 'submit', 'data-testid': 'create-attribute' }, 'Add the attribute')
  private readonly createError = element('p', { class: 'error', role: 'alert', 'data-testid': 'create-attribute-error' })
  private readonly mergeBar = element('div', { class: 'card ds-merge', 'data-testid': 'merge-bar' })
  private readonly mergeName = element('input', { maxlength: String(NAME_MAX), 'aria-label': 'The merged attribute\'s name', placeholder: 'Name of the merged attribute', 'data-testid': 'merge-name' })
  private readonly mergeButton = element('button', { type: 'button', class: 'small', 'data-testid': 'merge-button', disabled: '' }, 'Merge the selected')
  private readonly mergeError = element('p', { class: 'error', role: 'alert', 'data-testid': 'merge-error' })
  private readonly retired = element('details', { class: 'ds-retired', 'data-testid': 'retired' })
  private readonly retiredList = element('ul', { class: 'ds-list' })
  private readonly items = new Map<string, AttributeItem>()
  private cardKeys = ''
  private exampleCount = -1

  constructor (private readonly ctx: AttributeContext) {
    this.createForm.append(element('h3', {}, 'A new group attribute'),
      element('label', { for: 'new-attribute-name' }, 'Name'), this.createName,
      element('label', { for: 'new-attribute-definition' }, 'Definition (the group can edit it together afterwards)'), this.createDefinition,
      element('label', { for: 'new-attribute-provenance' }, 'The labels that fed it (Ctrl or ⌘ for several)'), this.createProvenance,
      element('label', { for: 'new-attribute-examples' }, 'Examples (optional)'), this.createExamples,
      this.createButton, this.createError)
    this.createForm.classList.add('form')
    this.createForm.addEventListener('submit', (event) => {
      event.preventDefault()
      void whileBusy(this.createButton, 'Adding…', async () => { await this.create() })
    })
    this.mergeBar.append(element('span', { class: 'hint' }, 'Select two or more attributes to merge them into one.'), this.mergeName, this.mergeButton, this.mergeError)
    this.mergeButton.addEventListener('click', () => { void whileBusy(this.mergeButton, 'Merging…', async () => { await this.merge() }) })
    this.retired.append(element('summary', {}, 'Merged, split and set aside'), this.retiredList)
    this.el.append(this.list, this.empty, this.mergeBar, this.createForm, this.retired)
  }

  /** The board's attributes and cards changed (or the segment, or who may write). */
  update (attributes: readonly BoardAttribute[]): void {
    const writable = this.ctx.canWrite()
    this.createForm.hidden = !writable
    const active = attributes.filter((a) => a.status === 'active').sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))
    const seen = new Set<string>()
    let previous: Element | null = null
    for (const attribute of active) {
      seen.add(attribute.id)
      let item = this.items.get(attribute.id)
      if (item === undefined) {
        item = new AttributeItem(attribute, this.ctx, () => { this.selectionChanged() })
        this.items.set(attribute.id, item)
      } else {
        item.update(attribute)
      }
      // keep the order without moving nodes that are already in place (moving would drop the focus)
      const expected: Element | null = previous === null ? this.list.firstElementChild : previous.nextElementSibling
      if (expected !== item.el) {
        if (previous === null) this.list.prepend(item.el)
        else previous.after(item.el)
      }
      previous = item.el
    }
    for (const [id, item] of this.items) {
      if (!seen.has(id)) {
        item.destroy()
        this.items.delete(id)
      }
    }
    this.empty.hidden = active.length > 0
    this.mergeBar.hidden = !writable || active.length < 2
    this.selectionChanged()
    this.renderRetired(attributes.filter((a) => a.status !== 'active'), attributes)
    this.refreshChoices()
  }

  /** The cards or example items changed: refill the pickers and the chips. */
  refreshChoices (): void {
    const cards = this.ctx.cards()
    const keys = cards.map((c) => `${c.id}=${c.text}`).join('\n')
    if (keys !== this.cardKeys) {
      this.cardKeys = keys
      fillSelect(this.createProvenance, cardOptions(cards), new Set(selectedValues(this.createProvenance)))
      if (cards.length === 0) this.createProvenance.append(element('option', { disabled: '' }, 'No labels on the canvas yet'))
      for (const item of this.items.values()) item.renderProvenance()
    }
    const examples = this.ctx.examples()
    if (examples.size !== this.exampleCount) {
      this.exampleCount = examples.size
      fillSelect(this.createExamples, exampleOptions(examples), new Set(selectedValues(this.createExamples)))
      for (const item of this.items.values()) item.renderExamples()
    }
  }

  private renderRetired (retired: readonly BoardAttribute[], all: readonly BoardAttribute[]): void {
    this.retired.hidden = retired.length === 0
    const names = new Map(all.map((a) => [a.id, a.name]))
    this.retiredList.replaceChildren(...retired.map((a) => {
      const li = element('li', { 'data-testid': 'retired-attribute', 'data-attribute-id': a.id, 'data-status': a.status })
      const into = a.status === 'merged' && a.mergedInto !== '' ? ` into ${names.get(a.mergedInto) ?? 'another'}` : ''
      li.append(element('strong', {}, a.name), ` · ${a.status}${into} `)
      const slot = element('div')
      const button = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'attribute-history-button' }, 'History')
      button.addEventListener('click', () => {
        if (slot.childElementCount > 0) {
          slot.replaceChildren()
          return
        }
        void whileBusy(button, 'Loading…', async () => {
          try {
            slot.replaceChildren(historyList(await this.ctx.api.history(a.id)))
          } catch (error) {
            slot.replaceChildren(element('p', { class: 'error' }, errorMessage(error)))
          }
        })
      })
      li.append(button, slot)
      return li
    }))
  }

  private selectionChanged (): void {
    const chosen = [...this.items.values()].filter((i) => i.selected)
    this.mergeButton.disabled = chosen.length < 2
    this.mergeBar.dataset['selected'] = String(chosen.length)
  }

  private async create (): Promise<void> {
    const name = this.createName.value.trim()
    if (name === '') {
      this.createError.textContent = 'Give the attribute a name.'
      this.createName.focus()
      return
    }
    const refs = refsOf(selectedValues(this.createExamples), this.ctx.examples(), [])
    const sent = { name: this.createName.value, definition: this.createDefinition.value }
    try {
      await this.ctx.api.createAttribute(name, sent.definition.trim(), selectedValues(this.createProvenance), refs)
      this.createError.textContent = ''
      // empty the form, unless someone already started the next one (the board may show the new attribute first)
      if (this.createName.value === sent.name && this.createDefinition.value === sent.definition) {
        this.createName.value = ''
        this.createDefinition.value = ''
        for (const option of [...this.createProvenance.options, ...this.createExamples.options]) option.selected = false
      }
    } catch (error) {
      this.createError.textContent = errorMessage(error)
    }
  }

  private async merge (): Promise<void> {
    const chosen = [...this.items.values()].filter((i) => i.selected)
    const name = this.mergeName.value.trim()
    if (chosen.length < 2) return
    if (name === '') {
      this.mergeError.textContent = 'Name the merged attribute.'
      this.mergeName.focus()
      return
    }
    try {
      await this.ctx.api.merge(chosen.map((i) => i.id), name)
      this.mergeError.textContent = ''
      if (this.mergeName.value.trim() === name) this.mergeName.value = ''
      for (const item of chosen) item.unselect()
      this.selectionChanged()
    } catch (error) {
      this.mergeError.textContent = errorMessage(error)
    }
  }
}
