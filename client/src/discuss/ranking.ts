/**
 * Segment 4's rankings: each participant picks their top three and top five of the group
 * attributes, in order (a select per place), and submits them privately (PUT …/discuss/ranking).
 * The aggregate — Borda and Schulze side by side for each size, the server's sentence about them
 * with the attributes named, and a plain mark when the two methods disagree — shows for the
 * facilitator always and for everyone once the facilitator reveals it.
 */
import { errorMessage } from '../api'
import { element, whileBusy } from '../dom'
import type { Aggregate, Ballot, DiscussApi, DiscussState } from './rest'

export interface Candidate {
  readonly id: string
  readonly name: string
}

/** `text` with every attribute id replaced by the attribute's name. */
export function withNames (text: string, names: ReadonlyMap<string, string>): string {
  let out = text
  for (const [id, name] of names) out = out.split(id).join(`“${name}”`)
  return out
}

/** The ids chosen in an ordered list of selects, blanks skipped; undefined when one is chosen twice. */
export function orderedChoice (values: readonly string[]): string[] | undefined {
  const chosen = values.filter((v) => v !== '')
  return new Set(chosen).size === chosen.length ? chosen : undefined
}

/** Ordered selects, one per place. */
export class OrderedPicker {
  readonly el: HTMLElement
  private readonly selects: HTMLSelectElement[] = []
  private offered = ''

  constructor (readonly places: number, label: string, testId: string) {
    this.el = element('fieldset', { class: 'ds-picker', 'data-testid': testId })
    this.el.append(element('legend', {}, label))
    const list = element('ol', { class: 'ds-picker-places' })
    for (let i = 0; i < places; i += 1) {
      const select = element('select', { 'aria-label': `${label}: place ${i + 1}`, 'data-testid': 'place', 'data-place': String(i + 1) })
      const li = element('li')
      li.append(select)
      list.append(li)
      this.selects.push(select)
    }
    this.el.append(list)
  }

  /** Offer `candidates` (keeping what was chosen when it is still standing). */
  setCandidates (candidates: readonly Candidate[]): void {
    const key = candidates.map((c) => `${c.id}=${c.name}`).join('\n')
    if (key === this.offered) return // unchanged: leave the selects alone (one may be open)
    this.offered = key
    for (const select of this.selects) {
      const keep = select.value
      select.replaceChildren(element('option', { value: '' }, '—'), ...candidates.map((c) => element('option', { value: c.id }, c.name)))
      select.value = candidates.some((c) => c.id === keep) ? keep : ''
    }
  }

  set (ids: readonly string[]): void {
    this.selects.forEach((select, i) => {
      const id = ids[i] ?? ''
      select.value = Array.from(select.options).some((o) => o.value === id) ? id : ''
    })
  }

  get values (): string[] {
    return this.selects.map((s) => s.value)
  }

  set disabled (on: boolean) {
    for (const select of this.selects) select.disabled = on
  }
}

function tiersList (order: ReadonlyArray<readonly string[]>, names: ReadonlyMap<string, string>, places: number,
  scores: ReadonlyMap<string, number> | undefined, testId: string): HTMLElement {
  const list = element('ol', { class: 'ds-tiers', 'data-testid': testId })
  let shown = 0
  for (const tier of order) {
    if (shown >= places) break
    const li = element('li', { 'data-testid': 'tier' })
    li.textContent = tier.map((id) => {
      const score = scores?.get(id)
      return `${names.get(id) ?? id}${score === undefined ? '' : ` (${score})`}`
    }).join(' = ')
    if (tier.length > 1) li.append(element('span', { class: 'hint' }, ' tie'))
    list.append(li)
    shown += tier.length
  }
  return list
}

/** One size's aggregate: Borda and Schulze side by side, and the sentence. */
export function aggregateView (title: string, aggregate: Aggregate, places: number, names: ReadonlyMap<string, string>, testId: string): HTMLElement {
  const box = element('section', { class: aggregate.disagree ? 'card ds-aggregate ds-disagree' : 'card ds-aggregate', 'data-testid': testId, 'data-disagree': String(aggregate.disagree) })
  box.append(element('h3', {}, `${title} · ${aggregate.ballots} ${aggregate.ballots === 1 ? 'ranking' : 'rankings'}`))
  const scores = new Map(aggregate.borda.map((b) => [b.attribute_id, b.score]))
  const sides = element('div', { class: 'ds-methods' })
  const borda = element('div', { class: 'ds-method' })
  borda.append(element('h4', {}, 'Borda count'), tiersList(aggregate.borda_order, names, places, scores, 'borda-order'))
  const schulze = element('div', { class: 'ds-method' })
  schulze.append(element('h4', {}, 'Schulze (Condorcet)'), tiersList(aggregate.schulze_order, names, places, undefined, 'schulze-order'))
  sides.append(borda, schulze)
  box.append(sides)
  if (aggregate.disagree) box.append(element('p', { class: 'ds-disagree-note', 'data-testid': 'disagree-note' }, 'The two methods disagree.'))
  box.append(element('p', { class: 'ds-summary', 'data-testid': 'aggregate-summary' }, withNames(aggregate.summary, names)))
  return box
}

export class RankingPanel {
  readonly el = element('div', { class: 'ds-ranking', 'data-testid': 'ranking' })
  private readonly form = element('form', { class: 'card', 'data-testid': 'ranking-form', novalidate: '' })
  private readonly top3 = new OrderedPicker(3, 'Your top three', 'ranking-top3')
  private readonly top5 = new OrderedPicker(5, 'Your top five', 'ranking-top5')
  private readonly submit = element('button', { type: 'submit', 'data-testid': 'ranking-submit' }, 'Submit my ranking')
  private readonly status = element('p', { class: 'saved', role: 'status', 'aria-live': 'polite', 'data-testid': 'ranking-status' })
  private readonly error = element('p', { class: 'error', role: 'alert', 'data-testid': 'ranking-error' })
  private readonly count = element('p', { class: 'ds-count', 'data-testid': 'rankings-count' })
  private readonly aggregate = element('div', { class: 'ds-aggregates', 'data-testid': 'aggregate' })
  private filled = false
  private candidates: readonly Candidate[] = []

  constructor (private readonly api: DiscussApi, private readonly onSaved: () => void) {
    const pickers = element('div', { class: 'ds-pickers' })
    pickers.append(this.top3.el, this.top5.el)
    this.form.append(element('h3', {}, 'Rank the group’s attributes'),
      element('p', { class: 'hint' }, 'Your top three and your top five, best first. Only the aggregate is shown.'),
      pickers, this.submit, this.status, this.error)
    this.form.addEventListener('submit', (event) => {
      event.preventDefault()
      void whileBusy(this.submit, 'Submitting…', async () => { await this.save() })
    })
    this.el.append(this.count, this.form, this.aggregate)
  }

  setCandidates (candidates: readonly Candidate[]): void {
    this.candidates = candidates
    this.top3.setCandidates(candidates)
    this.top5.setCandidates(candidates)
  }

  update (state: DiscussState): void {
    const participant = state.role === 'participant' && state.can_write
    this.form.hidden = !participant || state.segment !== 'discuss'
    const mine = state.mine?.ranking ?? null
    if (!this.filled && mine !== null) {
      this.top3.set(mine.top3)
      this.top5.set(mine.top5)
      this.filled = true
    }
    if (mine !== null) this.status.textContent = 'Your ranking is in. You can change it until the segment ends.'
    this.el.dataset['submitted'] = String(mine !== null)
    this.count.textContent = `${state.rankings_submitted} of ${state.participants} ${state.participants === 1 ? 'participant has' : 'participants have'} ranked.`
    const names = new Map(this.candidates.map((c) => [c.id, c.name]))
    for (const attribute of state.attributes) if (!names.has(attribute.id)) names.set(attribute.id, attribute.name)
    if (state.rankings === null) {
      this.aggregate.replaceChildren(element('p', { class: 'hint', 'data-testid': 'aggregate-hidden' }, 'The group’s aggregate shows once your facilitator reveals it.'))
      this.aggregate.dataset['shown'] = 'false'
      return
    }
    this.aggregate.dataset['shown'] = 'true'
    const revealed = state.reveals['rankings'] !== undefined
    this.aggregate.replaceChildren(
      element('h3', {}, revealed ? 'The group’s ranking' : 'The group’s ranking (only you see it until you reveal it)'),
      aggregateView('Top three', state.rankings.top3, 3, names, 'aggregate-top3'),
      aggregateView('Top five', state.rankings.top5, 5, names, 'aggregate-top5'))
  }

  private async save (): Promise<void> {
    const top3 = orderedChoice(this.top3.values)
    const top5 = orderedChoice(this.top5.values)
    if (top3 === undefined || top5 === undefined) {
      this.error.textContent = 'Pick each attribute once per list.'
      return
    }
    if (top3.length === 0 && top5.length === 0) {
      this.error.textContent = 'Pick at least your first choice.'
      return
    }
    const ballot: Ballot = { top3, top5 }
    try {
      await this.api.putRanking(ballot)
      this.error.textContent = ''
      this.status.textContent = 'Your ranking is in. You can change it until the segment ends.'
      this.onSaved()
    } catch (error) {
      this.error.textContent = errorMessage(error)
    }
  }
}
