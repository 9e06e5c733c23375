/**
 * Moving a card by hand (for those who may write the board). The pointer is captured; the card
 * follows it every frame here, and its position is written to the document at most every 50 ms
 * while it moves and once more on release, so others see the move live. A press that does not
 * move is a tap (open the card). With a card focused, arrow keys move it (Shift: further), and
 * Enter or Space opens it.
 */
import type { Camera } from './camera'
import type { CardLayer } from './cardLayer'
import { TAP_SLOP } from './panzoom'
import type { Point } from './viewport'

const WRITE_EVERY_MS = 50
const KEY_STEP = 20

export interface DragHandlers {
  /** The card is drawn somewhere new (every frame of a drag): outlines follow it. */
  readonly onMove: (card: string) => void
  /** Write the card's position to the document. */
  readonly onWrite: (card: string, point: Point) => void
  /** A tap on a card, or Enter on a focused one. */
  readonly onTap: (card: string) => void
}

interface Grab {
  readonly pointerId: number
  readonly card: string
  readonly start: Point
  readonly from: Point
  moved: boolean
  at: Point
  lastWrite: number
  timer: ReturnType<typeof setTimeout> | undefined
}

export class CardDrag {
  private grab: Grab | undefined

  constructor (
    private readonly viewport: HTMLElement,
    private readonly camera: Camera,
    private readonly layer: CardLayer,
    private readonly canMove: boolean,
    private readonly handlers: DragHandlers,
  ) {
    viewport.addEventListener('pointerdown', (event) => { this.down(event) })
    viewport.addEventListener('pointermove', (event) => { this.move(event) })
    viewport.addEventListener('pointerup', (event) => { this.up(event) })
    viewport.addEventListener('pointercancel', (event) => { this.up(event) })
    viewport.addEventListener('keydown', (event) => { this.key(event) })
  }

  /** Whether presses on this target are ours (a card, when cards can be moved). */
  owns (target: EventTarget | null): boolean {
    return this.canMove && this.layer.cardAt(target) !== undefined
  }

  get dragging (): string | undefined { return this.grab?.moved === true ? this.grab.card : undefined }

  private down (event: PointerEvent): void {
    if (!this.canMove || this.grab !== undefined) return
    if (event.pointerType === 'mouse' && event.button !== 0) return
    const card = this.layer.cardAt(event.target)
    const from = card === undefined ? undefined : this.layer.position(card)
    if (card === undefined || from === undefined) return
    event.preventDefault() // no text selection, no native drag
    this.viewport.setPointerCapture(event.pointerId)
    const start = this.camera.screenPoint(event)
    this.grab = { pointerId: event.pointerId, card, start, from, moved: false, at: from, lastWrite: 0, timer: undefined }
  }

  private move (event: PointerEvent): void {
    const grab = this.grab
    if (grab === undefined || event.pointerId !== grab.pointerId) return
    const point = this.camera.screenPoint(event)
    const dx = point.x - grab.start.x
    const dy = point.y - grab.start.y
    if (!grab.moved) {
      if (Math.hypot(dx, dy) < TAP_SLOP) return
      if (!this.layer.has(grab.card)) return
      grab.moved = true
    }
    const scale = this.camera.current.scale
    grab.at = { x: grab.from.x + dx / scale, y: grab.from.y + dy / scale }
    this.layer.hold(grab.card, grab.at)
    this.handlers.onMove(grab.card)
    this.writeSoon(grab)
  }

  private up (event: PointerEvent): void {
    const grab = this.grab
    if (grab === undefined || event.pointerId !== grab.pointerId) return
    this.grab = undefined
    if (this.viewport.hasPointerCapture(event.pointerId)) this.viewport.releasePointerCapture(event.pointerId)
    if (grab.timer !== undefined) clearTimeout(grab.timer)
    if (!grab.moved) {
      if (event.type === 'pointerup') this.handlers.onTap(grab.card)
      return
    }
    this.handlers.onWrite(grab.card, grab.at)
    this.layer.release(grab.card)
  }

  /** Write now if the last write is old enough, else once it is (the latest position then). */
  private writeSoon (grab: Grab): void {
    const wait = grab.lastWrite + WRITE_EVERY_MS - performance.now()
    if (wait <= 0) {
      grab.lastWrite = performance.now()
      this.handlers.onWrite(grab.card, grab.at)
      return
    }
    grab.timer ??= setTimeout(() => {
      grab.timer = undefined
      if (this.grab !== grab) return
      grab.lastWrite = performance.now()
      this.handlers.onWrite(grab.card, grab.at)
    }, wait)
  }

  private key (event: KeyboardEvent): void {
    const card = this.layer.cardAt(event.target)
    if (card === undefined || event.altKey || event.ctrlKey || event.metaKey) return
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault()
      this.handlers.onTap(card)
      return
    }
    const steps: Record<string, readonly [number, number]> = {
      ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1],
    }
    const step = steps[event.key]
    const at = this.layer.position(card)
    if (!this.canMove || step === undefined || at === undefined || this.grab !== undefined) return
    event.preventDefault()
    const by = (event.shiftKey ? 5 : 1) * KEY_STEP / Math.max(this.camera.current.scale, 0.25)
    this.handlers.onWrite(card, { x: at.x + step[0] * by, y: at.y + step[1] * by })
  }
}
