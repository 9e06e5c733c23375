/**
 * The facilitator's controls: move the session back or on (the segments named), a timer's start
 * (with a length in minutes) / pause / +1 minute / reset, reveal everyone's top three, reveal the
 * rankings, and the spotlight (a participant, the next raised hand, or nobody). Every control is a
 * command on /live; the server checks the role and the page shows the result when the new control
 * state arrives. Moving to another segment resets the segment timer to its length.
 */
import { element } from '../dom'
import type { Command, ControlState, Segment } from '../generated/control'
import { readTimer } from './clock'
import { SEGMENT_INFO, neighbours } from './segments'
import type { ServerClock } from './serverClock'

export type Send = (command: Command) => Promise<void>

const MINUTE = 60_000
const MAX_MINUTES = 240

/** Start / pause / +1 min / reset for one named timer. */
export class TimerControls {
  readonly el: HTMLElement
  private readonly minutes: HTMLInputElement
  private readonly start = element('button', { type: 'button', class: 'small', 'data-testid': 'timer-start' }, 'Start')
  private readonly pause = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'timer-pause' }, 'Pause')
  private readonly extend = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'timer-extend' }, '+1 min')
  private readonly reset = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'timer-reset' }, 'Reset')
  private state: ControlState | undefined

  constructor (private readonly timer: string, label: string, defaultMinutes: number, private readonly clock: ServerClock,
    private readonly send: (command: Command) => Promise<void>, testId: string) {
    this.el = element('div', { class: 'ds-timer-controls', 'data-testid': testId, 'data-timer': timer })
    const id = `timer-minutes-${timer}`
    this.minutes = element('input', { id, type: 'number', min: '1', max: String(MAX_MINUTES), step: '1', value: String(defaultMinutes), 'data-testid': 'timer-minutes' })
    const field = element('label', { for: id, class: 'ds-minutes' }, `${label} (minutes)`)
    this.el.append(field, this.minutes, this.start, this.pause, this.extend, this.reset)
    this.start.addEventListener('click', () => { void this.onStart() })
    this.pause.addEventListener('click', () => { void this.send({ name: 'timer.pause', timer }) })
    this.extend.addEventListener('click', () => { void this.send({ name: 'timer.extend', timer, by_ms: MINUTE }) })
    this.reset.addEventListener('click', () => {
      const length = this.length()
      void this.send(length === undefined ? { name: 'timer.reset', timer } : { name: 'timer.reset', timer, duration_ms: length })
    })
  }

  private length (): number | undefined {
    const minutes = Number(this.minutes.value)
    if (!Number.isFinite(minutes) || minutes <= 0) return undefined
    return Math.round(Math.min(MAX_MINUTES, minutes) * MINUTE)
  }

  private async onStart (): Promise<void> {
    const current = this.state?.timers[this.timer]
    const phase = readTimer(current, this.clock.now()).phase
    const length = this.length()
    if (current !== undefined && phase === 'paused') {
      await this.send({ name: 'timer.start', timer: this.timer })
      return
    }
    if (length === undefined) {
      this.minutes.focus()
      return
    }
    if (current !== undefined && phase === 'over') await this.send({ name: 'timer.reset', timer: this.timer, duration_ms: length })
    await this.send({ name: 'timer.start', timer: this.timer, duration_ms: length })
  }

  update (state: ControlState): void {
    this.state = state
    const current = state.timers[this.timer]
    const phase = current === undefined ? 'none' : readTimer(current, this.clock.now()).phase
    this.start.disabled = phase === 'running'
    this.start.textContent = phase === 'paused' ? 'Resume' : 'Start'
    this.pause.disabled = phase !== 'running'
    this.extend.disabled = current === undefined
    this.el.dataset['phase'] = phase
  }
}

export interface Participant {
  readonly id: string
  readonly name: string
}

export class FacilitatorControls {
  readonly el = element('section', { class: 'card ds-controls', 'data-testid': 'controls', 'aria-labelledby': 'controls-title' })
  private readonly back = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'segment-back' })
  private readonly next = element('button', { type: 'button', class: 'small', 'data-testid': 'segment-next' })
  private readonly segmentTimer: TimerControls
  private readonly speakerTimer: TimerControls
  private readonly revealTop3 = element('button', { type: 'button', class: 'small', 'data-testid': 'reveal-top3' }, 'Reveal everyone’s top three')
  private readonly revealRankings = element('button', { type: 'button', class: 'small', 'data-testid': 'reveal-rankings' }, 'Reveal the rankings')
  private readonly spotlightBox = element('div', { class: 'ds-spotlight', 'data-testid': 'spotlight-box' })
  private readonly spotlight = element('select', { id: 'spotlight-select', 'data-testid': 'spotlight-select' })
  private readonly spotlightButton = element('button', { type: 'button', class: 'small', 'data-testid': 'spotlight' }, 'Spotlight')
  private readonly nextHand = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'spotlight-next-hand' }, 'Next raised hand')
  private readonly clear = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'clear-spotlight' }, 'Clear the spotlight')
  private readonly error = element('p', { class: 'error', role: 'alert', 'data-testid': 'controls-error' })
  private participants: readonly Participant[] = []
  private state: ControlState | undefined

  constructor (clock: ServerClock, send: Send) {
    const run = async (command: Command): Promise<void> => {
      try {
        await send(command)
        this.error.textContent = ''
      } catch (error) {
        this.error.textContent = `The server refused: ${error instanceof Error ? error.message : String(error)}`
      }
    }
    this.segmentTimer = new TimerControls('segment', 'Segment timer', 5, clock, run, 'segment-timer-controls')
    this.speakerTimer = new TimerControls('speaker', 'Speaker timer', 3, clock, run, 'speaker-timer-controls')
    const move = (segment: Segment | undefined): void => {
      if (segment === undefined) return
      void (async () => {
        await run({ name: 'segment.set', segment })
        const timer = this.state?.timers['segment']
        if (timer !== undefined && (timer.started_at !== null || timer.paused_remaining_ms !== null)) await run({ name: 'timer.reset', timer: 'segment' })
      })()
    }
    this.back.addEventListener('click', () => { move(this.state === undefined ? undefined : neighbours(this.state.segment).back) })
    this.next.addEventListener('click', () => { move(this.state === undefined ? undefined : neighbours(this.state.segment).next) })
    this.revealTop3.addEventListener('click', () => { void run({ name: 'reveal', what: 'top3' }) })
    this.revealRankings.addEventListener('click', () => { void run({ name: 'reveal', what: 'rankings' }) })
    this.spotlightButton.addEventListener('click', () => {
      if (this.spotlight.value !== '') void run({ name: 'speaker.set', participant: this.spotlight.value })
    })
    this.nextHand.addEventListener('click', () => {
      const first = this.state?.queue[0]
      if (first !== undefined) void run({ name: 'speaker.set', participant: first })
    })
    this.clear.addEventListener('click', () => { void run({ name: 'speaker.set', participant: null }) })

    const segmentRow = element('div', { class: 'ds-control-row' })
    segmentRow.append(this.back, this.next)
    this.spotlightBox.append(element('label', { for: 'spotlight-select' }, 'Speaker'), this.spotlight, this.spotlightButton, this.nextHand, this.clear, this.speakerTimer.el)
    const reveals = element('div', { class: 'ds-control-row' })
    reveals.append(this.revealTop3, this.revealRankings)
    this.el.append(element('h2', { id: 'controls-title' }, 'Facilitator'), segmentRow, this.segmentTimer.el, reveals, this.spotlightBox, this.error)
  }

  setParticipants (participants: readonly Participant[]): void {
    this.participants = participants
    if (this.state !== undefined) this.update(this.state)
  }

  update (state: ControlState): void {
    this.state = state
    const { back, next } = neighbours(state.segment)
    this.back.hidden = back === undefined
    this.back.textContent = back === undefined ? '' : `← Back to ${SEGMENT_INFO[back].short}`
    this.next.hidden = next === undefined
    this.next.textContent = next === undefined ? '' : next === 'closed' ? 'Close the session' : `Next: ${SEGMENT_INFO[next].short} →`
    this.segmentTimer.update(state)
    this.speakerTimer.update(state)

    const top3Revealed = state.reveals['top3'] !== undefined
    this.revealTop3.disabled = top3Revealed
    this.revealTop3.textContent = top3Revealed ? 'Top threes revealed' : 'Reveal everyone’s top three'
    this.revealTop3.hidden = state.segment !== 'top3' && !top3Revealed
    const rankingsRevealed = state.reveals['rankings'] !== undefined
    this.revealRankings.disabled = rankingsRevealed
    this.revealRankings.textContent = rankingsRevealed ? 'Rankings revealed' : 'Reveal the rankings'
    this.revealRankings.hidden = state.segment !== 'discuss' && !rankingsRevealed

    this.spotlightBox.hidden = state.segment !== 'present'
    const keep = this.spotlight.value
    this.spotlight.replaceChildren(element('option', { value: '' }, 'Choose a participant'),
      ...this.participants.map((p) => element('option', { value: p.id }, `${p.name}${state.queue.includes(p.id) ? ' ✋' : ''}`)))
    this.spotlight.value = this.participants.some((p) => p.id === keep) ? keep : ''
    this.nextHand.disabled = state.queue.length === 0
    this.clear.disabled = state.speaker === null
  }
}
