/**
 * "I'm done chatting": the participant says they have chatted enough (POST …/stages/interact/
 * complete), after a confirmation, and the page says that Reflect is now open (on their overview:
 * Reflect has no page yet). Their conversations stay, and they can go on chatting.
 */
import { api, errorMessage, type ParticipantStages } from '../api'
import { element, whileBusy } from '../dom'
import { STAGE_INFO, stageAfter, stageReasonText } from '../stages'

export class DoneChatting {
  readonly el: HTMLElement
  private readonly body: HTMLElement
  private readonly error: HTMLElement
  private done = false

  constructor (private readonly study: string, private readonly participant: string) {
    this.el = element('section', { class: 'card done-chatting', 'data-testid': 'done-chatting', 'aria-labelledby': 'done-chatting-title' })
    this.body = element('div', { class: 'done-chatting-body' })
    this.error = element('p', { class: 'error', role: 'alert', 'data-testid': 'done-chatting-error' })
    this.el.append(element('h2', { id: 'done-chatting-title' }, 'Done chatting?'), this.body, this.error)
    this.ask()
  }

  /** The participant's stages as the server says: once Interact is completed, say what is next. */
  show (stages: ParticipantStages): void {
    const interact = stages.stages.find((s) => s.stage === 'interact')
    if (interact !== undefined && interact.completed_at !== null) this.finished(stages)
  }

  private ask (): void {
    const button = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'done-chatting-button' },
      'I\'m done chatting')
    button.addEventListener('click', () => { this.confirm() })
    this.body.replaceChildren(
      element('p', { class: 'hint' }, 'Tell us when you have chatted enough; the next stage then opens.'),
      button,
    )
  }

  private confirm (): void {
    const yes = element('button', { type: 'button', class: 'small', 'data-testid': 'done-chatting-confirm' }, 'Yes, I\'m done')
    const no = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'done-chatting-cancel' }, 'Not yet')
    no.addEventListener('click', () => {
      this.error.textContent = ''
      this.ask()
    })
    yes.addEventListener('click', () => {
      this.error.textContent = ''
      no.disabled = true
      whileBusy(yes, 'Saving…', async () => await api.completeStage(this.study, this.participant, 'interact'))
        .then((stages) => { this.finished(stages) })
        .catch((e: unknown) => {
          no.disabled = false
          this.error.textContent = errorMessage(e)
        })
    })
    const actions = element('div', { class: 'form-actions' })
    actions.append(yes, no)
    this.body.replaceChildren(
      element('p', { 'data-testid': 'done-chatting-question' },
        'Are you done chatting with the model? Your conversations are kept, and you can still come back to chat.'),
      actions,
    )
    yes.focus()
  }

  private finished (stages: ParticipantStages): void {
    if (this.done) return
    this.done = true
    this.el.dataset['done'] = 'true'
    const next = stageAfter(stages.stages, 'interact')
    const overview = element('a', { href: '/me/', 'data-testid': 'done-chatting-overview' }, 'Your overview')
    if (next === undefined) {
      this.body.replaceChildren(element('p', {}, 'Thank you: you are done chatting.'), overview)
      return
    }
    const title = STAGE_INFO[next.stage].title
    const line = next.state === 'open'
      ? element('p', { class: 'next-open', 'data-testid': 'next-stage-open' }, `${title} is open`)
      : element('p', { class: 'next-closed', 'data-testid': 'next-stage-closed' },
        `${title} is not open yet. ${stageReasonText(next, 'interact')}`)
    const where = element('p', {})
    overview.textContent = 'your overview'
    where.append(`Thank you: you are done chatting. Find ${title} on `, overview, '.')
    this.body.replaceChildren(line, where)
  }
}
