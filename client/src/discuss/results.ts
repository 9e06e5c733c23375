/**
 * After the session closes, the facilitator's consensus figures (GET …/discuss/consensus): per
 * participant, Kendall's tau and the top-three overlap between their segment-1 and segment-5
 * rankings; the group's Kendall's W before and after; per definition the Likert median, IQR and
 * share agreeing (also as a small bar chart, inline SVG); Krippendorff's alpha across the
 * definitions; each with the server's small-sample caveat where it applies.
 */
import { errorMessage } from '../api'
import { element } from '../dom'
import type { Consensus, DiscussApi, LikertFigures } from './rest'

const SVG = 'http://www.w3.org/2000/svg'

export function formatNumber (value: number | null, digits = 2): string {
  return value === null || !Number.isFinite(value) ? '—' : value.toFixed(digits)
}

export function formatShare (value: number | null): string {
  return value === null || !Number.isFinite(value) ? '—' : `${Math.round(value * 100)}%`
}

function table (testId: string, head: readonly string[], rows: ReadonlyArray<{ cells: readonly string[], attrs?: Record<string, string> }>): HTMLElement {
  const wrap = element('div', { class: 'table-wrap' })
  const t = element('table', { class: 'progress-table ds-table', 'data-testid': testId })
  const thead = element('thead')
  const tr = element('tr')
  for (const h of head) tr.append(element('th', { scope: 'col' }, h))
  thead.append(tr)
  const tbody = element('tbody')
  for (const row of rows) {
    const r = element('tr', row.attrs ?? {})
    row.cells.forEach((cell, i) => { r.append(i === 0 ? element('th', { scope: 'row' }, cell) : element('td', {}, cell)) })
    tbody.append(r)
  }
  t.append(thead, tbody)
  wrap.append(t)
  return wrap
}

function caveat (what: string, text: string | null, testId: string): HTMLElement | string {
  if (text === null || text === '') return ''
  const p = element('p', { class: 'ds-caveat', 'data-testid': testId })
  p.append(element('strong', {}, `${what}: `), text)
  return p
}

/** A horizontal bar per definition: the share of people agreeing (4 or 5). */
export function shareChart (likert: readonly LikertFigures[]): SVGSVGElement {
  const rowHeight = 26
  const labelWidth = 180
  const barWidth = 260
  const width = labelWidth + barWidth + 50
  const height = Math.max(1, likert.length) * rowHeight + 8
  const svg = document.createElementNS(SVG, 'svg')
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`)
  svg.setAttribute('width', String(width))
  svg.setAttribute('height', String(height))
  svg.setAttribute('role', 'img')
  svg.setAttribute('class', 'ds-chart')
  svg.setAttribute('data-testid', 'likert-chart')
  const title = document.createElementNS(SVG, 'title')
  title.textContent = 'Share agreeing with each definition'
  svg.append(title)
  likert.forEach((row, i) => {
    const y = 4 + i * rowHeight
    const share = row.share_agreeing !== null && Number.isFinite(row.share_agreeing) ? Math.min(1, Math.max(0, row.share_agreeing)) : 0
    const label = document.createElementNS(SVG, 'text')
    label.setAttribute('x', String(labelWidth - 8))
    label.setAttribute('y', String(y + rowHeight / 2 + 4))
    label.setAttribute('text-anchor', 'end')
    label.setAttribute('class', 'ds-chart-label')
    label.textContent = row.name.length > 28 ? `${row.name.slice(0, 27)}…` : row.name
    const track = document.createElementNS(SVG, 'rect')
    track.setAttribute('x', String(labelWidth))
    track.setAttribute('y', String(y + 4))
    track.setAttribute('width', String(barWidth))
    track.setAttribute('height', String(rowHeight - 10))
    track.setAttribute('class', 'ds-chart-track')
    const bar = document.createElementNS(SVG, 'rect')
    bar.setAttribute('x', String(labelWidth))
    bar.setAttribute('y', String(y + 4))
    bar.setAttribute('width', String(Math.round(barWidth * share)))
    bar.setAttribute('height', String(rowHeight - 10))
    bar.setAttribute('class', 'ds-chart-bar')
    bar.setAttribute('data-testid', 'likert-bar')
    bar.setAttribute('data-share', String(share))
    const value = document.createElementNS(SVG, 'text')
    value.setAttribute('x', String(labelWidth + barWidth + 6))
    value.setAttribute('y', String(y + rowHeight / 2 + 4))
    value.setAttribute('class', 'ds-chart-value')
    value.textContent = formatShare(row.share_agreeing)
    svg.append(label, track, bar, value)
  })
  return svg
}

export class ResultsPanel {
  readonly el = element('div', { class: 'ds-results', 'data-testid': 'results' })
  private readonly status = element('p', { class: 'hint', role: 'status', 'aria-live': 'polite' })

  constructor (private readonly api: DiscussApi) {
    this.el.append(this.status)
  }

  async load (): Promise<void> {
    this.status.textContent = 'Computing the figures…'
    try {
      this.render(await this.api.consensus())
    } catch (error) {
      this.el.replaceChildren(this.status)
      this.status.textContent = `The figures could not be loaded: ${errorMessage(error)}`
    }
  }

  private render (figures: Consensus): void {
    const names = new Map(figures.attributes.map((a) => [a.id, a.name]))
    const ranking = (ids: readonly string[] | null): string => ids === null ? '—' : ids.map((id) => names.get(id) ?? id).join(', ') || '—'

    const people = element('section', { class: 'card', 'data-testid': 'consensus-people' })
    people.append(element('h3', {}, 'Each person, before and after'),
      element('p', { class: 'hint' }, 'Segment 1 (their top three, matched to the group attributes) against segment 5 (their final ranking).'),
      table('consensus-people-table', ['Participant', 'Segment 1', 'Segment 5', 'Kendall’s tau', 'Top-three overlap'],
        figures.participants.map((p) => ({
          cells: [p.display_name, ranking(p.segment1), ranking(p.segment5), formatNumber(p.kendall_tau), formatShare(p.top3_overlap)],
          attrs: { 'data-testid': 'consensus-person', 'data-participant-id': p.participant_id },
        }))))

    const group = element('section', { class: 'card', 'data-testid': 'consensus-group' })
    group.append(element('h3', {}, 'The group’s agreement'),
      table('consensus-group-table', ['Figure', 'Before (segment 1)', 'After (segment 5)'], [
        { cells: [`Kendall’s W (${figures.kendalls_w_people} people)`, formatNumber(figures.kendalls_w_before), formatNumber(figures.kendalls_w_after)], attrs: { 'data-testid': 'kendalls-w' } },
        { cells: ['Krippendorff’s alpha (ordinal, the ratings)', '', formatNumber(figures.krippendorff_alpha)], attrs: { 'data-testid': 'krippendorff-alpha' } },
      ]),
      caveat('Kendall’s W', figures.kendalls_w_caveat, 'kendalls-w-caveat'),
      caveat('Krippendorff’s alpha', figures.krippendorff_caveat, 'krippendorff-caveat'))

    // the same caveat on every row (the usual case: it is about the group's size) is said once, below the table
    const caveats = new Set(figures.likert.map((row) => row.caveat ?? ''))
    const shared = caveats.size === 1 ? [...caveats][0] ?? '' : undefined
    const likert = element('section', { class: 'card', 'data-testid': 'consensus-likert' })
    likert.append(element('h3', {}, 'Agreement with each definition'),
      table('likert-table', ['Attribute', 'Ratings', 'Median', 'IQR (Q1–Q3)', 'Share agreeing', ...(shared === undefined ? ['Caveat'] : [])],
        figures.likert.map((row) => ({
          cells: [row.name, String(row.n), formatNumber(row.median, 1),
            row.iqr === null ? '—' : `${formatNumber(row.iqr, 1)} (${formatNumber(row.q1, 1)}–${formatNumber(row.q3, 1)})`,
            formatShare(row.share_agreeing), ...(shared === undefined ? [row.caveat ?? ''] : [])],
          attrs: { 'data-testid': 'likert-row', 'data-attribute-id': row.attribute_id },
        }))),
      element('p', { class: 'hint' }, 'Share agreeing: rated 4 (agree) or 5 (strongly agree).'),
      caveat('Every definition', shared ?? null, 'likert-caveat'))
    if (figures.likert.length > 0) likert.append(shareChart(figures.likert))
    this.status.textContent = ''
    this.el.replaceChildren(this.status, people, group, likert)
  }
}
