/**
 * Familiarize's steps — Orientation, Coding lesson, Practice, Check, then Done — and which of them
 * the participant has done, from the server's progress: a step is open once every step before it
 * is done, and the page resumes at the first step not done. A part the study leaves empty is left
 * out. `StepNav` is the list of steps and the overall progress bar at the top of the page.
 */
import { element } from '../dom'
import type { FamiliarizeView } from './rest'

export type StepId = 'orientation' | 'lesson' | 'practice' | 'check' | 'done'

export interface Step {
  readonly id: StepId
  readonly title: string
  readonly done: boolean
}

const TITLES: { readonly [S in StepId]: string } = {
  orientation: 'Orientation',
  lesson: 'Coding lesson',
  practice: 'Practice',
  check: 'Check',
  done: 'Done',
}

/** Whether the participant has finished Familiarize (now, or before the facilitator changed it). */
export function finished (view: FamiliarizeView): boolean {
  const stage = view.stages.find((s) => s.stage === 'familiarize')
  return view.progress.complete || (stage !== undefined && stage.completed_at !== null)
}

/** The study's steps with what is done; the last one, Done, is done once Familiarize is. */
export function stepsOf (view: FamiliarizeView): Step[] {
  const steps: Step[] = []
  if (view.orientation_pages.length > 0) steps.push({ id: 'orientation', title: TITLES.orientation, done: view.progress.orientation_done })
  if (view.lesson_pages.length > 0 || view.worked_examples.length > 0) {
    steps.push({ id: 'lesson', title: TITLES.lesson, done: view.progress.lesson_done })
  }
  if (view.practice.length > 0) {
    steps.push({ id: 'practice', title: TITLES.practice, done: view.practice.every((p) => p.my_codes !== null) })
  }
  if (view.check.items.length > 0) steps.push({ id: 'check', title: TITLES.check, done: view.check.passed })
  steps.push({ id: 'done', title: TITLES.done, done: finished(view) })
  return steps
}

/** Whether the participant may open `step`: every step before it is done (or Familiarize is). */
export function reachable (steps: readonly Step[], step: StepId, view: FamiliarizeView): boolean {
  if (finished(view)) return true
  const at = steps.findIndex((s) => s.id === step)
  return at >= 0 && steps.slice(0, at).every((s) => s.done)
}

/** Where to pick up: the first step not done (Done, once everything is). */
export function resumeStep (steps: readonly Step[]): StepId {
  return steps.find((s) => !s.done)?.id ?? 'done'
}

export function stepTitle (step: StepId): string {
  return TITLES[step]
}

/** The steps as a list to go back and forth in, and the overall progress bar. */
export class StepNav {
  readonly el: HTMLElement
  private readonly list: HTMLElement
  private readonly text: HTMLElement
  private readonly bar: HTMLElement
  private readonly fill: HTMLElement

  constructor (private readonly onPick: (step: StepId) => void) {
    this.el = element('nav', { class: 'steps-nav', 'aria-label': 'Steps of Familiarize' })
    const meter = element('div', { class: 'steps-progress' })
    this.bar = element('div', {
      class: 'meter', role: 'progressbar', 'aria-label': 'Familiarize: steps done', 'aria-valuemin': '0',
      'data-testid': 'overall-progress',
    })
    this.fill = element('span', { class: 'meter-fill' })
    this.bar.append(this.fill)
    this.text = element('p', { class: 'hint', 'data-testid': 'overall-progress-text' })
    meter.append(this.bar, this.text)
    this.list = element('ol', { class: 'steps', 'data-testid': 'step-list' })
    this.el.append(this.list, meter)
  }

  render (steps: readonly Step[], current: StepId, view: FamiliarizeView): void {
    const work = steps.filter((s) => s.id !== 'done')
    const done = work.filter((s) => s.done).length
    this.bar.setAttribute('aria-valuemax', String(work.length))
    this.bar.setAttribute('aria-valuenow', String(done))
    this.fill.style.width = work.length === 0 ? '100%' : `${(done / work.length) * 100}%`
    this.text.textContent = `${done} of ${work.length} steps done`
    this.list.replaceChildren(...steps.map((step, index) => {
      const state = step.id === current ? 'current' : step.done ? 'done' : 'todo'
      const item = element('li', { class: 'step', 'data-state': state })
      const open = reachable(steps, step.id, view)
      const button = element('button', {
        type: 'button', class: 'step-link', 'data-testid': 'step-link', 'data-step': step.id, 'data-state': state,
      })
      if (state === 'current') button.setAttribute('aria-current', 'step')
      button.disabled = !open
      if (!open) button.title = 'Finish the steps before this one first'
      button.append(
        element('span', { class: 'step-number', 'aria-hidden': 'true' }, step.done ? '✓' : String(index + 1)),
        element('span', { class: 'step-title' }, step.title),
      )
      if (step.done) button.append(element('span', { class: 'visually-hidden' }, ' (done)'))
      button.addEventListener('click', () => { this.onPick(step.id) })
      item.append(button)
      return item
    }))
  }
}
