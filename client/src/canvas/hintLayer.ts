/**
 * The hints on the canvas as outlines in an SVG layer inside the world element, behind the cards:
 * a rounded hull around each hint's cards — faint and dashed while open, solid once accepted,
 * not drawn once dismissed (unless "show dismissed" is on, then dotted and faint). An outline is
 * redrawn only when its hint or one of its cards moved. The outline's edge can be clicked (a wide
 * invisible stroke takes the pointer); the rest of the hull lets the pointer through to the canvas.
 */
import type { Hint } from './cards'
import type { Point } from './viewport'

const SVG = 'http://www.w3.org/2000/svg'
/** A card's size in canvas units, for the hull around it (style: .cv-card). */
export const CARD_WIDTH = 168
export const CARD_HEIGHT = 58
const PAD = 14
const RADIUS = 16
const CORNER_STEPS = 4

interface Outline {
  readonly g: SVGGElement
  readonly hit: SVGPathElement
  readonly line: SVGPathElement
  hint: Hint
}

function cross (o: Point, a: Point, b: Point): number {
  return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x)
}

/** The convex hull of `points` (Andrew's monotone chain), counter-clockwise. */
export function convexHull (points: readonly Point[]): Point[] {
  const sorted = [...points].sort((a, b) => a.x - b.x || a.y - b.y)
  if (sorted.length <= 2) return sorted
  const lower: Point[] = []
  for (const p of sorted) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, p) <= 0) lower.pop()
    lower.push(p)
  }
  const upper: Point[] = []
  for (let i = sorted.length - 1; i >= 0; i--) {
    const p = sorted[i]!
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, p) <= 0) upper.pop()
    upper.push(p)
  }
  lower.pop()
  upper.pop()
  return lower.concat(upper)
}

/** The outline around cards centred at `centres`: the hull of their padded, round-cornered boxes. */
export function outlinePath (centres: readonly Point[]): string {
  if (centres.length === 0) return ''
  const hx = CARD_WIDTH / 2 + PAD - RADIUS
  const hy = CARD_HEIGHT / 2 + PAD - RADIUS
  const points: Point[] = []
  const corners: ReadonlyArray<readonly [number, number, number]> = [[1, 1, 0], [-1, 1, 90], [-1, -1, 180], [1, -1, 270]]
  for (const c of centres) {
    for (const [sx, sy, start] of corners) {
      for (let step = 0; step <= CORNER_STEPS; step++) {
        const angle = ((start + (90 * step) / CORNER_STEPS) * Math.PI) / 180
        points.push({ x: c.x + sx * hx + RADIUS * Math.cos(angle), y: c.y + sy * hy + RADIUS * Math.sin(angle) })
      }
    }
  }
  const hull = convexHull(points)
  return hull.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join('') + 'Z'
}

export class HintLayer {
  readonly el: SVGSVGElement
  private readonly outlines = new Map<string, Outline>()
  /** card id → the hints it is in */
  private readonly byCard = new Map<string, Set<string>>()
  private showDismissed = false
  private selected: string | undefined
  private settleTimer: ReturnType<typeof setTimeout> | undefined

  constructor (private readonly position: (card: string) => Point | undefined) {
    this.el = document.createElementNS(SVG, 'svg')
    this.el.classList.add('cv-hints')
    this.el.setAttribute('width', '1')
    this.el.setAttribute('height', '1')
    this.el.setAttribute('aria-hidden', 'true')
  }

  /** The hint whose outline an event happened on, if any. */
  hintAt (target: EventTarget | null): string | undefined {
    if (!(target instanceof Element)) return undefined
    const g = target.closest('g.cv-hint')
    if (g === null || !this.el.contains(g)) return undefined
    return g.getAttribute('data-hint-id') ?? undefined
  }

  /** Hints added, changed or removed (undefined in `hints`). New outlines go in with one insertion. */
  update (ids: Iterable<string>, hints: ReadonlyMap<string, Hint>): void {
    const groups = document.createDocumentFragment()
    const duplicates = document.createDocumentFragment()
    for (const id of ids) {
      const hint = hints.get(id)
      const outline = this.outlines.get(id)
      if (outline !== undefined) this.unindex(outline.hint)
      if (hint === undefined || (hint.status === 'dismissed' && !this.showDismissed)) {
        if (outline !== undefined) {
          outline.g.remove()
          this.outlines.delete(id)
        }
        if (hint !== undefined) this.index(hint)
        continue
      }
      this.index(hint)
      this.draw(outline ?? this.create(hint, hint.kind === 'group' ? groups : duplicates), hint)
    }
    // Groups first, then duplicates, so that a duplicate's outline (smaller, inside) is on top.
    if (groups.hasChildNodes()) this.el.prepend(groups)
    if (duplicates.hasChildNodes()) this.el.append(duplicates)
  }

  /** Cards moved (or appeared, or went): redraw the outlines they are in (but those in `drawn`, just drawn). */
  cardsMoved (cards: Iterable<string>, drawn: ReadonlySet<string> = new Set()): void {
    const redraw = new Set<string>()
    for (const card of cards) for (const hint of this.byCard.get(card) ?? []) if (!drawn.has(hint)) redraw.add(hint)
    for (const id of redraw) {
      const outline = this.outlines.get(id)
      if (outline !== undefined) this.draw(outline, outline.hint)
    }
  }

  /** Show or hide dismissed hints; `hints` is every hint there is. */
  setShowDismissed (on: boolean, hints: ReadonlyMap<string, Hint>): void {
    this.showDismissed = on
    this.update([...hints.values()].filter((h) => h.status === 'dismissed').map((h) => h.id), hints)
  }

  select (id: string | undefined): void {
    if (this.selected !== undefined) this.outlines.get(this.selected)?.g.classList.remove('cv-hint-selected')
    this.selected = id
    if (id !== undefined) this.outlines.get(id)?.g.classList.add('cv-hint-selected')
  }

  /** The layout was fitted again and cards glide to their places: fade outlines out until they are there. */
  settle (ms: number): void {
    this.el.classList.add('cv-settling')
    if (this.settleTimer !== undefined) clearTimeout(this.settleTimer)
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined
      this.el.classList.remove('cv-settling')
    }, ms)
  }

  private create (hint: Hint, into: DocumentFragment): Outline {
    const g = document.createElementNS(SVG, 'g')
    g.classList.add('cv-hint')
    g.setAttribute('data-testid', 'hint-outline')
    g.setAttribute('data-hint-id', hint.id)
    const hit = document.createElementNS(SVG, 'path')
    hit.classList.add('cv-hint-hit')
    const line = document.createElementNS(SVG, 'path')
    line.classList.add('cv-hint-line')
    const title = document.createElementNS(SVG, 'title')
    g.append(title, hit, line)
    const outline: Outline = { g, hit, line, hint }
    this.outlines.set(hint.id, outline)
    into.append(g)
    return outline
  }

  private draw (outline: Outline, hint: Hint): void {
    outline.hint = hint
    const g = outline.g
    g.setAttribute('data-status', hint.status)
    g.setAttribute('data-kind', hint.kind)
    g.setAttribute('class', `cv-hint cv-hint-${hint.status} cv-hint-${hint.kind}${hint.id === this.selected ? ' cv-hint-selected' : ''}`)
    const centres: Point[] = []
    for (const card of hint.cards) {
      const p = this.position(card)
      if (p !== undefined) centres.push(p)
    }
    // A hint needs two of its cards on the board to mean anything.
    const d = centres.length >= 2 ? outlinePath(centres) : ''
    outline.hit.setAttribute('d', d)
    outline.line.setAttribute('d', d)
    g.toggleAttribute('hidden', d === '')
    const what = hint.kind === 'duplicate' ? 'Maybe the same' : 'Maybe a group'
    const title = g.firstChild
    if (title !== null) title.textContent = `${what} (${hint.status}); click to accept or dismiss`
  }

  private index (hint: Hint): void {
    for (const card of hint.cards) {
      let set = this.byCard.get(card)
      if (set === undefined) this.byCard.set(card, set = new Set())
      set.add(hint.id)
    }
  }

  private unindex (hint: Hint): void {
    for (const card of hint.cards) {
      const set = this.byCard.get(card)
      set?.delete(hint.id)
      if (set?.size === 0) this.byCard.delete(card)
    }
  }
}
