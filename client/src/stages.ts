/**
 * The four stages of a CALMA study (shared_schema/control.json `Stage`), in words, and where a
 * participant stands in each: done, current, open or closed, as the server's stage gating says
 * (GET /api/studies/{sid}/participants/{pid}/stages: stages open in order as each is completed,
 * or when the facilitator opens them), with its reason in words.
 */
import type { ParticipantStages, StageState } from './api'
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

/** Where a participant stands in a stage: done (completed), current (where they are), open or closed. */
export type StageStatus = 'done' | 'current' | 'open' | 'closed'

export function stageTitle (stage: Stage): string {
  return STAGE_INFO[stage].title
}

/** One stage as the participant's overview shows it, from the server's stage gating. */
export interface StageView {
  readonly stage: Stage
  readonly status: StageStatus
  /** Whether the server lets the participant move there (or do it) now. */
  readonly open: boolean
  /** Why it is open or closed, in words. */
  readonly reason: string
  readonly completedAt: string | null
}

/**
 * Why a stage is open or closed, in words for the participant, from what decided it (`set_by`):
 * the facilitator's override for the group or the person, or else the rule (gating.py), by which
 * the first stage is open from the start and each next one opens once the one before it is
 * completed. `previous` is the stage before it (undefined for the first).
 */
export function stageReasonText (status: StageState, previous: Stage | undefined): string {
  const open = status.state === 'open'
  const before = previous === undefined ? 'the stage before' : STAGE_INFO[previous].title
  switch (status.set_by) {
    case 'group': return open ? 'Opened for your group by your facilitator.' : 'Closed for your group by your facilitator.'
    case 'person': return open ? 'Opened for you by your facilitator.' : 'Closed for you by your facilitator.'
    case 'rule':
      if (!open) return `Opens once you have finished ${before}.`
      return previous === undefined ? 'Open from the start.' : `Open: you finished ${before}.`
    default: { // decided by something this page does not know yet: the server's words
      const text = status.reason.replace(/[.!?]$/, '')
      return text === '' ? `${open ? 'Open' : 'Closed'}.` : `${open ? 'Open' : 'Closed'}: ${text}.`
    }
  }
}

/** Each of the participant's stages with where they stand in it, as the server says. */
export function stageViews (stages: ParticipantStages): StageView[] {
  return stages.stages.map((status, i) => {
    const open = status.state === 'open'
    let where: StageStatus
    if (status.stage === stages.current) where = 'current'
    else if (status.completed_at !== null) where = 'done'
    else where = open ? 'open' : 'closed'
    return {
      stage: status.stage,
      status: where,
      open,
      reason: stageReasonText(status, stages.stages[i - 1]?.stage),
      completedAt: status.completed_at,
    }
  })
}

/** The stage after `stage` in the participant's order, if any. */
export function stageAfter (stages: readonly StageState[], stage: Stage): StageState | undefined {
  const at = stages.findIndex((s) => s.stage === stage)
  return at >= 0 ? stages[at + 1] : undefined
}

/** The page where a participant does a stage, for the stages that have one yet. */
export const STAGE_PAGE: { readonly [S in Stage]?: string } = {
  familiarize: '/familiarize/',
  interact: '/interact/',
  reflect: '/reflect/',
  discuss: '/discuss/',
}

export function isStage (value: unknown): value is Stage {
  return typeof value === 'string' && (STAGES as readonly string[]).includes(value)
}
