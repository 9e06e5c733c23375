/** What every step of the Familiarize page has in common: its panel, and how it talks to the page. */
import { element } from '../dom'
import type { FamiliarizeView } from './rest'
import type { StepId } from './steps'

export interface StepContext {
  readonly study: string
  /** The server answered a step with the whole view: bring every part of the page up to date. */
  readonly onView: (view: FamiliarizeView) => void
  /** Go on to the step after `from`. */
  readonly next: (from: StepId) => void
}

export interface StepPanel {
  readonly el: HTMLElement
  /** The view changed (an answer, a reload of the view). */
  update: (view: FamiliarizeView) => void
  /** The participant opened the step. */
  opened: (view: FamiliarizeView) => void
}

/** A step's panel: a card with a heading and a short lead. */
export function panel (step: StepId, title: string, lead: string): HTMLElement {
  const el = element('section', { class: 'card step-panel', 'data-testid': `step-${step}`, 'aria-labelledby': `step-${step}-title` })
  el.append(element('h2', { id: `step-${step}-title`, tabindex: '-1' }, title))
  if (lead !== '') el.append(element('p', { class: 'step-lead muted' }, lead))
  return el
}
