/**
 * A timer on the page: what remains of one named timer of the control document, on the server's
 * clock, ticking while it runs. In the last minute it turns amber, once over red; a polite live
 * region says so once each (not every second). `data-phase` (idle, running, paused, over),
 * `data-urgency` (calm, warn, over) and `data-remaining-ms` are there for tests and styles.
 */
import type { Timer } from '../generated/control'
import { element } from '../dom'
import { formatRemaining, readTimer, urgency, type TimerReading, type Urgency } from './clock'
import type { ServerClock } from './serverClock'

const TICK_MS = 250

const PHASE_TEXT: { readonly [P in TimerReading['phase']]: string } = {
  idle: 'not started',
  running: 'left',
  paused: 'paused',
  over: 'time is up',
}

export class TimerView {
  readonly el: HTMLElement
  private readonly time = element('span', { class: 'ds-timer-time', 'data-testid': 'timer-time' })
  private readonly phase = element('span', { class: 'ds-timer-phase', 'data-testid': 'timer-phase' })
  private readonly announce = element('span', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' })
  private timer: Timer | undefined
  private ticking: ReturnType<typeof setInterval> | undefined
  private lastUrgency: Urgency | undefined

  constructor (readonly name: string, label: string, private readonly clock: ServerClock, testId: string) {
    this.el = element('p', { class: 'ds-timer', 'data-testid': testId, 'data-timer': name, 'data-phase': 'idle' })
    this.el.append(element('span', { class: 'ds-timer-label' }, label), ' ', this.time, ' ', this.phase, this.announce)
    this.el.hidden = true
    clock.onChange(() => { this.render() })
  }

  /** The timer as the latest control state has it (undefined: there is none). */
  set (timer: Timer | undefined): void {
    this.timer = timer
    this.render()
    const running = timer !== undefined && typeof timer.started_at === 'number'
    if (running && this.ticking === undefined) this.ticking = setInterval(() => { this.render() }, TICK_MS)
    if (!running && this.ticking !== undefined) {
      clearInterval(this.ticking)
      this.ticking = undefined
    }
  }

  private render (): void {
    const timer = this.timer
    this.el.hidden = timer === undefined
    if (timer === undefined) {
      this.lastUrgency = undefined
      return
    }
    const reading = readTimer(timer, this.clock.now())
    const level = urgency(reading)
    this.time.textContent = formatRemaining(reading.remainingMs)
    this.phase.textContent = PHASE_TEXT[reading.phase]
    this.el.dataset['phase'] = reading.phase
    this.el.dataset['urgency'] = level
    this.el.dataset['remainingMs'] = String(Math.round(reading.remainingMs))
    if (level !== this.lastUrgency) {
      if (this.lastUrgency !== undefined || level !== 'calm') {
        this.announce.textContent = level === 'over' ? 'Time is up.' : level === 'warn' ? 'Less than a minute left.' : ''
      }
      this.lastUrgency = level
    }
  }
}
