/**
 * Pan-and-zoom arithmetic of the canvas, pure: no DOM. A View maps canvas units to screen pixels
 * of the canvas element: screen = translate + scale × canvas (the world element's CSS transform is
 * `translate(tx, ty) scale(scale)` with its origin at the top left). A Focus says the same thing
 * the way people (and the control channel's `view.set`) do: the canvas point at the centre of the
 * screen, and the zoom.
 */

export interface View {
  readonly tx: number
  readonly ty: number
  readonly scale: number
}

export interface Focus {
  /** The canvas point at the centre of the screen. */
  readonly x: number
  readonly y: number
  /** Screen pixels per canvas unit. */
  readonly zoom: number
}

export interface Size { readonly width: number, readonly height: number }
export interface Point { readonly x: number, readonly y: number }
export interface Bounds { readonly minX: number, readonly minY: number, readonly maxX: number, readonly maxY: number }

/** The zoom range people can reach (control.json allows 0.01–50; we stay well inside). */
export const MIN_SCALE = 0.05
export const MAX_SCALE = 4

export function clampScale (scale: number): number {
  if (!Number.isFinite(scale)) return 1
  return Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale))
}

export function toCanvas (view: View, screen: Point): Point {
  return { x: (screen.x - view.tx) / view.scale, y: (screen.y - view.ty) / view.scale }
}

export function toScreen (view: View, point: Point): Point {
  return { x: view.tx + point.x * view.scale, y: view.ty + point.y * view.scale }
}

export function panBy (view: View, dx: number, dy: number): View {
  return { tx: view.tx + dx, ty: view.ty + dy, scale: view.scale }
}

/** Zoom by `factor` keeping the canvas point under `screen` where it is (wheel and pinch). */
export function zoomAt (view: View, screen: Point, factor: number): View {
  const scale = clampScale(view.scale * factor)
  const anchor = toCanvas(view, screen)
  return { tx: screen.x - anchor.x * scale, ty: screen.y - anchor.y * scale, scale }
}

export function focusOf (view: View, size: Size): Focus {
  const centre = toCanvas(view, { x: size.width / 2, y: size.height / 2 })
  return { x: centre.x, y: centre.y, zoom: view.scale }
}

export function viewFor (focus: Focus, size: Size): View {
  const scale = clampScale(focus.zoom)
  return { tx: size.width / 2 - focus.x * scale, ty: size.height / 2 - focus.y * scale, scale }
}

/** The smallest box holding every point, or undefined for none. */
export function boundsOf (points: Iterable<Point>): Bounds | undefined {
  let minX = Infinity
  let minY = Infinity
  let maxX = -Infinity
  let maxY = -Infinity
  for (const p of points) {
    if (p.x < minX) minX = p.x
    if (p.y < minY) minY = p.y
    if (p.x > maxX) maxX = p.x
    if (p.y > maxY) maxY = p.y
  }
  return minX <= maxX ? { minX, minY, maxX, maxY } : undefined
}

/**
 * The focus that shows all of `bounds` with `margin` screen pixels around it (cards are drawn
 * around their point, so the margin should cover half a card), zoomed in no further than `maxZoom`.
 */
export function fitFocus (bounds: Bounds, size: Size, margin: number, maxZoom = 1): Focus {
  const width = Math.max(bounds.maxX - bounds.minX, 1)
  const height = Math.max(bounds.maxY - bounds.minY, 1)
  const free = { width: Math.max(size.width - 2 * margin, 40), height: Math.max(size.height - 2 * margin, 40) }
  const zoom = clampScale(Math.min(free.width / width, free.height / height, maxZoom))
  return { x: (bounds.minX + bounds.maxX) / 2, y: (bounds.minY + bounds.maxY) / 2, zoom }
}

/** Whether `point` is on screen, at least `inset` pixels inside its edges. */
export function isVisible (view: View, size: Size, point: Point, inset = 0): boolean {
  const s = toScreen(view, point)
  return s.x >= inset && s.y >= inset && s.x <= size.width - inset && s.y <= size.height - inset
}

/** Ease in and out over t in [0, 1]. */
export function ease (t: number): number {
  const c = Math.min(1, Math.max(0, t))
  return c < 0.5 ? 4 * c * c * c : 1 - Math.pow(-2 * c + 2, 3) / 2
}

/** Between two foci at t in [0, 1]: the centre moves linearly, the zoom geometrically. */
export function between (from: Focus, to: Focus, t: number): Focus {
  return {
    x: from.x + (to.x - from.x) * t,
    y: from.y + (to.y - from.y) * t,
    zoom: from.zoom * Math.pow(to.zoom / from.zoom, t),
  }
}

export function viewTransform (view: View): string {
  return `translate(${view.tx}px, ${view.ty}px) scale(${view.scale})`
}
