/**
 * A group's A/B tests in the console's Outputs section: a form for a new test (a name, arm A's and arm
 * B's model and system prompt, the group's active attributes to judge along), the tests with their
 * trial counts, an Open/Close toggle, the preferences download and the results — per axis A's and
 * B's wins and the ties, A's win rate with its 95% interval drawn as a small bar from 0 to 100%, and
 * the server's caveat. Participants run the trials on /ab/; Results reads them again.
 */
import { errorMessage, type Group } from '../api'
import { element, whileBusy } from '../dom'
import { outputsApi, type ABAxisResult, type ABResults, type ABTest, type Arm, type GroupAttribute } from './outputsApi'

const SVG = 'http://www.w3.org/2000/svg'

function svg<K extends keyof SVGElementTagNameMap> (tag: K, attrs: Record<string, string>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag)
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value)
  return el
}

function pct (value: number): string {
  return `${Math.round(value * 100)}%`
}

/** A's win rate and its interval on a 0–100% line, with a tick at 50%. */
export function intervalBar (row: ABAxisResult): SVGSVGElement {
  const label = row.a_win_rate === null || row.ci_low === null || row.ci_high === null
    ? 'No decided choices yet'
    : `A's win rate ${pct(row.a_win_rate)}, 95% interval ${pct(row.ci_low)} to ${pct(row.ci_high)}`
  const bar = svg('svg', {
    viewBox: '0 0 100 12', preserveAspectRatio: 'none', class: 'ab-ci', role: 'img', 'aria-label': label, 'data-testid': 'ab-ci',
  })
  const title = svg('title', {})
  title.textContent = label
  bar.append(title,
    svg('line', { x1: '0', x2: '100', y1: '6', y2: '6', class: 'ab-ci-track' }),
    svg('line', { x1: '50', x2: '50', y1: '1', y2: '11', class: 'ab-ci-mid' }))
  if (row.a_win_rate !== null && row.ci_low !== null && row.ci_high !== null) {
    const low = row.ci_low * 100
    const high = row.ci_high * 100
    bar.append(
      svg('rect', { x: low.toFixed(2), width: Math.max(0.8, high - low).toFixed(2), y: '3', height: '6', class: 'ab-ci-range' }),
      svg('line', { x1: (row.a_win_rate * 100).toFixed(2), x2: (row.a_win_rate * 100).toFixed(2), y1: '0', y2: '12', class: 'ab-ci-point' }),
    )
  }
  return bar
}

function clip (text: string, length: number): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > length ? `${flat.slice(0, length - 1)}…` : flat
}

function armText (arm: Arm | undefined): string {
  if (arm === undefined) return '?'
  return arm.system_prompt.trim() === '' ? `${arm.model}, no system prompt` : `${arm.model} · “${clip(arm.system_prompt, 80)}”`
}

function resultsTable (results: ABResults): HTMLElement {
  const box = element('div', { class: 'ab-results', 'data-testid': 'ab-results', 'data-chosen': String(results.chosen) })
  box.append(element('p', { class: 'small-text', 'data-testid': 'ab-results-summary' },
    `${results.trials} trial${results.trials === 1 ? '' : 's'}, ${results.chosen} with choices made. ` +
    'Win rate: A’s share of the choices that were not ties, with a 95% interval.'))
  const table = element('table', { class: 'progress-table ab-results-table', 'data-testid': 'ab-results-table' })
  const head = element('thead')
  const headRow = element('tr')
  for (const title of ['Axis', 'A wins', 'Ties', 'B wins', 'A’s win rate (95% interval)']) headRow.append(element('th', { scope: 'col' }, title))
  head.append(headRow)
  const body = element('tbody')
  for (const row of results.axes) {
    const tr = element('tr', {
      'data-testid': 'ab-result-row', 'data-axis-id': row.axis.id, 'data-a-wins': String(row.a_wins),
      'data-b-wins': String(row.b_wins), 'data-ties': String(row.ties), 'data-decided': String(row.decided),
    })
    const rate = element('td', { class: 'ab-rate-cell' })
    const text = row.a_win_rate === null || row.ci_low === null || row.ci_high === null
      ? '— (no decided choices)'
      : `${pct(row.a_win_rate)} (${pct(row.ci_low)}–${pct(row.ci_high)})`
    rate.append(intervalBar(row), element('span', { class: 'ab-rate-text', 'data-testid': 'ab-rate' }, text))
    tr.append(
      element('th', { scope: 'row', 'data-testid': 'ab-result-axis' }, row.axis.name),
      element('td', { 'data-testid': 'ab-a-wins' }, String(row.a_wins)),
      element('td', { 'data-testid': 'ab-ties' }, String(row.ties)),
      element('td', { 'data-testid': 'ab-b-wins' }, String(row.b_wins)),
      rate,
    )
    body.append(tr)
  }
  table.append(element('caption', { class: 'visually-hidden' }, `Results of ${results.test.name}`), head, body)
  const wrap = element('div', { class: 'table-wrap' })
  wrap.append(table)
  box.append(wrap)
  if (results.caveat !== null) box.append(element('p', { class: 'hint ab-caveat', 'data-testid': 'ab-caveat' }, results.caveat))
  return box
}

export class ABTestsPanel {
  readonly el: HTMLElement
  private readonly form = element('form', { class: 'ab-form', 'data-testid': 'ab-form', novalidate: '' })
  private readonly name: HTMLInputElement
  private readonly arms: { readonly [arm in 'a' | 'b']: { model: HTMLInputElement, prompt: HTMLTextAreaElement } }
  private readonly axes = element('fieldset', { class: 'ab-axes', 'data-testid': 'ab-axes' })
  private readonly create = element('button', { type: 'submit', class: 'small', 'data-testid': 'create-ab' }, 'Create the A/B test')
  private readonly formError = element('p', { class: 'error', role: 'alert', 'data-testid': 'ab-form-error' })
  private readonly list = element('ul', { class: 'plain-list ab-list', 'data-testid': 'ab-list' })
  private readonly error = element('p', { class: 'error', role: 'alert', 'data-testid': 'ab-error' })
  private attributes: GroupAttribute[] = []
  private loads = 0

  constructor (private readonly study: string, private readonly group: Group, private readonly models: () => readonly string[],
    modelList: string) {
    this.el = element('div', { class: 'ab-tests', 'data-testid': 'ab-tests', 'data-group-id': group.id })
    const prefix = `ab-${group.id}`
    this.name = element('input', { id: `${prefix}-name`, 'data-testid': 'ab-name', maxlength: '200', autocomplete: 'off', placeholder: 'e.g. Short vs storyteller' })
    const arm = (key: 'a' | 'b'): { model: HTMLInputElement, prompt: HTMLTextAreaElement, box: HTMLElement } => {
      const box = element('fieldset', { class: 'ab-arm', 'data-testid': 'ab-arm', 'data-arm': key })
      const model = element('input', { id: `${prefix}-${key}-model`, 'data-testid': `ab-${key}-model`, list: modelList, maxlength: '100', autocomplete: 'off' })
      const prompt = element('textarea', { id: `${prefix}-${key}-prompt`, 'data-testid': `ab-${key}-prompt`, rows: '3', maxlength: '20000' })
      box.append(element('legend', {}, `Arm ${key.toUpperCase()}`),
        element('label', { for: model.id }, 'Model'), model,
        element('label', { for: prompt.id }, 'System prompt'), prompt)
      return { model, prompt, box }
    }
    const a = arm('a')
    const b = arm('b')
    this.arms = { a, b }
    const armsRow = element('div', { class: 'ab-arms' })
    armsRow.append(a.box, b.box)
    const details = element('details', { class: 'ab-new', 'data-testid': 'ab-new' })
    details.append(element('summary', { 'data-testid': 'ab-new-summary' }, 'New A/B test'), this.form)
    this.form.append(element('label', { for: this.name.id }, 'Name'), this.name, armsRow, this.axes, this.create, this.formError)
    this.el.append(details, this.list, this.error)
    this.form.addEventListener('submit', (event) => {
      event.preventDefault()
      void this.submit()
    })
  }

  /** Read the group's active attributes and its tests. */
  async load (): Promise<void> {
    const load = ++this.loads
    try {
      const [attributes, tests] = await Promise.all([
        outputsApi.attributes(this.study, this.group.id),
        outputsApi.abTests(this.study, this.group.id),
      ])
      if (load !== this.loads) return
      this.attributes = attributes.filter((a) => a.status === 'active')
      this.error.textContent = ''
      this.renderAxes()
      this.renderTests(tests)
    } catch (error) {
      if (load !== this.loads) return
      this.error.textContent = `The A/B tests could not be loaded: ${errorMessage(error)}`
    }
  }

  /** The models the server offers arrived: fill the model fields still empty. */
  modelsKnown (): void {
    const first = this.models()[0]
    if (first === undefined) return
    for (const key of ['a', 'b'] as const) {
      if (this.arms[key].model.value === '') this.arms[key].model.value = first
    }
  }

  private renderAxes (): void {
    const checked = new Set([...this.axes.querySelectorAll<HTMLInputElement>('input:checked')].map((i) => i.value))
    const first = this.axes.childElementCount === 0
    this.axes.replaceChildren(element('legend', {}, 'Judged along'))
    if (this.attributes.length === 0) {
      this.axes.append(element('p', { class: 'hint', 'data-testid': 'ab-no-axes' },
        'The group has no attributes yet: they come from its Discuss session (segment 4).'))
      this.create.disabled = true
      return
    }
    this.create.disabled = false
    for (const attribute of this.attributes) {
      const box = element('input', { type: 'checkbox', value: attribute.id, 'data-testid': 'ab-axis', 'data-axis-id': attribute.id })
      box.checked = first || checked.has(attribute.id)
      const label = element('label', { class: 'ab-axis' })
      label.append(box, ` ${attribute.name}`)
      this.axes.append(label)
    }
  }

  private renderTests (tests: readonly ABTest[]): void {
    if (tests.length === 0) {
      this.list.replaceChildren(element('li', { class: 'empty', 'data-testid': 'ab-empty' }, 'No A/B tests yet.'))
      return
    }
    this.list.replaceChildren(...tests.map((test) => this.testItem(test)))
  }

  private testItem (test: ABTest, results?: HTMLElement): HTMLElement {
    const item = element('li', { class: 'ab-test', 'data-testid': 'ab-test', 'data-ab-id': test.id, 'data-open': String(test.open) })
    const head = element('div', { class: 'ab-test-head' })
    head.append(
      element('strong', { 'data-testid': 'ab-test-name' }, test.name), ' ',
      element('span', { class: `badge ${test.open ? 'badge-open' : 'badge-closed'}`, 'data-testid': 'ab-test-state' }, test.open ? 'Open' : 'Closed'), ' ',
      element('span', { class: 'muted small-text', 'data-testid': 'ab-trials', 'data-trials': String(test.trials ?? 0) },
        `${test.trials ?? 0} trial${test.trials === 1 ? '' : 's'}`),
    )
    const arms = element('p', { class: 'small-text ab-test-arms', 'data-testid': 'ab-test-arms' },
      `A: ${armText(test.arms?.['a'])} — B: ${armText(test.arms?.['b'])}`)
    const axes = element('p', { class: 'muted small-text' }, `Judged along: ${test.axes.map((a) => a.name).join(', ')}`)
    const toggle = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'ab-toggle' },
      test.open ? 'Close to participants' : 'Open to participants')
    const show = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'ab-results-button' },
      results === undefined ? 'Results' : 'Refresh results')
    const preferences = element('a', { href: outputsApi.preferencesHref(this.study, test.id), download: `preferences-${test.id}.jsonl`, 'data-testid': 'ab-preferences' },
      'Preferences (JSONL)')
    const note = element('p', { class: 'error', role: 'alert', 'data-testid': 'ab-test-error' })
    const tools = element('div', { class: 'ab-test-tools' })
    tools.append(toggle, ' ', show, ' ', preferences)
    item.append(head, arms, axes, tools, note)
    if (results !== undefined) item.append(results)
    toggle.addEventListener('click', () => {
      void whileBusy(toggle, test.open ? 'Closing…' : 'Opening…', async () => {
        try {
          const updated = await outputsApi.setAbTestOpen(this.study, test.id, !test.open)
          item.replaceWith(this.testItem(updated, item.querySelector<HTMLElement>('[data-testid="ab-results"]') ?? undefined))
        } catch (error) {
          note.textContent = `Not changed: ${errorMessage(error)}`
        }
      })
    })
    show.addEventListener('click', () => {
      void whileBusy(show, 'Loading…', async () => {
        try {
          const loaded = await outputsApi.abResults(this.study, test.id)
          item.replaceWith(this.testItem(loaded.test, resultsTable(loaded)))
        } catch (error) {
          note.textContent = `The results could not be loaded: ${errorMessage(error)}`
        }
      })
    })
    return item
  }

  private async submit (): Promise<void> {
    const name = this.name.value.trim()
    const arm = (key: 'a' | 'b'): Arm => ({ model: this.arms[key].model.value.trim(), system_prompt: this.arms[key].prompt.value })
    const a = arm('a')
    const b = arm('b')
    const axes = [...this.axes.querySelectorAll<HTMLInputElement>('input[data-testid="ab-axis"]:checked')].map((i) => i.value)
    const models = this.models()
    const fail = (message: string, focus?: HTMLElement): void => {
      this.formError.textContent = message
      focus?.focus()
    }
    if (name === '') { fail('Give the test a name.', this.name); return }
    for (const key of ['a', 'b'] as const) {
      const model = key === 'a' ? a.model : b.model
      if (model === '') { fail(`Choose arm ${key.toUpperCase()}’s model.`, this.arms[key].model); return }
      if (models.length > 0 && !models.includes(model)) {
        fail(`This server has no model “${model}”; it offers: ${models.join(', ')}.`, this.arms[key].model)
        return
      }
    }
    if (a.model === b.model && a.system_prompt.trim() === b.system_prompt.trim()) {
      fail('The two arms are the same: change the model or the system prompt of one.', this.arms.b.prompt)
      return
    }
    if (axes.length === 0) { fail('Choose at least one attribute to judge along.'); return }
    this.formError.textContent = ''
    await whileBusy(this.create, 'Creating…', async () => {
      try {
        await outputsApi.createAbTest(this.study, { group_id: this.group.id, name, a, b, axes })
        this.name.value = ''
        this.form.closest('details')?.removeAttribute('open')
        await this.load()
      } catch (error) {
        this.formError.textContent = `The test was not created: ${errorMessage(error)}`
      }
    })
  }
}
