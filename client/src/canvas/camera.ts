/**
 * The camera: where the canvas is looking. It keeps one View (viewport.ts), writes it to the world
 * element's transform once per frame — panning and zooming touch that one element's style, never
 * the cards — and animates to a Focus (search, hints, "bring everyone here"). The world element
 * carries the focus as `data-view-x`, `data-view-y` and `data-view-zoom` (rounded) for tests and
 * benchmarks. A resize keeps the same canvas point at the centre.
 */
import {
  between, clampScale, ease, focusOf, panBy, toCanvas, viewFor, viewTransform, zoomAt,
  type Focus, type Point, type Size, type View,
} from './viewport'

/** Below this zoom, card text is too small to read: cards show as plain tiles (cheaper to paint too). */
const FAR_SCALE = 0.3
const ANIMATION_MS = 600
/** After the zoom has rested this long, the world is drawn again at its new scale (sharp text). */
const RERASTER_MS = 250

interface Animation {
  readonly from: Focus
  readonly to: Focus
  readonly start: number
  readonly duration: number
}

export class Camera {
  private view: View = { tx: 0, ty: 0, scale: 1 }
  private size: Size = { width: 1, height: 1 }
  private frame: number | undefined
  private animation: Animation | undefined
  private readonly listeners = new Set<(view: View) => void>()
  private rasterScale = 1
  private rasterTimer: ReturnType<typeof setTimeout> | undefined

  constructor (private readonly viewport: HTMLElement, private readonly world: HTMLElement) {
    this.size = this.measure()
    new ResizeObserver(() => {
      const focus = this.focus
      this.size = this.measure()
      this.view = viewFor(focus, this.size)
      this.schedule()
    }).observe(viewport)
  }

  get current (): View { return this.view }
  get viewportSize (): Size { return this.size }
  get focus (): Focus { return focusOf(this.view, this.size) }
  get animating (): boolean { return this.animation !== undefined }

  /** Called after the view changed (once per frame at most). */
  onChange (listener: (view: View) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** A pointer's position in the viewport, in screen pixels. */
  screenPoint (event: { clientX: number, clientY: number }): Point {
    const rect = this.viewport.getBoundingClientRect()
    return { x: event.clientX - rect.left, y: event.clientY - rect.top }
  }

  /** A pointer's position on the canvas, in canvas units. */
  canvasPoint (event: { clientX: number, clientY: number }): Point {
    return toCanvas(this.view, this.screenPoint(event))
  }

  panBy (dx: number, dy: number): void {
    this.set(panBy(this.view, dx, dy))
  }

  zoomAt (screen: Point, factor: number): void {
    this.set(zoomAt(this.view, screen, factor))
  }

  /** Zoom around the centre of the screen (the +/− buttons), animated. */
  zoomBy (factor: number): void {
    const focus = this.animation?.to ?? this.focus
    this.animateTo({ ...focus, zoom: clampScale(focus.zoom * factor) }, 250)
  }

  jumpTo (focus: Focus): void {
    this.set(viewFor(focus, this.size))
  }

  /** Move smoothly to `focus`; a person's own pan or zoom stops it. */
  animateTo (focus: Focus, duration = ANIMATION_MS): void {
    const target = { ...focus, zoom: clampScale(focus.zoom) }
    if (duration <= 0 || window.matchMedia('(prefers-reduced-motion: reduce)').matches) {
      this.jumpTo(target)
      return
    }
    this.animation = { from: this.focus, to: target, start: performance.now(), duration }
    this.schedule()
  }

  private set (view: View): void {
    this.animation = undefined
    this.view = view
    this.schedule()
  }

  private measure (): Size {
    return { width: Math.max(this.viewport.clientWidth, 1), height: Math.max(this.viewport.clientHeight, 1) }
  }

  private schedule (): void {
    this.frame ??= requestAnimationFrame((now) => { this.draw(now) })
  }

  private draw (now: number): void {
    this.frame = undefined
    const animation = this.animation
    if (animation !== undefined) {
      const t = Math.min(1, (now - animation.start) / animation.duration)
      this.view = viewFor(t >= 1 ? animation.to : between(animation.from, animation.to, ease(t)), this.size)
      if (t >= 1) this.animation = undefined
      else this.schedule()
    }
    this.apply()
  }

  /** Write the view to the world element now (also used for the first render, before any frame). */
  apply (): void {
    const world = this.world
    world.style.transform = viewTransform(this.view)
    world.classList.toggle('cv-far', this.view.scale < FAR_SCALE)
    if (this.view.scale !== this.rasterScale) this.rerasterSoon()
    const focus = this.focus
    world.dataset['viewX'] = String(Math.round(focus.x))
    world.dataset['viewY'] = String(Math.round(focus.y))
    world.dataset['viewZoom'] = focus.zoom.toFixed(3)
    for (const listener of this.listeners) listener(this.view)
  }

  /** The world is about to be drawn for the first time, at the current scale: no need to draw it again. */
  firstDrawn (): void {
    if (this.rasterTimer !== undefined) clearTimeout(this.rasterTimer)
    this.rasterTimer = undefined
    this.rasterScale = this.view.scale
  }

  /**
   * A layer with `will-change: transform` keeps the raster of the scale it was first drawn at, so
   * text gets blurry after zooming in. Once the zoom rests, drop the hint for one frame: the world
   * is drawn again at the scale it is shown at.
   */
  private rerasterSoon (): void {
    if (this.rasterTimer !== undefined) clearTimeout(this.rasterTimer)
    this.rasterTimer = setTimeout(() => {
      this.rasterTimer = undefined
      if (this.animation !== undefined) {
        this.rerasterSoon()
        return
      }
      this.rasterScale = this.view.scale
      this.world.style.willChange = 'auto'
      // the next frame is drawn without the hint; the one after gets it back
      requestAnimationFrame(() => { requestAnimationFrame(() => { this.world.style.willChange = '' }) })
    }, RERASTER_MS)
  }
}
