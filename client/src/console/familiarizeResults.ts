/**
 * Familiarize results: per participant, their group and stage, orientation and lesson read,
 * practice items coded, check attempts, best score and when they passed; each stage open or
 * closed and why, with the facilitator's setting for that person. A summary says how many passed.
 */
import { errorMessage, type Group } from '../api'
import type { Stage } from '../generated/control'
import { element, formatDateTime } from '../dom'
import { stageTitle } from '../stages'
import type { FamiliarizeResult, FamiliarizeResults } from './familiarizeApi'
import { keepingFocus, overrideSelect, reasonOf, type Overrides, type SetOverride } from './gates'

const COLUMNS = ['Participant', 'Group', 'Now at', 'Orientation', 'Lesson', 'Practice', 'Check attempts', 'Best score', 'Passed']

function percent (share: number): string {
  return `${Math.round(share * 100)}%`
}

function done (yes: boolean, testid: string): HTMLTableCellElement {
  const cell = element('td', { 'data-testid': testid, 'data-done': String(yes), class: yes ? 'yes' : 'no' })
  cell.append(element('span', { 'aria-hidden': 'true' }, yes ? '✓' : '–'), element('span', { class: 'visually-hidden' }, yes ? 'done' : 'not yet'))
  return cell
}

export class ResultsPanel {
  readonly section: HTMLElement
  private readonly summary = element('p', { class: 'results-summary', 'data-testid': 'results-summary' })
  private readonly bar = element('div', { class: 'pass-bar', 'aria-hidden': 'true' })
  private readonly fill = element('span')
  private readonly detail = element('p', { class: 'hint', 'data-testid': 'results-detail' })
  private readonly table = element('table', { class: 'progress-table results-table', 'data-testid': 'results-table' })
  private readonly empty = element('p', { class: 'empty', 'data-testid': 'results-empty' }, 'No participants yet.')
  private readonly refreshed = element('p', { class: 'muted small-text refreshed', 'data-testid': 'results-refreshed', role: 'status', 'aria-live': 'polite' })
  private readonly error = element('p', { class: 'error', role: 'alert', 'data-testid': 'results-error' })
  readonly refreshButton = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'refresh-results' }, 'Refresh')

  constructor (private readonly setOverride: SetOverride) {
    this.section = element('section', { id: 'results-section', class: 'card', 'data-testid': 'results-section', 'aria-labelledby': 'results-title' })
    const head = element('div', { class: 'section-head' })
    const tools = element('div', { class: 'section-tools' })
    tools.append(this.refreshed, this.refreshButton)
    head.append(element('h3', { id: 'results-title' }, 'Familiarize results'), tools)
    this.bar.append(this.fill)
    const wrap = element('div', { class: 'table-wrap' })
    wrap.append(this.table)
    this.section.append(head, this.summary, this.bar, this.detail, wrap, this.empty, this.error)
    this.clear()
  }

  clear (): void {
    this.summary.textContent = ''
    this.detail.textContent = ''
    this.bar.hidden = true
    this.table.replaceChildren()
    this.table.hidden = true
    this.empty.hidden = true
    this.refreshed.textContent = ''
    this.error.textContent = ''
  }

  failed (error: unknown): void {
    this.error.textContent = `The results could not be loaded: ${errorMessage(error)}`
  }

  render (results: FamiliarizeResults, groups: readonly Group[], order: readonly Stage[], overrides: Overrides): void {
    this.error.textContent = ''
    const people = [...results.participants]
    const groupName = (id: string): string => groups.find((g) => g.id === id)?.name ?? 'Unknown group'
    people.sort((a, b) => groupName(a.group_id).localeCompare(groupName(b.group_id)) ||
      a.display_name.localeCompare(b.display_name) || a.participant_id.localeCompare(b.participant_id))
    const passed = people.filter((p) => p.passed_at !== null).length
    const total = people.length
    this.summary.textContent = total === 0
      ? `No one has taken the check yet (pass mark ${percent(results.pass_mark)}).`
      : `${passed} of ${total} passed the check (pass mark ${percent(results.pass_mark)}).`
    this.summary.dataset['passed'] = String(passed)
    this.summary.dataset['total'] = String(total)
    this.fill.style.width = total === 0 ? '0' : `${(100 * passed) / total}%`
    this.bar.hidden = total === 0
    const count = (test: (p: FamiliarizeResult) => boolean): number => people.filter(test).length
    this.detail.textContent = total === 0 ? '' :
      `Orientation read: ${count((p) => p.orientation_done)} · lesson read: ${count((p) => p.lesson_done)} · ` +
      `all ${results.practice_items} practice items coded: ${count((p) => p.practice_done >= results.practice_items)} · ` +
      `took the check: ${count((p) => p.attempts > 0)}`
    this.empty.hidden = total > 0
    this.table.hidden = total === 0
    keepingFocus(this.table, () => {
      const head = element('thead')
      const headRow = element('tr')
      headRow.append(...COLUMNS.map((c) => element('th', { scope: 'col' }, c)))
      head.append(headRow)
      const bodies = people.map((p) => this.row(p, results, groupName(p.group_id), order, overrides))
      this.table.replaceChildren(element('caption', { class: 'visually-hidden' }, 'Familiarize results of every participant'), head, ...bodies)
    })
    this.refreshed.textContent = `Updated ${new Date().toLocaleTimeString(undefined, { timeStyle: 'short' })}`
  }

  /** A participant's results, and under them their stages: a tbody of two rows. */
  private row (p: FamiliarizeResult, results: FamiliarizeResults, group: string, order: readonly Stage[], overrides: Overrides): HTMLTableSectionElement {
    const body = element('tbody', { 'data-testid': 'result-row', 'data-participant-id': p.participant_id, 'data-passed': String(p.passed_at !== null) })
    const tr = element('tr')
    tr.append(
      element('th', { scope: 'row', 'data-testid': 'result-name' }, p.display_name),
      element('td', { 'data-testid': 'result-group' }, group),
      element('td', { 'data-testid': 'result-current' }, stageTitle(p.current)),
      done(p.orientation_done, 'result-orientation'),
      done(p.lesson_done, 'result-lesson'),
      element('td', { 'data-testid': 'result-practice' }, `${p.practice_done}/${results.practice_items}`),
      element('td', { 'data-testid': 'result-attempts' }, String(p.attempts)),
      element('td', { 'data-testid': 'result-best' }, p.best_score === null ? '–' : percent(p.best_score)),
      element('td', { 'data-testid': 'result-passed' }, p.passed_at === null ? 'not yet' : formatDateTime(p.passed_at)),
    )
    const stages = element('td', { colspan: String(COLUMNS.length), class: 'gates-cell' })
    const listLabel = element('span', { class: 'gates-label muted small-text', id: `gates-${p.participant_id}` }, 'Stages:')
    const list = element('ul', { class: 'gates', 'aria-labelledby': listLabel.id })
    for (const [index, status] of p.stages.entries()) {
      if (!order.includes(status.stage)) continue
      const reason = reasonOf(status, index === 0)
      const item = element('li', {
        'data-testid': 'participant-stage', 'data-stage': status.stage, 'data-state': status.state, 'data-reason': reason.kind,
      })
      item.append(
        element('span', { class: 'gate-stage' }, stageTitle(status.stage)),
        element('span', { class: `badge badge-${status.state}`, 'data-testid': 'stage-state' }, status.state),
        element('span', { class: 'gate-reason muted small-text', 'data-testid': 'stage-reason', title: status.reason }, reason.text),
        overrideSelect(
          `${stageTitle(status.stage)} for ${p.display_name}`, overrides.of('participant', p.participant_id, status.stage),
          'As the group',
          { 'data-testid': 'participant-override', 'data-stage': status.stage, 'data-participant-id': p.participant_id },
          async (state) => {
            this.error.textContent = ''
            await this.setOverride({ participant_id: p.participant_id }, status.stage, state)
          },
          (error) => { this.error.textContent = errorMessage(error) },
        ),
      )
      list.append(item)
    }
    const box = element('div', { class: 'gates-box' })
    box.append(listLabel, list)
    stages.append(box)
    const gates = element('tr', { class: 'gates-row' })
    gates.append(stages)
    body.append(tr, gates)
    return body
  }
}
