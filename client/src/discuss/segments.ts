/**
 * The segments of a live Discuss session, in order, with their titles and what each one asks of
 * participants and of the facilitator, in words.
 */
import type { Segment } from '../generated/control'

export const SEGMENTS: readonly Segment[] = ['lobby', 'top3', 'explore', 'present', 'discuss', 'rate', 'closed']

export interface SegmentInfo {
  /** Short, for the stepper and the facilitator's buttons. */
  readonly short: string
  readonly title: string
  /** What participants do now. */
  readonly participant: string
  /** What the facilitator does now. */
  readonly facilitator: string
}

export const SEGMENT_INFO: { readonly [S in Segment]: SegmentInfo } = {
  lobby: {
    short: 'Lobby',
    title: 'Before we start',
    participant: 'Look through your session artifacts: your own interactions and codes, the topics your group explored ' +
      'and the words your group used most. The session starts when your facilitator moves on.',
    facilitator: 'Everyone sees their artifacts. Start the first segment when the group is here.',
  },
  top3: {
    short: 'Top three',
    title: 'Segment 1 · Your top three',
    participant: 'Name and define the three attributes that matter most to you, best first. Nobody else sees them ' +
      'until your facilitator reveals everyone\'s at once.',
    facilitator: 'Each participant writes their top three privately. Reveal them when everyone has submitted.',
  },
  explore: {
    short: 'Explore',
    title: 'Segment 2 · Explore the canvas',
    participant: 'Explore the semantic canvas: every label of the group, placed near those that mean the same.',
    facilitator: 'The group explores the canvas together. "Bring everyone here" on the canvas moves everyone to your view.',
  },
  present: {
    short: 'Present',
    title: 'Segment 3 · Presentations',
    participant: 'Each person presents their top three in turn. Raise your hand to speak.',
    facilitator: 'Spotlight each speaker in turn; their top three are highlighted for everyone.',
  },
  discuss: {
    short: 'Discuss',
    title: 'Segment 4 · Group discussion',
    participant: 'Define the group\'s attributes together: a name, a definition you edit together, examples and ' +
      'the labels that fed it. Then rank your top three and top five.',
    facilitator: 'The group defines its attributes and ranks them. Reveal the rankings to show the aggregate.',
  },
  rate: {
    short: 'Rate',
    title: 'Segment 5 · Your ratings',
    participant: 'Rate how much you agree with each group definition, and rank them all. Your answers stay private.',
    facilitator: 'Each participant rates every definition privately. Close the session when everyone has submitted.',
  },
  closed: {
    short: 'Closed',
    title: 'The session is closed',
    participant: 'Thank you for taking part. The session is over.',
    facilitator: 'The consensus figures are below.',
  },
}

export function segmentIndex (segment: Segment): number {
  return SEGMENTS.indexOf(segment)
}

/** The segment before and after `segment`, if any. */
export function neighbours (segment: Segment): { readonly back: Segment | undefined, readonly next: Segment | undefined } {
  const at = segmentIndex(segment)
  return { back: at > 0 ? SEGMENTS[at - 1] : undefined, next: at >= 0 ? SEGMENTS[at + 1] : undefined }
}

export function isSegment (value: unknown): value is Segment {
  return typeof value === 'string' && (SEGMENTS as readonly string[]).includes(value)
}
