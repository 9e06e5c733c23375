/**
 * The participant's stage overview: each stage of the study with what happens in it and where the
 * participant stands, as the server's stage gating says: done, you are here, open or closed, with
 * the reason (finished the stage before, opened by the facilitator…). A stage with a page links to
 * it; an open stage ahead offers to move on. Text only; no HTML from the server.
 */
import type { ParticipantStages } from '../api'
import { element } from '../dom'
import type { Stage } from '../generated/control'
import { STAGE_INFO, STAGE_PAGE, stageViews, type StageStatus, type StageView } from '../stages'

const STATUS_TEXT: { readonly [S in StageStatus]: string } = {
  done: 'Done',
  current: 'You are here',
  open: 'Open',
  closed: 'Closed',
}

export interface StageListOptions {
  /** The participant's stages; undefined for an observer (no personal progress). */
  readonly stages: ParticipantStages | undefined
  /** Called when the participant asks to move on to an open stage. */
  readonly onAdvance?: (stage: Stage, button: HTMLButtonElement) => void
}

/**
 * The link to the page where the stage is done (`familiarize-link`, `interact-link`): to do it when
 * it is open; when it is closed, a quiet link to the page, which says why it is closed (the
 * facilitator may open it at any moment).
 */
function stageLink (view: StageView): HTMLElement | undefined {
  const page = STAGE_PAGE[view.stage]
  if (page === undefined) return undefined
  const title = STAGE_INFO[view.stage].title
  let text = view.stage === 'interact' ? 'Chat with the model' : view.status === 'done' ? `Look at ${title} again` : `Open ${title}`
  if (!view.open) text = `The ${title} page (not open for you yet)`
  return element('a', {
    href: page,
    class: view.status === 'current' && view.open ? 'stage-link primary-link' : view.open ? 'stage-link' : 'stage-link muted',
    'data-testid': `${view.stage}-link`,
    'data-open': String(view.open),
  }, text)
}

function stageItem (view: StageView | { readonly stage: Stage }, index: number, ahead: boolean,
  options: StageListOptions): HTMLElement {
  const info = STAGE_INFO[view.stage]
  const item = element('li', { class: 'stage', 'data-testid': 'stage-item', 'data-stage': view.stage })
  const body = element('div', { class: 'stage-body' })
  const head = element('div', { class: 'stage-head' })
  head.append(element('h3', { class: 'stage-title' }, info.title))
  body.append(head, element('p', { class: 'stage-summary' }, info.summary))
  if (!('status' in view)) {
    item.append(element('span', { class: 'stage-number', 'aria-hidden': 'true' }, String(index + 1)), body)
    return item
  }
  item.dataset['status'] = view.status
  item.dataset['state'] = view.open ? 'open' : 'closed'
  if (view.status === 'current') item.setAttribute('aria-current', 'step')
  head.append(element('span', { class: `badge badge-${view.status}`, 'data-testid': 'stage-status' }, STATUS_TEXT[view.status]))
  if (view.status === 'current' && view.completedAt !== null) {
    head.append(element('span', { class: 'badge badge-done', 'data-testid': 'stage-completed' }, 'Done'))
  }
  if (view.status !== 'done' || !view.open) {
    body.append(element('p', { class: 'stage-reason hint', 'data-testid': 'stage-reason' }, view.reason))
  }
  const actions = element('div', { class: 'stage-actions' })
  const link = stageLink(view)
  if (link !== undefined) actions.append(link)
  if (view.open && ahead && view.status !== 'current' && options.onAdvance !== undefined) {
    const onAdvance = options.onAdvance
    const button = element('button', { type: 'button', 'data-testid': 'advance-button', class: 'small' },
      `Continue to ${info.title}`)
    button.addEventListener('click', () => { onAdvance(view.stage, button) })
    actions.append(button)
  }
  if (actions.childElementCount > 0) body.append(actions)
  const number = element('span', { class: 'stage-number', 'aria-hidden': 'true' }, view.status === 'done' ? '✓' : String(index + 1))
  item.append(number, body)
  return item
}

export function renderStageList (list: HTMLElement, order: readonly Stage[], options: StageListOptions): void {
  const stages = options.stages
  if (stages === undefined) {
    list.replaceChildren(...order.map((stage, index) => stageItem({ stage }, index, false, options)))
    return
  }
  const views = stageViews(stages)
  const at = views.findIndex((v) => v.stage === stages.current)
  list.replaceChildren(...views.map((view, index) => stageItem(view, index, index > at, options)))
}

/** One line on where the participant is, for the top of the overview. */
export function whereNowText (order: readonly Stage[], current: Stage): string {
  const at = order.indexOf(current)
  if (at < 0) return `You are in ${STAGE_INFO[current].title}.`
  return `You are in stage ${at + 1} of ${order.length}: ${STAGE_INFO[current].title}.`
}
