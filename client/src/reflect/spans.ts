/**
 * Spans of text as the server anchors them: offsets count Unicode code points (`Array.from(text)`
 * indices), while the DOM counts UTF-16 units, so an emoji is two DOM positions and one server
 * position. Here: converting a selection in the rendered text to a span, and cutting a text into
 * segments where (possibly overlapping) spans begin and end, for highlighting.
 */

export interface Span {
  readonly start: number
  readonly end: number
  readonly quote: string
}

/**
 * The code point index of UTF-16 offset `u16` in `text`. An offset inside a surrogate pair (between
 * the two halves of an emoji) rounds down to before the character or up to after it.
 */
export function codePointIndex (text: string, u16: number, round: 'down' | 'up'): number {
  const clamped = Math.max(0, Math.min(u16, text.length))
  const count = Array.from(text.slice(0, clamped)).length
  const inPair = clamped > 0 && clamped < text.length &&
    isHighSurrogate(text.charCodeAt(clamped - 1)) && isLowSurrogate(text.charCodeAt(clamped))
  return inPair && round === 'down' ? count - 1 : count
}

function isHighSurrogate (unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff
}

function isLowSurrogate (unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff
}

/** The span covering UTF-16 offsets [from, to) of `text`, without surrounding whitespace; undefined when empty. */
export function spanOf (text: string, from: number, to: number): Span | undefined {
  const points = Array.from(text)
  let start = codePointIndex(text, Math.min(from, to), 'down')
  let end = codePointIndex(text, Math.max(from, to), 'up')
  while (start < end && /\s/u.test(points[start] ?? '')) start += 1
  while (end > start && /\s/u.test(points[end - 1] ?? '')) end -= 1
  if (start >= end) return undefined
  return { start, end, quote: points.slice(start, end).join('') }
}

/** The whole text as one span (undefined for an empty text). */
export function wholeSpan (text: string): Span | undefined {
  const length = Array.from(text).length
  return length === 0 ? undefined : { start: 0, end: length, quote: text }
}

/** The UTF-16 offset, within `container`'s text, of the DOM position (`node`, `offset`). */
export function textOffset (container: Node, node: Node, offset: number): number {
  const range = document.createRange()
  range.setStart(container, 0)
  range.setEnd(node, offset)
  return range.toString().length
}

/**
 * The span the reader selected inside `container`, whose text content is exactly `text`; undefined
 * when nothing (or nothing but whitespace) is selected there. A selection reaching outside the
 * container is cut to it.
 */
export function selectedSpan (container: HTMLElement, text: string): Span | undefined {
  const selection = window.getSelection()
  if (selection === null || selection.rangeCount === 0 || selection.isCollapsed) return undefined
  const range = selection.getRangeAt(0)
  if (!range.intersectsNode(container)) return undefined
  const inside = (node: Node): boolean => container === node || container.contains(node)
  const from = inside(range.startContainer) ? textOffset(container, range.startContainer, range.startOffset) : 0
  const to = inside(range.endContainer) ? textOffset(container, range.endContainer, range.endOffset) : text.length
  if (container.textContent !== text) return undefined // not the text we anchor in: never guess
  return spanOf(text, from, to)
}

export interface Segment {
  /** Code point offsets. */
  readonly start: number
  readonly end: number
  readonly text: string
  /** The spans covering this segment, innermost (shortest) first. */
  readonly ids: readonly string[]
}

export interface IdSpan {
  readonly id: string
  readonly start: number
  readonly end: number
}

/**
 * `text` cut at every start and end of `spans`: each piece with the spans that cover it. Spans may
 * overlap or nest; pieces covered by nothing have no ids. Spans outside the text are clipped.
 */
export function segments (text: string, spans: readonly IdSpan[]): Segment[] {
  const points = Array.from(text)
  const length = points.length
  const cuts = new Set<number>([0, length])
  const valid = spans
    .map((s) => ({ id: s.id, start: Math.max(0, s.start), end: Math.min(length, s.end) }))
    .filter((s) => s.start < s.end)
  for (const s of valid) {
    cuts.add(s.start)
    cuts.add(s.end)
  }
  const sorted = [...cuts].sort((a, b) => a - b)
  const out: Segment[] = []
  for (let i = 0; i + 1 < sorted.length; i += 1) {
    const start = sorted[i] ?? 0
    const end = sorted[i + 1] ?? 0
    if (start >= end) continue
    const covering = valid
      .filter((s) => s.start <= start && s.end >= end)
      .sort((a, b) => (a.end - a.start) - (b.end - b.start))
      .map((s) => s.id)
    out.push({ start, end, text: points.slice(start, end).join(''), ids: covering })
  }
  return out
}
