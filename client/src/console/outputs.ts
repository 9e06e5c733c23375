/**
 * Outputs in the console's study view, one section: per group, its derived axes and what they feed —
 * download links for every export (axes as JSON, CSV and Markdown; LLM-judge rubrics; annotation
 * guidelines; the labelled-excerpt and SteerLM datasets; the classifiers), "Open report" (a printable
 * page in a new tab), "Train classifiers" (the server trains one per axis on demand, which takes a
 * few seconds; each axis's figures and note show in a table) and the group's A/B tests (abTests.ts);
 * then the cross-group comparison (comparison.ts). The section loads the groups' A/B tests and
 * attributes with the study and on Refresh; everything else waits for a click.
 */
import { errorMessage, type Group, type Study } from '../api'
import { element, whileBusy } from '../dom'
import { ABTestsPanel } from './abTests'
import { ComparisonPanel } from './comparison'
import { EXPORTS, outputHref, outputsApi, reportHref, serverModels, type Classifier, type Classifiers } from './outputsApi'
import './outputs.css'

const MODEL_LIST = 'ab-model-list'

function figure (value: number): string {
  return `${Math.round(value * 100)}%`
}

function classifierTable (trained: Classifiers): HTMLElement {
  if (trained.classifiers.length === 0) {
    return element('p', { class: 'empty', 'data-testid': 'classifiers-empty' },
      'Nothing to train on: no coded excerpts map to the group’s axes yet.')
  }
  const table = element('table', { class: 'progress-table oc-classifiers', 'data-testid': 'classifiers-table' })
  const head = element('thead')
  const headRow = element('tr')
  for (const title of ['Axis', 'Examples (+ / −)', 'Accuracy', 'Balanced', 'F1', 'Baseline', 'Note']) {
    headRow.append(element('th', { scope: 'col' }, title))
  }
  head.append(headRow)
  const body = element('tbody')
  const cells = (c: Classifier): string[] => c.figures === null
    ? ['—', '—', '—', '—']
    : [figure(c.figures.accuracy), figure(c.figures.balanced_accuracy), c.figures.f1.toFixed(2), figure(c.figures.majority_baseline)]
  for (const c of trained.classifiers) {
    const row = element('tr', { 'data-testid': 'classifier-row', 'data-axis': c.axis, 'data-trained': String(c.figures !== null) })
    row.append(element('th', { scope: 'row' }, c.axis), element('td', {}, `${c.examples} (${c.positives} / ${c.negatives})`),
      ...cells(c).map((text) => element('td', {}, text)),
      element('td', { class: 'small-text', 'data-testid': 'classifier-note' }, c.note))
    body.append(row)
  }
  table.append(element('caption', { class: 'visually-hidden' }, 'Each axis’s classifier, cross-validated'), head, body)
  const wrap = element('div', { class: 'table-wrap' })
  wrap.append(table)
  return wrap
}

class GroupOutputs {
  readonly el: HTMLElement
  readonly ab: ABTestsPanel
  private readonly title = element('h4', { 'data-testid': 'outputs-group-name' })

  constructor (study: string, group: Group, models: () => readonly string[]) {
    this.el = element('article', { class: 'oc-group', 'data-testid': 'outputs-group', 'data-group-id': group.id })
    this.title.textContent = group.name
    const exports = element('ul', { class: 'oc-exports', 'data-testid': 'exports', 'aria-label': `${group.name}: downloads` })
    for (const file of EXPORTS) {
      const item = element('li')
      item.append(element('a', { href: outputHref(study, group.id, file.path), download: `axes-${group.id}.${file.suffix}`, 'data-testid': `export-${file.key}` }, file.label))
      exports.append(item)
    }
    const report = element('a', {
      href: reportHref(study, group.id), target: '_blank', rel: 'noopener', class: 'button-link', 'data-testid': 'open-report',
    }, 'Open report')
    const train = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'train-classifiers' }, 'Train classifiers')
    const status = element('p', { class: 'muted small-text', role: 'status', 'aria-live': 'polite', 'data-testid': 'classifiers-status' })
    const result = element('div', { class: 'oc-classifier-result', 'data-testid': 'classifiers' })
    train.addEventListener('click', () => {
      status.textContent = 'Training a classifier per axis on the group’s labelled excerpts; this takes a few seconds…'
      result.dataset['state'] = 'training'
      void whileBusy(train, 'Training…', async () => {
        try {
          const trained = await outputsApi.classifiers(study, group.id)
          result.replaceChildren(classifierTable(trained))
          result.dataset['state'] = 'done'
          status.textContent = `Trained on ${trained.embedding_model} sentence embeddings: logistic regression, cross-validated where there is enough data.`
        } catch (error) {
          result.dataset['state'] = 'error'
          status.textContent = `The classifiers could not be trained: ${errorMessage(error)}`
        }
      })
    })
    const tools = element('div', { class: 'oc-tools' })
    tools.append(report, ' ', train)
    this.ab = new ABTestsPanel(study, group, models, MODEL_LIST)
    this.el.append(this.title, exports, tools, status, result,
      element('h5', { class: 'oc-subhead' }, 'A/B tests among participants'), this.ab.el)
  }

  rename (group: Group): void {
    this.title.textContent = group.name
  }
}

export class OutputsArea {
  readonly section: HTMLElement
  private readonly groupsEl = element('div', { class: 'oc-groups', 'data-testid': 'outputs-groups' })
  private readonly comparison = new ComparisonPanel()
  private readonly refreshButton = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'refresh-outputs' }, 'Refresh')
  private readonly modelList = element('datalist', { id: MODEL_LIST })
  private readonly error = element('p', { class: 'error', role: 'alert', 'data-testid': 'outputs-error' })
  private study: string | undefined
  private blocks = new Map<string, GroupOutputs>()
  private models: string[] = []
  private modelsAsked = false

  constructor () {
    this.section = element('section', { id: 'outputs-section', class: 'card', 'data-testid': 'outputs-section', 'aria-labelledby': 'outputs-title' })
    const head = element('div', { class: 'section-head' })
    const tools = element('div', { class: 'section-tools' })
    tools.append(this.refreshButton)
    head.append(element('h3', { id: 'outputs-title' }, 'Outputs'), tools)
    this.section.append(
      head,
      element('p', { class: 'hint' },
        'What each group’s Discuss session yields: its derived axes (name, definition, examples, provenance, rank and, once ' +
        'the session is closed, agreement) and what they feed — rubrics, guidelines, datasets, classifiers and A/B tests. ' +
        'Participants run A/B trials on their “Compare two replies” page (/ab/).'),
      this.groupsEl, this.error,
      element('h4', { class: 'oc-subhead' }, 'Compare two groups'),
      element('p', { class: 'hint' }, 'Their axes side by side, paired by meaning; you can correct the pairing, and your correction is kept.'),
      this.comparison.el, this.modelList,
    )
    this.refreshButton.addEventListener('click', () => {
      void whileBusy(this.refreshButton, 'Refreshing…', async () => { await this.loadAll() })
    })
  }

  /** Put the section in the study view after `after`, with a link in the study's `nav`. */
  mount (after: Element, nav: Element | null): void {
    after.after(this.section)
    if (nav === null) return
    nav.insertBefore(element('a', { href: '#outputs-section' }, 'Outputs'), nav.querySelector('a[href="#context-section"]'))
  }

  show (study: Study, groups: readonly Group[]): void {
    this.study = study.id
    this.blocks = new Map()
    this.error.textContent = ''
    this.comparison.show(study.id, groups)
    this.groupsChanged(groups)
    void this.loadModels()
  }

  groupsChanged (groups: readonly Group[]): void {
    const study = this.study
    if (study === undefined) return
    this.comparison.groupsChanged(groups)
    if (groups.length === 0) {
      this.groupsEl.replaceChildren(element('p', { class: 'empty', 'data-testid': 'outputs-empty' }, 'Add a group first.'))
      return
    }
    const blocks = new Map<string, GroupOutputs>()
    for (const group of groups) {
      let block = this.blocks.get(group.id)
      if (block === undefined) {
        block = new GroupOutputs(study, group, () => this.models)
        block.ab.modelsKnown()
        void block.ab.load()
      } else {
        block.rename(group)
      }
      blocks.set(group.id, block)
    }
    this.blocks = blocks
    this.groupsEl.replaceChildren(...[...blocks.values()].map((b) => b.el))
  }

  private async loadAll (): Promise<void> {
    await Promise.all([...this.blocks.values()].map(async (b) => { await b.ab.load() }))
  }

  private async loadModels (): Promise<void> {
    if (this.modelsAsked) return
    this.modelsAsked = true
    this.models = await serverModels()
    this.modelList.replaceChildren(...this.models.map((m) => element('option', { value: m })))
    for (const block of this.blocks.values()) block.ab.modelsKnown()
  }
}
