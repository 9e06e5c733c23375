/**
 * Stage access for groups: for each group and stage, whether the facilitator opened or closed it
 * for the whole group or left it to the rule (a stage opens when the one before is completed).
 */
import { errorMessage, type Group } from '../api'
import type { Stage } from '../generated/control'
import { element } from '../dom'
import { stageTitle } from '../stages'
import { keepingFocus, overrideSelect, type Overrides, type SetOverride } from './gates'

export class StageAccessPanel {
  readonly section: HTMLElement
  private readonly table = element('table', { class: 'progress-table access-table', 'data-testid': 'group-access' })
  private readonly empty = element('p', { class: 'empty', 'data-testid': 'group-access-empty' }, 'Add a group first.')
  private readonly status = element('p', { class: 'saved', role: 'status', 'aria-live': 'polite', 'data-testid': 'access-status' })
  private readonly error = element('p', { class: 'error', role: 'alert', 'data-testid': 'access-error' })

  constructor (private readonly setOverride: SetOverride) {
    this.section = element('section', { id: 'access-section', class: 'card', 'data-testid': 'access-section', 'aria-labelledby': 'access-title' })
    this.section.append(
      element('h3', { id: 'access-title' }, 'Stage access'),
      element('p', { class: 'hint' },
        'By the rule, each participant’s first stage is open and each next one opens when they complete the one ' +
        'before (Familiarize: by passing the check). Open or close a stage for a whole group here, or for one ' +
        'person in the Familiarize results; a person’s setting beats the group’s. Closing a stage loses nothing.'),
    )
    const wrap = element('div', { class: 'table-wrap' })
    wrap.append(this.table)
    this.section.append(wrap, this.empty, this.status, this.error)
  }

  clear (): void {
    this.status.textContent = ''
    this.error.textContent = ''
  }

  render (groups: readonly Group[], order: readonly Stage[], overrides: Overrides): void {
    this.empty.hidden = groups.length > 0
    this.table.hidden = groups.length === 0
    const head = element('thead')
    const headRow = element('tr')
    headRow.append(element('th', { scope: 'col' }, 'Group'), ...order.map((stage) => element('th', { scope: 'col' }, stageTitle(stage))))
    head.append(headRow)
    const body = element('tbody')
    for (const group of groups) {
      const tr = element('tr', { 'data-testid': 'group-access-row', 'data-group-id': group.id })
      tr.append(element('th', { scope: 'row' }, group.name))
      for (const stage of order) {
        const cell = element('td')
        const current = overrides.of('group', group.id, stage)
        cell.append(overrideSelect(
          `${stageTitle(stage)} for ${group.name}`, current, 'By the rule',
          { 'data-testid': 'group-override', 'data-stage': stage, 'data-group-id': group.id },
          async (state) => {
            this.clear()
            await this.setOverride({ group_id: group.id }, stage, state)
            this.status.textContent = state === 'default'
              ? `${stageTitle(stage)} follows the rule again for ${group.name}.`
              : `${stageTitle(stage)} is ${state === 'open' ? 'open' : 'closed'} for ${group.name}.`
          },
          (error) => { this.error.textContent = errorMessage(error) },
        ))
        tr.append(cell)
      }
      body.append(tr)
    }
    keepingFocus(this.table, () => {
      this.table.replaceChildren(element('caption', { class: 'visually-hidden' }, 'Each group’s access to each stage'), head, body)
    })
  }
}
