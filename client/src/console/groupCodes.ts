/**
 * Each group's codes as the facilitator sees them: label, uses, how many people used it, and its
 * share of the group's uses as a bar (scaled to the most used code; the share in words beside it),
 * most used first. Before the release it is a preview that only the facilitator sees.
 */
import type { Group } from '../api'
import { element, formatDateTime } from '../dom'
import type { GroupCode, GroupCodes } from './reflectApi'

const COLUMNS = ['Code', 'Uses', 'People', 'Share of uses']

function percent (share: number): string {
  const value = share * 100
  return `${value > 0 && value < 1 ? value.toFixed(1) : Math.round(value)}%`
}

export function byUses (codes: readonly GroupCode[]): GroupCode[] {
  return [...codes].sort((a, b) => b.uses - a.uses || b.participants - a.participants || a.label.localeCompare(b.label))
}

function codeRow (code: GroupCode, top: number): HTMLTableRowElement {
  const tr = element('tr', { 'data-testid': 'group-code-row', 'data-label': code.label })
  const share = element('td', { 'data-testid': 'group-code-frequency', 'data-frequency': String(code.frequency) })
  const track = element('div', { class: 'rc-share', 'aria-hidden': 'true' })
  const fill = element('span')
  fill.style.width = `${top === 0 ? 0 : Math.round((100 * code.frequency) / top)}%`
  track.append(fill)
  share.append(track, element('span', { class: 'rc-share-text' }, percent(code.frequency)))
  tr.append(
    element('th', { scope: 'row', 'data-testid': 'group-code-label' }, code.label),
    element('td', { 'data-testid': 'group-code-uses' }, String(code.uses)),
    element('td', { 'data-testid': 'group-code-people' }, String(code.participants)),
    share,
  )
  return tr
}

/** One group's codes: a heading with whether participants see them, and the table. */
function groupBlock (group: Group, codes: GroupCodes | undefined, failed: string | undefined): HTMLElement {
  const released = codes?.released_at ?? null
  const block = element('section', {
    class: 'rc-group-codes', 'data-testid': 'group-codes-preview', 'data-group-id': group.id,
    'data-released': String(released !== null), 'aria-label': `Codes of ${group.name}`,
  })
  const head = element('div', { class: 'rc-group-head' })
  head.append(
    element('h4', { 'data-testid': 'group-codes-title' }, group.name),
    element('span', { class: `badge ${released === null ? 'badge-preview' : 'badge-open'}`, 'data-testid': 'group-codes-state' },
      released === null ? 'Preview' : 'Released'),
  )
  block.append(head)
  if (failed !== undefined) {
    block.append(element('p', { class: 'error', role: 'alert' }, failed))
    return block
  }
  if (codes === undefined) {
    block.append(element('p', { class: 'muted small-text' }, 'Loading…'))
    return block
  }
  block.append(element('p', { class: 'hint', 'data-testid': 'group-codes-note' }, released === null
    ? 'Only you see this: the group sees its codes once you release them.'
    : `Participants in this group see these codes (released ${formatDateTime(released)}).`))
  if (codes.codes.length === 0) {
    block.append(element('p', { class: 'empty', 'data-testid': 'group-codes-empty' }, 'No codes yet.'))
    return block
  }
  const sorted = byUses(codes.codes)
  const top = Math.max(...sorted.map((c) => c.frequency))
  const table = element('table', { class: 'progress-table rc-codes-table', 'data-testid': 'group-codes-table' })
  const headRow = element('tr')
  headRow.append(...COLUMNS.map((c) => element('th', { scope: 'col' }, c)))
  const thead = element('thead')
  thead.append(headRow)
  const body = element('tbody')
  body.append(...sorted.map((code) => codeRow(code, top)))
  table.append(element('caption', { class: 'visually-hidden' }, `Codes of ${group.name}, most used first`), thead, body)
  const wrap = element('div', { class: 'table-wrap' })
  wrap.append(table)
  block.append(wrap)
  return block
}

export class GroupCodesPanel {
  readonly el = element('div', { class: 'rc-group-codes-list', 'data-testid': 'group-codes-list' })
  private readonly empty = element('p', { class: 'empty' }, 'Add a group first.')

  clear (): void {
    this.el.replaceChildren()
  }

  /** `codes` by group id; `errors`: the groups whose codes could not be read, and why. */
  render (groups: readonly Group[], codes: ReadonlyMap<string, GroupCodes>, errors: ReadonlyMap<string, string>): void {
    if (groups.length === 0) {
      this.el.replaceChildren(this.empty)
      return
    }
    this.el.replaceChildren(...groups.map((g) => groupBlock(g, codes.get(g.id), errors.get(g.id))))
  }
}
