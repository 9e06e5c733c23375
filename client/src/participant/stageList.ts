/**
 * The participant's stage overview: each stage of the study with what happens in it and where the
 * participant stands (done, you are here, open next, locked). Text only; no HTML from the server.
 */
import { element } from '../dom'
import type { Stage } from '../generated/control'
import { STAGE_INFO, stageStatuses, type StageStatus } from '../stages'

const STATUS_TEXT: { readonly [S in StageStatus]: string } = {
  done: 'Done',
  current: 'You are here',
  open: 'Open next',
  locked: 'Locked',
}

export interface StageListOptions {
  /** Where the participant is; undefined for an observer (no personal progress). */
  readonly current: Stage | undefined
  /** Called when the participant asks to move on to the open stage. */
  readonly onAdvance?: (stage: Stage, button: HTMLButtonElement) => void
}

export function renderStageList (list: HTMLElement, order: readonly Stage[], options: StageListOptions): void {
  const statuses = options.current === undefined
    ? order.map((stage) => ({ stage, status: undefined }))
    : stageStatuses(order, options.current)
  list.replaceChildren(...statuses.map(({ stage, status }, index) => {
    const info = STAGE_INFO[stage]
    const item = element('li', { class: 'stage', 'data-testid': 'stage-item', 'data-stage': stage })
    if (status !== undefined) item.dataset['status'] = status
    if (status === 'current') item.setAttribute('aria-current', 'step')
    const number = element('span', { class: 'stage-number', 'aria-hidden': 'true' }, status === 'done' ? '✓' : String(index + 1))
    const body = element('div', { class: 'stage-body' })
    const head = element('div', { class: 'stage-head' })
    head.append(element('h3', { class: 'stage-title' }, info.title))
    if (status !== undefined) {
      head.append(element('span', { class: `badge badge-${status}`, 'data-testid': 'stage-status' }, STATUS_TEXT[status]))
    }
    body.append(head, element('p', { class: 'stage-summary' }, info.summary))
    if (status === 'open' && options.onAdvance !== undefined) {
      const onAdvance = options.onAdvance
      const button = element('button', { type: 'button', 'data-testid': 'advance-button', class: 'small' },
        `Continue to ${info.title}`)
      button.addEventListener('click', () => { onAdvance(stage, button) })
      body.append(button)
    }
    item.append(number, body)
    return item
  }))
}

/** One line on where the participant is, for the top of the overview. */
export function whereNowText (order: readonly Stage[], current: Stage): string {
  const at = order.indexOf(current)
  if (at < 0) return `You are in ${STAGE_INFO[current].title}.`
  return `You are in stage ${at + 1} of ${order.length}: ${STAGE_INFO[current].title}.`
}
