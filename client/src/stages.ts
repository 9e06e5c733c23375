/**
 * The four stages of a CALMA study (shared_schema/control.json `Stage`), in words, and where a
 * participant stands in each: done, current, open (the next one: a participant may move one
 * stage ahead) or locked.
 */
import type { Stage } from './generated/control'

export const STAGES: ReadonlyArray<Stage> = ['familiarize', 'interact', 'reflect', 'discuss']

export interface StageInfo {
  readonly title: string
  /** What the participant does in it, for the participant. */
  readonly summary: string
}

export const STAGE_INFO: { readonly [S in Stage]: StageInfo } = {
  familiarize: {
    title: 'Familiarize',
    summary: 'Learn about the context, and practise spotting values in AI answers on examples from another field.',
  },
  interact: {
    title: 'Interact',
    summary: 'Chat freely with the AI assistant, set up as it would be used in this context.',
  },
  reflect: {
    title: 'Reflect',
    summary: 'Label the values you notice in your chats and in shared examples, then group your labels into themes.',
  },
  discuss: {
    title: 'Discuss',
    summary: 'Meet your group in a facilitated session to agree on the values that matter most.',
  },
}

export type StageStatus = 'done' | 'current' | 'open' | 'locked'

export function stageTitle (stage: Stage): string {
  return STAGE_INFO[stage].title
}

/** Each stage of `order` with its status for someone at `current`. */
export function stageStatuses (order: readonly Stage[], current: Stage): Array<{ stage: Stage, status: StageStatus }> {
  const at = order.indexOf(current)
  return order.map((stage, i) => {
    let status: StageStatus = 'locked'
    if (at < 0) status = 'locked'
    else if (i < at) status = 'done'
    else if (i === at) status = 'current'
    else if (i === at + 1) status = 'open'
    return { stage, status }
  })
}

/** The stage after `current` in `order`, if any. */
export function nextStage (order: readonly Stage[], current: Stage): Stage | undefined {
  const at = order.indexOf(current)
  return at >= 0 ? order[at + 1] : undefined
}

export function isStage (value: unknown): value is Stage {
  return typeof value === 'string' && (STAGES as readonly string[]).includes(value)
}
