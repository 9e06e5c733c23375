/**
 * Typed access to a board room's Yjs document (shared_schema/board.json):
 * the top-level Y.Array "labels" of plain objects {id, text, author, createdAt} (older rooms may hold
 * Y.Maps: read, never written; the hub refuses shared types created by clients).
 * Remote content is untrusted: readers skip entries that do not fit the schema and report them
 * (`reportSkipped`: a console warning and a small notice on the page), never fail.
 */
import * as Y from 'yjs'

export const LABELS_KEY = 'labels'
export const MAX_TEXT_LENGTH = 500
export const MAX_AUTHOR_LENGTH = 80

export interface Label {
  readonly id: string
  readonly text: string
  readonly author: string
  /** Milliseconds since the epoch, on the author's clock. */
  readonly createdAt: number
}

/** The room's label array (created on first access, as Yjs does for top-level types). */
export function labelsArray (doc: Y.Doc): Y.Array<unknown> {
  return doc.getArray<unknown>(LABELS_KEY)
}

/** One field of an entry: a plain object's, or a Y.Map's (rooms written before labels were plain). */
function field (entry: unknown, name: string): unknown {
  if (entry instanceof Y.Map) return entry.get(name)
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return undefined
  return Object.prototype.hasOwnProperty.call(entry, name) ? (entry as Record<string, unknown>)[name] : undefined
}

/** Convert one array entry to a Label, or undefined when it does not fit the schema. */
export function toLabel (entry: unknown): Label | undefined {
  const id: unknown = field(entry, 'id')
  const text: unknown = field(entry, 'text')
  const author: unknown = field(entry, 'author')
  const createdAt: unknown = field(entry, 'createdAt')
  if (typeof text !== 'string' || typeof author !== 'string') return undefined
  return {
    id: typeof id === 'string' ? id : '',
    text: text.slice(0, MAX_TEXT_LENGTH),
    author: author.slice(0, MAX_AUTHOR_LENGTH),
    createdAt: typeof createdAt === 'number' && Number.isFinite(createdAt) ? createdAt : 0,
  }
}

/** All well-formed labels, in document order. */
export function readLabels (doc: Y.Doc): Label[] {
  const labels: Label[] = []
  for (const entry of labelsArray(doc).toArray()) {
    const label = toLabel(entry)
    if (label !== undefined) labels.push(label)
  }
  return labels
}

function randomId (): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID()
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** Append a label; throws RangeError when text or author are empty or too long. */
export function addLabel (doc: Y.Doc, text: string, author: string): Label {
  const cleanText = text.trim()
  const cleanAuthor = author.trim()
  if (cleanText.length === 0 || cleanText.length > MAX_TEXT_LENGTH) {
    throw new RangeError(`label text must be 1-${MAX_TEXT_LENGTH} characters`)
  }
  if (cleanAuthor.length === 0 || cleanAuthor.length > MAX_AUTHOR_LENGTH) {
    throw new RangeError(`author must be 1-${MAX_AUTHOR_LENGTH} characters`)
  }
  const label: Label = { id: randomId(), text: cleanText, author: cleanAuthor, createdAt: Date.now() }
  labelsArray(doc).push([{ ...label }])
  return label
}

/** Call `listener` with the current labels now and after every change; returns an unsubscribe. */
export function observeLabels (doc: Y.Doc, listener: (labels: Label[]) => void): () => void {
  const array = labelsArray(doc)
  const handler = (): void => { listener(readLabels(doc)) }
  array.observeDeep(handler)
  handler()
  return () => { array.unobserveDeep(handler) }
}

// -- entries a reader skipped ------------------------------------------------------------------------

const skipped = new Set<string>()

/**
 * A reader skipped an entry of a board document that does not fit its schema (another client, or an
 * older server, wrote it): say so in the console and in a small notice on the page, never fail.
 * Each entry is reported once.
 */
export function reportSkipped (where: string, id: string, why: string): void {
  const key = `${where}\u0000${id}`
  if (skipped.has(key)) return
  skipped.add(key)
  console.warn(`Skipped ${where} entry ${JSON.stringify(id.slice(0, 80))}: ${why}`)
  if (typeof document === 'undefined' || document.body === null) return
  let notice = document.getElementById('board-skipped')
  if (notice === null) {
    notice = document.createElement('p')
    notice.id = 'board-skipped'
    notice.setAttribute('role', 'status')
    notice.dataset['testid'] = 'board-skipped'
    Object.assign(notice.style, {
      position: 'fixed', bottom: '0.5rem', left: '0.5rem', zIndex: '50', margin: '0', maxWidth: '28rem',
      padding: '0.3rem 0.6rem', font: '0.8rem system-ui, sans-serif', background: '#fff8e1',
      border: '1px solid #e0c060', borderRadius: '4px', color: '#4a3b00',
    })
    document.body.append(notice)
  }
  const n = skipped.size
  notice.textContent = `${n} ${n === 1 ? 'entry' : 'entries'} of this board could not be shown (details in the console).`
}

/** How many entries were skipped so far (tests read it). */
export function skippedCount (): number {
  return skipped.size
}
