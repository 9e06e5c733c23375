/**
 * Done: Familiarize is finished. When the next stage (Interact) is open, a button moves the
 * participant there (PUT …/participants/{pid}/progress, unless they are there or further already)
 * and opens its page; when it is not open, the page says why, in the server's words.
 */
import { api, errorMessage } from '../api'
import { element, whileBusy } from '../dom'
import { STAGE_INFO, STAGE_PAGE, stageAfter, stageReasonText } from '../stages'
import { panel, type StepPanel } from './panel'
import type { FamiliarizeView } from './rest'

const OVERVIEW = '/me/'

export class DoneStep implements StepPanel {
  readonly el: HTMLElement
  private readonly body: HTMLElement
  private shown = ''

  constructor (private readonly study: string, private readonly participant: string, view: FamiliarizeView) {
    this.el = panel('done', 'You have finished Familiarize', '')
    this.body = element('div', { class: 'done-body' })
    this.el.append(this.body)
    this.update(view)
  }

  update (view: FamiliarizeView): void {
    const next = stageAfter(view.stages, 'familiarize')
    const key = JSON.stringify(next ?? null)
    if (key === this.shown) return
    this.shown = key
    const overview = element('a', { href: OVERVIEW, 'data-testid': 'overview-link' }, 'Your overview')
    if (next === undefined) {
      this.body.replaceChildren(element('p', {}, 'Thank you. That was the last stage of this study.'), overview)
      return
    }
    const title = STAGE_INFO[next.stage].title
    if (next.state !== 'open') {
      this.body.replaceChildren(
        element('p', { class: 'next-closed', 'data-testid': 'next-closed' },
          `${title} is not open for you yet. ${stageReasonText(next, 'familiarize')}`),
        element('p', {}, 'Your overview shows it as soon as it opens.'),
        overview,
      )
      return
    }
    const go = element('button', { type: 'button', 'data-testid': 'continue-next' }, `Continue to ${title}`)
    const error = element('p', { class: 'error', role: 'alert', 'data-testid': 'continue-error' })
    go.addEventListener('click', () => {
      error.textContent = ''
      whileBusy(go, `Opening ${title}…`, async () => {
        const stages = await api.stages(this.study, this.participant)
        const order = stages.stages.map((s) => s.stage)
        if (order.indexOf(stages.current) < order.indexOf(next.stage)) {
          await api.moveTo(this.study, this.participant, next.stage)
        }
        window.location.assign(STAGE_PAGE[next.stage] ?? OVERVIEW)
      }).catch((e: unknown) => { error.textContent = errorMessage(e) })
    })
    const actions = element('div', { class: 'form-actions' })
    actions.append(go, overview)
    this.body.replaceChildren(
      element('p', { class: 'next-open', 'data-testid': 'next-open' }, `${title} is open`),
      element('p', {}, `${STAGE_INFO[next.stage].summary}`),
      actions,
      error,
    )
  }

  opened (): void {}
}
