/**
 * Segment 3, presentations: everyone's top three, the spotlighted speaker's highlighted on every
 * page, with the speaker's timer; participants raise or lower their hand, and everyone sees the
 * queue in the order hands went up. Who is speaking and the queue come from the control state;
 * the facilitator spotlights from their controls.
 */
import { element } from '../dom'
import type { ControlState } from '../generated/control'
import type { DiscussState } from './rest'
import { peopleTop3 } from './top3'

export interface PresentActions {
  readonly raise: () => Promise<void>
  readonly lower: () => Promise<void>
}

export class PresentPanel {
  readonly el = element('div', { class: 'ds-present', 'data-testid': 'present' })
  private readonly speakerLine = element('p', { class: 'ds-speaker', 'data-testid': 'current-speaker', role: 'status', 'aria-live': 'polite' })
  private readonly timerSlot = element('div', { class: 'ds-speaker-timer' })
  private readonly hand = element('button', { type: 'button', 'data-testid': 'hand-button', 'aria-pressed': 'false' }, 'Raise your hand')
  private readonly handError = element('p', { class: 'error', role: 'alert', 'data-testid': 'hand-error' })
  private readonly queue = element('ol', { class: 'ds-queue', 'data-testid': 'queue' })
  private readonly queueEmpty = element('p', { class: 'hint', 'data-testid': 'queue-empty' }, 'No hands up.')
  private readonly people = element('div', { class: 'ds-present-people' })
  private raised = false

  constructor (private readonly me: string | null, canRaise: boolean, actions: PresentActions, speakerTimer: HTMLElement) {
    const side = element('aside', { class: 'card ds-queue-box', 'aria-labelledby': 'queue-title' })
    side.append(element('h3', { id: 'queue-title' }, 'Hands up'), this.queue, this.queueEmpty)
    if (canRaise) {
      side.append(this.hand, this.handError)
      this.hand.addEventListener('click', () => {
        this.hand.disabled = true
        const action = this.raised ? actions.lower : actions.raise
        action().then(() => { this.handError.textContent = '' }, (error: unknown) => {
          this.handError.textContent = `That did not work: ${error instanceof Error ? error.message : String(error)}`
        }).finally(() => { this.hand.disabled = false })
      })
    }
    this.timerSlot.append(speakerTimer)
    const main = element('div', { class: 'ds-present-main' })
    main.append(this.speakerLine, this.timerSlot, this.people)
    this.el.append(main, side)
  }

  update (state: DiscussState, control: ControlState, names: ReadonlyMap<string, string>): void {
    const speaker = control.speaker
    const name = (id: string): string => id === this.me ? 'You' : names.get(id) ?? 'A participant'
    this.speakerLine.textContent = speaker === null ? 'Nobody is speaking yet.' : `Speaking now: ${name(speaker)}`
    this.speakerLine.dataset['speaker'] = speaker ?? ''
    this.people.replaceChildren(state.top3 === null
      ? element('p', { class: 'hint', 'data-testid': 'top3-not-revealed' }, 'The top threes have not been revealed yet.')
      : peopleTop3(state.top3, speaker, this.me))

    this.queue.replaceChildren(...control.queue.map((id) => element('li', {
      class: id === this.me ? 'ds-queue-item ds-mine' : 'ds-queue-item', 'data-testid': 'queue-item', 'data-participant-id': id,
    }, name(id))))
    this.queueEmpty.hidden = control.queue.length > 0
    this.raised = this.me !== null && control.queue.includes(this.me)
    this.hand.textContent = this.raised ? 'Lower your hand' : 'Raise your hand'
    this.hand.setAttribute('aria-pressed', String(this.raised))
    this.hand.dataset['raised'] = String(this.raised)
  }
}
