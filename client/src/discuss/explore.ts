/**
 * Segment 2, explore the canvas: the group's semantic canvas page (/canvas/) in a frame, full width
 * and tall. The facilitator's frame names the study and group (and has "Bring everyone here");
 * participants and observers open their own group's. The frame is made the first time the segment
 * shows, and kept.
 */
import { element } from '../dom'

export function canvasSrc (study: string, group: string | undefined): string {
  if (group === undefined) return '../canvas/'
  return `../canvas/?study=${encodeURIComponent(study)}&group=${encodeURIComponent(group)}`
}

export class ExplorePanel {
  readonly el = element('div', { class: 'ds-explore', 'data-testid': 'explore' })
  private frame: HTMLIFrameElement | undefined

  constructor (private readonly src: string) {
    const open = element('a', { href: src, target: '_blank', rel: 'noopener', 'data-testid': 'canvas-link' }, 'Open the canvas in its own tab')
    const note = element('p', { class: 'hint' }, 'Pan by dragging, zoom with the wheel; click a card for the excerpts behind it. ')
    note.append(open)
    this.el.append(note)
  }

  /** The segment is on screen: make the frame if it is not there yet. */
  show (): void {
    if (this.frame !== undefined) return
    this.frame = element('iframe', {
      src: this.src, class: 'ds-canvas-frame', title: 'The group’s semantic canvas', 'data-testid': 'canvas-frame',
    })
    this.el.append(this.frame)
  }
}
