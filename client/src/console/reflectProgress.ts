/**
 * Reflect progress: per participant, their group, the replies they coded of those they may code
 * (their own and, with the shared sample, others'), the baseline responses coded, their codes and
 * clusters, a bar for everything coded so far, and links to their export (JSON and CSV).
 */
import type { Group } from '../api'
import { element } from '../dom'
import { reflectConsoleApi, type ExportFormat, type ReflectParticipantProgress } from './reflectApi'

const COLUMNS = ['Participant', 'Group', 'Coded', 'Responses', 'Baseline', 'Codes', 'Clusters', 'Export']

function fraction (done: number, total: number, testid: string): HTMLTableCellElement {
  const cell = element('td', { 'data-testid': testid, 'data-done': String(done), 'data-total': String(total) },
    `${done}/${total}`)
  if (total > 0 && done >= total) cell.classList.add('rc-complete')
  return cell
}

/** A bar of what is coded (replies and baseline together), with the share in words beside it. */
function bar (p: ReflectParticipantProgress): HTMLTableCellElement {
  const done = p.progress.responses_coded + p.progress.baseline_coded
  const total = p.progress.responses + p.progress.baseline
  const share = total === 0 ? 0 : done / total
  const cell = element('td', { class: 'rc-bar-cell' })
  const track = element('div', {
    class: 'rc-bar', role: 'progressbar', 'data-testid': 'reflect-bar', 'data-done': String(done), 'data-total': String(total),
    'aria-valuemin': '0', 'aria-valuemax': String(total), 'aria-valuenow': String(done),
    'aria-label': `${p.display_name}: ${done} of ${total} responses coded`,
  })
  const fill = element('span')
  fill.style.width = `${Math.round(share * 100)}%`
  track.append(fill)
  cell.append(track, element('span', { class: 'muted small-text rc-bar-text' }, `${Math.round(share * 100)}%`))
  return cell
}

function exportLink (study: string, p: ReflectParticipantProgress, format: ExportFormat): HTMLAnchorElement {
  return element('a', {
    href: reflectConsoleApi.exportHref(study, p.participant_id, format),
    download: `reflect-${p.participant_id}.${format}`,
    'data-testid': `export-${format}`,
    'aria-label': `${p.display_name}'s Reflect export as ${format.toUpperCase()}`,
  }, format.toUpperCase())
}

export class ReflectProgressTable {
  readonly el: HTMLElement
  private readonly table = element('table', { class: 'progress-table rc-progress-table', 'data-testid': 'reflect-progress-table' })
  private readonly empty = element('p', { class: 'empty', 'data-testid': 'reflect-empty' }, 'No participants yet.')

  constructor () {
    this.el = element('div', { class: 'rc-progress-wrap' })
    const wrap = element('div', { class: 'table-wrap' })
    wrap.append(this.table)
    this.el.append(wrap, this.empty)
    this.clear()
  }

  clear (): void {
    this.table.replaceChildren()
    this.table.hidden = true
    this.empty.hidden = true
  }

  render (study: string, people: readonly ReflectParticipantProgress[], groups: readonly Group[]): void {
    const groupName = (id: string): string => groups.find((g) => g.id === id)?.name ?? 'Unknown group'
    const sorted = [...people].sort((a, b) => groupName(a.group_id).localeCompare(groupName(b.group_id)) ||
      a.display_name.localeCompare(b.display_name) || a.participant_id.localeCompare(b.participant_id))
    this.empty.hidden = sorted.length > 0
    this.table.hidden = sorted.length === 0
    const head = element('thead')
    const headRow = element('tr')
    headRow.append(...COLUMNS.map((c) => element('th', { scope: 'col' }, c)))
    head.append(headRow)
    const body = element('tbody')
    for (const p of sorted) {
      const tr = element('tr', { 'data-testid': 'reflect-row', 'data-participant-id': p.participant_id, 'data-group-id': p.group_id })
      const links = element('td', { class: 'rc-exports' })
      links.append(exportLink(study, p, 'json'), document.createTextNode(' · '), exportLink(study, p, 'csv'))
      tr.append(
        element('th', { scope: 'row', 'data-testid': 'reflect-name' }, p.display_name),
        element('td', { 'data-testid': 'reflect-group' }, groupName(p.group_id)),
        bar(p),
        fraction(p.progress.responses_coded, p.progress.responses, 'reflect-responses'),
        fraction(p.progress.baseline_coded, p.progress.baseline, 'reflect-baseline'),
        element('td', { 'data-testid': 'reflect-codes' }, String(p.progress.codes)),
        element('td', { 'data-testid': 'reflect-clusters' }, String(p.progress.clusters)),
        links,
      )
      body.append(tr)
    }
    this.table.replaceChildren(
      element('caption', { class: 'visually-hidden' }, 'Reflect progress of every participant'), head, body)
  }
}
