/**
 * The cross-group comparison in the console's Outputs section: pick two groups, Compare, and see their
 * axes side by side — paired by meaning (the server's one-to-one matching of name plus definition, with
 * the similarity as a bar) or as the facilitator corrected it — and the axes without a counterpart.
 * "Correct the pairing" gives each axis of the first group a choice of the second's (or none); Save
 * keeps it on the server (PUT), "Back to automatic" forgets it (DELETE). Nothing loads until Compare.
 */
import { errorMessage, type Group } from '../api'
import { element, formatDateTime, whileBusy } from '../dom'
import { outputsApi, type AxisRef, type GroupComparison } from './outputsApi'

function percent (value: number): string {
  return `${Math.round(Math.min(1, Math.max(0, value)) * 100)}%`
}

function similarityCell (similarity: number): HTMLElement {
  const cell = element('td', { class: 'oc-similarity', 'data-testid': 'pair-similarity', 'data-similarity': String(similarity) })
  const bar = element('span', {
    class: 'oc-bar', role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '1', 'aria-valuenow': String(similarity),
    'aria-label': `similarity ${similarity.toFixed(2)}`,
  })
  const fill = element('span')
  fill.style.width = percent(similarity) // CSSOM, not a style attribute: the pages' CSP allows no inline styles
  bar.append(fill)
  cell.append(bar, element('span', { class: 'oc-bar-text' }, similarity.toFixed(2)))
  return cell
}

function onlyList (testId: string, title: string, axes: readonly AxisRef[]): HTMLElement {
  const box = element('div', { class: 'oc-only', 'data-testid': testId })
  box.append(element('h5', {}, title))
  if (axes.length === 0) {
    box.append(element('p', { class: 'muted small-text' }, 'None: every axis has a counterpart.'))
    return box
  }
  const list = element('ul', { class: 'oc-only-list' })
  for (const axis of axes) list.append(element('li', { 'data-testid': 'only-item', 'data-axis-id': axis.id }, axis.name))
  box.append(list)
  return box
}

export class ComparisonPanel {
  readonly el = element('div', { class: 'oc-comparison', 'data-testid': 'comparison' })
  private readonly pickA = element('select', { id: 'compare-a', 'data-testid': 'compare-a' })
  private readonly pickB = element('select', { id: 'compare-b', 'data-testid': 'compare-b' })
  private readonly compareButton = element('button', { type: 'submit', class: 'small', 'data-testid': 'compare-button' }, 'Compare')
  private readonly result = element('div', { class: 'oc-result', 'data-testid': 'comparison-result', hidden: '' })
  private readonly error = element('p', { class: 'error', role: 'alert', 'data-testid': 'comparison-error' })
  private readonly empty = element('p', { class: 'empty', 'data-testid': 'comparison-empty' }, 'Add a second group to compare.')
  private readonly form = element('form', { class: 'inline-form oc-pick', 'data-testid': 'comparison-form' })
  private study: string | undefined
  private shown: GroupComparison | undefined
  private loads = 0

  constructor () {
    this.form.append(
      element('label', { for: 'compare-a' }, 'Compare '), this.pickA,
      element('label', { for: 'compare-b' }, ' with '), this.pickB, ' ', this.compareButton,
    )
    this.el.append(this.empty, this.form, this.error, this.result)
    this.form.addEventListener('submit', (event) => {
      event.preventDefault()
      void this.compare()
    })
  }

  show (study: string, groups: readonly Group[]): void {
    this.study = study
    this.shown = undefined
    this.loads++
    this.result.hidden = true
    this.result.replaceChildren()
    this.error.textContent = ''
    this.groupsChanged(groups)
  }

  groupsChanged (groups: readonly Group[]): void {
    const keepA = this.pickA.value
    const keepB = this.pickB.value
    const options = (): HTMLOptionElement[] => groups.map((g) => element('option', { value: g.id }, g.name))
    this.pickA.replaceChildren(...options())
    this.pickB.replaceChildren(...options())
    const ids = groups.map((g) => g.id)
    this.pickA.value = ids.includes(keepA) ? keepA : (ids[0] ?? '')
    this.pickB.value = ids.includes(keepB) && keepB !== this.pickA.value ? keepB : (ids.find((id) => id !== this.pickA.value) ?? '')
    this.form.hidden = groups.length < 2
    this.empty.hidden = groups.length >= 2
  }

  private async compare (): Promise<void> {
    const study = this.study
    const a = this.pickA.value
    const b = this.pickB.value
    if (study === undefined || a === '' || b === '') return
    if (a === b) {
      this.error.textContent = 'Choose two different groups.'
      return
    }
    this.error.textContent = ''
    const load = ++this.loads
    try {
      const comparison = await whileBusy(this.compareButton, 'Comparing…', async () => await outputsApi.comparison(study, a, b))
      if (load !== this.loads || study !== this.study) return
      this.render(comparison)
    } catch (error) {
      if (load !== this.loads) return
      this.error.textContent = `The groups could not be compared: ${errorMessage(error)}`
    }
  }

  private render (comparison: GroupComparison): void {
    this.shown = comparison
    const nameA = comparison.group_a.name
    const nameB = comparison.group_b.name
    this.result.dataset['groupA'] = comparison.group_a.id
    this.result.dataset['groupB'] = comparison.group_b.id
    this.result.dataset['corrected'] = String(comparison.corrected)
    const state = comparison.corrected
      ? element('p', { class: 'oc-state oc-corrected', 'data-testid': 'comparison-corrected' },
        `Corrected by ${comparison.corrected_by ?? 'a facilitator'}` +
        (comparison.corrected_at !== null ? ` at ${formatDateTime(comparison.corrected_at)}` : '') + '.')
      : element('p', { class: 'oc-state hint', 'data-testid': 'comparison-automatic' },
        `Paired automatically by meaning (name and definition), one to one; below ${comparison.threshold.toFixed(2)} an axis has no counterpart.`)

    const table = element('table', { class: 'progress-table oc-pairs', 'data-testid': 'comparison-table' })
    const head = element('thead')
    const headRow = element('tr')
    headRow.append(element('th', { scope: 'col' }, nameA), element('th', { scope: 'col' }, nameB), element('th', { scope: 'col' }, 'Similarity'))
    head.append(headRow)
    const body = element('tbody')
    for (const pair of comparison.pairs) {
      const row = element('tr', { 'data-testid': 'comparison-pair', 'data-a-id': pair.a.id, 'data-b-id': pair.b.id })
      row.append(
        element('th', { scope: 'row', 'data-testid': 'pair-a' }, pair.a.name),
        element('td', { 'data-testid': 'pair-b' }, pair.b.name),
        similarityCell(pair.similarity),
      )
      body.append(row)
    }
    if (comparison.pairs.length === 0) {
      const row = element('tr')
      row.append(element('td', { colspan: '3', class: 'empty', 'data-testid': 'comparison-no-pairs' }, 'No pairs.'))
      body.append(row)
    }
    table.append(element('caption', { class: 'visually-hidden' }, `${nameA}’s and ${nameB}’s axes, paired`), head, body)
    const wrap = element('div', { class: 'table-wrap' })
    wrap.append(table)

    const only = element('div', { class: 'oc-only-lists' })
    only.append(onlyList('only-a', `${nameA}: no counterpart in ${nameB}`, comparison.only_a),
      onlyList('only-b', `${nameB}: no counterpart in ${nameA}`, comparison.only_b))

    const correct = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'correct-pairing' }, 'Correct the pairing')
    const tools = element('div', { class: 'oc-tools' })
    tools.append(correct)
    if (comparison.corrected) {
      const reset = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'reset-pairing' }, 'Back to automatic')
      reset.addEventListener('click', () => { void this.reset(reset) })
      tools.append(' ', reset)
    }
    const editor = element('div', { class: 'oc-editor' })
    correct.addEventListener('click', () => {
      correct.hidden = true
      editor.replaceChildren(this.editor(comparison, () => {
        editor.replaceChildren()
        correct.hidden = false
      }))
    })
    this.result.replaceChildren(state, wrap, only, tools, editor)
    this.result.hidden = false
  }

  /** For each axis of A, a choice of B's axes (or none). */
  private editor (comparison: GroupComparison, close: () => void): HTMLElement {
    const axesA = [...comparison.pairs.map((p) => p.a), ...comparison.only_a]
    const axesB = [...comparison.pairs.map((p) => p.b), ...comparison.only_b]
    const partner = new Map(comparison.pairs.map((p) => [p.a.id, p.b.id]))
    const form = element('form', { class: 'oc-pairing-form', 'data-testid': 'pairing-form' })
    form.append(element('p', { class: 'hint' },
      `For each axis of ${comparison.group_a.name}, its counterpart in ${comparison.group_b.name}, or none. Each axis is in at most one pair.`))
    const selects: Array<[AxisRef, HTMLSelectElement]> = []
    const list = element('div', { class: 'oc-pairing-rows' })
    axesA.forEach((axis, index) => {
      const id = `pairing-${index}`
      const row = element('div', { class: 'oc-pairing-row', 'data-testid': 'pairing-row', 'data-axis-id': axis.id })
      const select = element('select', { id, 'data-testid': 'pairing-select', 'data-axis-id': axis.id })
      select.append(element('option', { value: '' }, '— no counterpart —'),
        ...axesB.map((b) => element('option', { value: b.id }, b.name)))
      select.value = partner.get(axis.id) ?? ''
      row.append(element('label', { for: id }, axis.name), select)
      list.append(row)
      selects.push([axis, select])
    })
    if (axesA.length === 0) list.append(element('p', { class: 'empty' }, `${comparison.group_a.name} has no axes.`))
    const save = element('button', { type: 'submit', class: 'small', 'data-testid': 'save-pairing' }, 'Save')
    const cancel = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'cancel-pairing' }, 'Cancel')
    const error = element('p', { class: 'error', role: 'alert', 'data-testid': 'pairing-error' })
    const actions = element('div', { class: 'form-actions' })
    actions.append(save, ' ', cancel)
    form.append(list, actions, error)
    cancel.addEventListener('click', close)
    form.addEventListener('submit', (event) => {
      event.preventDefault()
      const pairs: Array<readonly [string, string]> = []
      const taken = new Map<string, string>()
      for (const [axis, select] of selects) {
        if (select.value === '') continue
        const before = taken.get(select.value)
        if (before !== undefined) {
          const name = axesB.find((b) => b.id === select.value)?.name ?? select.value
          error.textContent = `“${name}” is chosen for both “${before}” and “${axis.name}”: a pairing is one to one.`
          select.focus()
          return
        }
        taken.set(select.value, axis.name)
        pairs.push([axis.id, select.value])
      }
      error.textContent = ''
      void whileBusy(save, 'Saving…', async () => {
        const study = this.study
        if (study === undefined) return
        try {
          const saved = await outputsApi.correctComparison(study, comparison.group_a.id, comparison.group_b.id, pairs)
          if (study !== this.study) return
          this.render(saved)
        } catch (failure) {
          error.textContent = `The pairing was not saved: ${errorMessage(failure)}`
        }
      })
    })
    return form
  }

  private async reset (button: HTMLButtonElement): Promise<void> {
    const study = this.study
    const shown = this.shown
    if (study === undefined || shown === undefined) return
    try {
      const comparison = await whileBusy(button, 'Resetting…',
        async () => await outputsApi.resetComparison(study, shown.group_a.id, shown.group_b.id))
      if (study !== this.study) return
      this.render(comparison)
    } catch (error) {
      this.error.textContent = `The pairing could not be reset: ${errorMessage(error)}`
    }
  }
}
