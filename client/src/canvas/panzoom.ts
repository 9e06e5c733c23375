/**
 * Moving around the canvas: the wheel zooms around the pointer, dragging the background pans,
 * two fingers pinch to zoom, and the keyboard works on the focused canvas (arrows pan, + and −
 * zoom). Every gesture only changes the camera. A press that does not move is a tap, handed to
 * `onTap` with what was under the pointer (a hint's outline, a card of a read-only board, or the
 * background).
 */
import type { Camera } from './camera'
import type { Point } from './viewport'

/** How far a pointer may wander (screen pixels) before a press is a drag rather than a tap. */
export const TAP_SLOP = 4
const KEY_PAN = 80

export interface PanZoomOptions {
  /** Presses that start here are someone else's (a card being dragged). */
  readonly ignore: (target: EventTarget | null) => boolean
  readonly onTap: (target: EventTarget | null) => void
}

interface Press {
  readonly target: EventTarget | null
  readonly start: Point
  moved: boolean
}

export class PanZoom {
  private readonly pointers = new Map<number, Point>()
  private press: Press | undefined

  constructor (private readonly viewport: HTMLElement, private readonly camera: Camera, private readonly options: PanZoomOptions) {
    viewport.addEventListener('pointerdown', (event) => { this.down(event) })
    viewport.addEventListener('pointermove', (event) => { this.move(event) })
    viewport.addEventListener('pointerup', (event) => { this.up(event, true) })
    viewport.addEventListener('pointercancel', (event) => { this.up(event, false) })
    viewport.addEventListener('wheel', (event) => { this.wheel(event) }, { passive: false })
    viewport.addEventListener('keydown', (event) => { this.key(event) })
  }

  private down (event: PointerEvent): void {
    if (event.pointerType === 'mouse' && event.button !== 0) return
    if (this.pointers.size === 0 && this.options.ignore(event.target)) return
    if (this.pointers.size >= 2) return
    this.viewport.setPointerCapture(event.pointerId)
    const point = this.camera.screenPoint(event)
    this.pointers.set(event.pointerId, point)
    if (this.pointers.size === 1) this.press = { target: event.target, start: point, moved: false }
    else if (this.press !== undefined) this.press.moved = true // a second finger: a pinch, never a tap
    this.viewport.classList.add('cv-panning')
  }

  private move (event: PointerEvent): void {
    const last = this.pointers.get(event.pointerId)
    if (last === undefined) return
    const point = this.camera.screenPoint(event)
    if (this.pointers.size === 1) {
      const press = this.press
      if (press !== undefined && !press.moved) {
        if (Math.hypot(point.x - press.start.x, point.y - press.start.y) < TAP_SLOP) return
        press.moved = true
      }
      this.pointers.set(event.pointerId, point)
      this.camera.panBy(point.x - last.x, point.y - last.y)
      return
    }
    // Two pointers: zoom by how much their distance changed, around their midpoint, and follow it.
    const other = [...this.pointers.entries()].find(([id]) => id !== event.pointerId)?.[1]
    this.pointers.set(event.pointerId, point)
    if (other === undefined) return
    const before = Math.hypot(last.x - other.x, last.y - other.y)
    const after = Math.hypot(point.x - other.x, point.y - other.y)
    const midBefore = { x: (last.x + other.x) / 2, y: (last.y + other.y) / 2 }
    const midAfter = { x: (point.x + other.x) / 2, y: (point.y + other.y) / 2 }
    if (before > 0 && after > 0) this.camera.zoomAt(midBefore, after / before)
    this.camera.panBy(midAfter.x - midBefore.x, midAfter.y - midBefore.y)
  }

  private up (event: PointerEvent, completed: boolean): void {
    if (!this.pointers.delete(event.pointerId)) return
    if (this.viewport.hasPointerCapture(event.pointerId)) this.viewport.releasePointerCapture(event.pointerId)
    if (this.pointers.size > 0) return
    const press = this.press
    this.press = undefined
    this.viewport.classList.remove('cv-panning')
    if (completed && press !== undefined && !press.moved) this.options.onTap(press.target)
  }

  private wheel (event: WheelEvent): void {
    event.preventDefault()
    const pixels = event.deltaMode === WheelEvent.DOM_DELTA_LINE ? event.deltaY * 16
      : event.deltaMode === WheelEvent.DOM_DELTA_PAGE ? event.deltaY * 400 : event.deltaY
    // A trackpad pinch arrives as a wheel with ctrlKey and small deltas: let it zoom faster.
    const rate = event.ctrlKey ? 0.01 : 0.0015
    const factor = Math.exp(-Math.max(-300, Math.min(300, pixels)) * rate)
    this.camera.zoomAt(this.camera.screenPoint(event), factor)
  }

  private key (event: KeyboardEvent): void {
    if (event.target !== this.viewport || event.altKey || event.ctrlKey || event.metaKey) return
    const moves: Record<string, readonly [number, number]> = {
      ArrowLeft: [KEY_PAN, 0], ArrowRight: [-KEY_PAN, 0], ArrowUp: [0, KEY_PAN], ArrowDown: [0, -KEY_PAN],
    }
    const move = moves[event.key]
    if (move !== undefined) {
      event.preventDefault()
      this.camera.panBy(move[0], move[1])
    } else if (event.key === '+' || event.key === '=') {
      event.preventDefault()
      this.camera.zoomBy(1.25)
    } else if (event.key === '-' || event.key === '_') {
      event.preventDefault()
      this.camera.zoomBy(0.8)
    }
  }
}
