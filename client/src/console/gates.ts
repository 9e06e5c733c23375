/**
 * Stage gating in the console: the facilitator's overrides (a stage opened or closed for a group
 * or a person), the select that sets one, and a stage status's reason in a few words.
 */
import type { Stage } from '../generated/control'
import { element } from '../dom'
import type { StageSetBy } from '../api'
import type { OverrideState, OverrideTarget, StageOverride, StageStatus } from './familiarizeApi'

/** Set an override; resolves once the server has it (and the views are refreshed), rejects with the reason it failed. */
export type SetOverride = (target: OverrideTarget, stage: Stage, state: OverrideState) => Promise<void>

export class Overrides {
  private list: readonly StageOverride[] = []

  set (list: readonly StageOverride[]): void {
    this.list = list
  }

  of (scope: StageOverride['scope'], target: string, stage: Stage): OverrideState {
    return this.list.find((o) => o.scope === scope && o.target_id === target && o.stage === stage)?.state ?? 'default'
  }
}

/**
 * Why a stage is open or closed, in a few words (the server's words in full as the title), from
 * what decided it (`set_by`): the facilitator's override for the person or the group, or else the
 * rule, by which the first stage is open and each next one opens once the one before is completed.
 * `first`: whether it is the participant's first stage.
 */
export function reasonOf (status: StageStatus, first: boolean): { kind: StageSetBy, text: string } {
  switch (status.set_by) {
    case 'person': return { kind: 'person', text: 'set for this person' }
    case 'group': return { kind: 'group', text: 'set for the group' }
    default: {
      if (status.state === 'closed') return { kind: 'rule', text: 'previous stage not done' }
      return { kind: 'rule', text: first ? 'first stage' : 'previous stage done' }
    }
  }
}

/**
 * A select showing the override in force (`default`: none) and setting another on change; while
 * the server answers it is disabled, and on failure it goes back and `onError` says why.
 */
export function overrideSelect (
  label: string, current: OverrideState, defaultText: string, attrs: Record<string, string>,
  apply: (state: OverrideState) => Promise<void>, onError: (error: unknown) => void,
): HTMLSelectElement {
  const select = element('select', { ...attrs, 'aria-label': label, class: 'gate-select' })
  select.append(
    element('option', { value: 'default' }, defaultText),
    element('option', { value: 'open' }, 'Open'),
    element('option', { value: 'closed' }, 'Closed'),
  )
  select.value = current
  select.dataset['state'] = current
  select.addEventListener('change', () => {
    const chosen = select.value
    const state: OverrideState = chosen === 'open' || chosen === 'closed' ? chosen : 'default'
    select.disabled = true
    select.setAttribute('aria-busy', 'true')
    apply(state)
      .then(() => { select.dataset['state'] = state })
      .catch((error: unknown) => {
        select.value = select.dataset['state'] ?? 'default'
        onError(error)
      })
      .finally(() => {
        select.disabled = false
        select.removeAttribute('aria-busy')
      })
  })
  return select
}

/** Run `render`, which replaces the elements of `container`; the control that had focus in it has it again after. */
export function keepingFocus (container: HTMLElement, render: () => void): void {
  const active = document.activeElement
  const key = active instanceof HTMLElement && container.contains(active) ? focusKey(active) : undefined
  render()
  if (key === undefined) return
  const again = [...container.querySelectorAll<HTMLElement>('[data-testid]')].find((el) => focusKey(el) === key)
  again?.focus()
}

function focusKey (el: HTMLElement): string {
  const d = el.dataset
  return [d['testid'], d['stage'], d['groupId'], d['participantId']].join('|')
}
