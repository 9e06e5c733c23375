/**
 * The outbox: every change, as an operation, is written to localStorage *before* it is sent, and
 * leaves only once the server has answered for it (applied, duplicate or refused). Sending again is
 * always safe: the server applies an operation id once. So nothing the participant did is lost to
 * a reload, a crash, a closed laptop or a dropped connection; a later load sends what is left.
 *
 * Each page load (tab) writes only its own key, `calma.reflect.<study>.<participant>.outbox.<tab>`,
 * so two tabs never send the same batch at once, nor overwrite each other's queue. A tab says it is
 * alive under `….alive.<tab>` (a heartbeat; removed when the page goes away): a queue whose tab is
 * gone — a reload, a closed or crashed tab — is adopted by the next tab that looks, and sent.
 * Adopting twice at the same moment only sends an operation twice, which the server answers as a
 * duplicate.
 */
import { ApiError, errorMessage } from '../api'
import { MAX_BATCH, type OpEntry, type OpOutcome, type OpsOut } from './rest'

export type SaveState = 'saved' | 'saving' | 'offline' | 'closed' | 'error'

export interface SaveStatus {
  readonly state: SaveState
  /** Changes not yet saved. */
  readonly waiting: number
  /** For people. */
  readonly message: string
}

export interface OutboxHandlers {
  /** The server answered for `entry` (a refused one is dropped: `outcome.error` says why). */
  onOutcome: (entry: OpEntry, outcome: OpOutcome, version: number) => void
  /** Everything queued has been answered for: read the state again. */
  onFlushed: () => void
  onStatus: (status: SaveStatus) => void
  /** Changes left by a tab that is gone were taken into this one's queue. */
  onAdopted: () => void
}

const HEARTBEAT_MS = 20_000
/** A tab not heard of for this long is gone (background tabs' timers may run only once a minute). */
const STALE_MS = 10 * 60_000
const FIRST_RETRY_MS = 1000
const MAX_RETRY_MS = 15_000
const CLOSED_RETRY_MS = 30_000

function plural (n: number): string {
  return `${n} change${n === 1 ? '' : 's'}`
}

function isEntry (value: unknown): value is OpEntry {
  if (typeof value !== 'object' || value === null) return false
  const record = value as Record<string, unknown>
  return typeof record['op_id'] === 'string' && typeof record['op'] === 'object' && record['op'] !== null
}

function parseEntries (raw: string | null): OpEntry[] {
  if (raw === null) return []
  try {
    const value: unknown = JSON.parse(raw)
    return Array.isArray(value) ? value.filter(isEntry) : []
  } catch {
    return []
  }
}

export class Outbox {
  private readonly prefix: string
  private readonly key: string
  private readonly aliveKey: string
  /** Used only when localStorage refuses to store (then a reload would lose what is waiting). */
  private memory: OpEntry[] | undefined
  private flushing = false
  private again = false
  private retryMs = FIRST_RETRY_MS
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private heartbeat: ReturnType<typeof setInterval> | undefined
  private singles = false
  private last: SaveStatus = { state: 'saved', waiting: 0, message: 'All changes saved' }

  constructor (
    study: string, participant: string, tab: string,
    private readonly send: (batch: readonly OpEntry[]) => Promise<OpsOut>,
    private readonly handlers: OutboxHandlers,
  ) {
    this.prefix = `calma.reflect.${study}.${participant}.`
    this.key = `${this.prefix}outbox.${tab}`
    this.aliveKey = `${this.prefix}alive.${tab}`
  }

  /** Say this tab is alive, adopt queues left by tabs that are gone, and send what is waiting. */
  start (): void {
    this.beat()
    this.adoptOrphans()
    this.heartbeat = setInterval(() => {
      this.beat()
      this.adoptOrphans()
    }, HEARTBEAT_MS)
    window.addEventListener('online', () => { this.flushSoon() })
    window.addEventListener('pagehide', () => { this.leave() })
    window.addEventListener('pageshow', (event) => {
      if (event.persisted) {
        this.beat()
        this.flushSoon()
      }
    })
    this.flushSoon()
  }

  /** What is waiting, oldest first. */
  entries (): OpEntry[] {
    if (this.memory !== undefined) return [...this.memory]
    try {
      return parseEntries(localStorage.getItem(this.key))
    } catch {
      return []
    }
  }

  get status (): SaveStatus {
    return this.last
  }

  /** Queue operations (stored before this returns) and send them. */
  add (entries: readonly OpEntry[]): void {
    this.write([...this.entries(), ...entries])
    this.report(this.flushing ? 'saving' : this.last.state === 'saved' ? 'saving' : this.last.state)
    this.flushSoon()
  }

  /** Send now (after a reconnect, or when the participant asks). */
  flushSoon (): void {
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer)
      this.retryTimer = undefined
    }
    void this.flush()
  }

  private write (entries: readonly OpEntry[]): void {
    if (this.memory === undefined) {
      try {
        if (entries.length === 0) localStorage.removeItem(this.key)
        else localStorage.setItem(this.key, JSON.stringify(entries))
        return
      } catch {
        this.memory = []
      }
    }
    this.memory = [...entries]
  }

  private remove (opIds: ReadonlySet<string>): void {
    this.write(this.entries().filter((e) => !opIds.has(e.op_id)))
  }

  private beat (): void {
    try {
      localStorage.setItem(this.aliveKey, String(Date.now()))
    } catch {
      // without storage there is nothing for other tabs to adopt
    }
  }

  private leave (): void {
    try {
      localStorage.removeItem(this.aliveKey)
    } catch {
      // nothing to tidy
    }
  }

  /** Take over the queues of tabs that are gone (theirs first: they were made earlier). */
  private adoptOrphans (): void {
    if (this.memory !== undefined) return
    const now = Date.now()
    const outboxes = `${this.prefix}outbox.`
    const alives = `${this.prefix}alive.`
    let keys: string[]
    try {
      const all = Array.from({ length: localStorage.length }, (_, i) => localStorage.key(i))
        .filter((k): k is string => k !== null && k.startsWith(this.prefix))
      for (const key of all) { // tabs that crashed with nothing waiting
        if (key.startsWith(alives) && key !== this.aliveKey &&
            now - Number(localStorage.getItem(key) ?? '0') >= STALE_MS) localStorage.removeItem(key)
      }
      keys = all.filter((k) => k.startsWith(outboxes) && k !== this.key)
    } catch {
      return
    }
    for (const key of keys) {
      const tab = key.slice(outboxes.length)
      const alive = Number(localStorage.getItem(`${this.prefix}alive.${tab}`) ?? '0')
      if (now - alive < STALE_MS) continue
      const theirs = parseEntries(localStorage.getItem(key))
      const mine = this.entries()
      const known = new Set(mine.map((e) => e.op_id))
      this.write([...theirs.filter((e) => !known.has(e.op_id)), ...mine])
      if (this.memory !== undefined) return // could not store them here: leave them where they are
      const adopted = new Set(theirs.map((e) => e.op_id))
      const left = parseEntries(localStorage.getItem(key)).filter((e) => !adopted.has(e.op_id))
      if (left.length === 0) localStorage.removeItem(key)
      else localStorage.setItem(key, JSON.stringify(left))
      localStorage.removeItem(`${this.prefix}alive.${tab}`)
      if (theirs.length > 0) {
        this.handlers.onAdopted()
        this.flushSoon()
      }
    }
  }

  private report (state: SaveState, detail?: string): void {
    const waiting = this.entries().length
    let message: string
    if (waiting === 0 && state !== 'error') {
      state = 'saved'
      message = 'All changes saved'
    } else if (state === 'offline') {
      message = `Offline — ${plural(waiting)} waiting`
    } else if (state === 'closed') {
      message = `Reflect is not open for you — ${plural(waiting)} waiting`
    } else if (state === 'error') {
      message = `${detail ?? 'Could not save'}${waiting > 0 ? ` — ${plural(waiting)} waiting` : ''}`
    } else {
      message = `Saving ${plural(waiting)}…`
    }
    if (this.memory !== undefined && waiting > 0) message += ' (this browser cannot store them: keep the page open)'
    this.last = { state, waiting, message }
    this.handlers.onStatus(this.last)
  }

  private async flush (): Promise<void> {
    if (this.flushing) {
      this.again = true
      return
    }
    this.flushing = true
    let failed = false
    try {
      for (;;) {
        const batch = this.entries().slice(0, this.singles ? 1 : MAX_BATCH)
        if (batch.length === 0) break
        this.report('saving')
        let out: OpsOut
        try {
          out = await this.send(batch)
        } catch (error) {
          failed = true
          this.failed(error, batch)
          return
        }
        this.retryMs = FIRST_RETRY_MS
        this.singles = false
        const answered = new Map(out.outcomes.map((o) => [o.op_id, o]))
        this.remove(new Set(answered.keys()))
        for (const entry of batch) {
          const outcome = answered.get(entry.op_id)
          if (outcome !== undefined) this.handlers.onOutcome(entry, outcome, out.version)
        }
        if (answered.size === 0) break // never expected; do not spin
      }
      this.report('saved')
      this.handlers.onFlushed()
    } finally {
      this.flushing = false
      if (this.again) {
        this.again = false
        if (!failed) void this.flush()
      }
    }
  }

  private retry (ms: number): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      void this.flush()
    }, ms)
  }

  private backoff (): void {
    const wait = this.retryMs
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS)
    this.retry(wait)
  }

  private failed (error: unknown, batch: readonly OpEntry[]): void {
    const status = error instanceof ApiError ? error.status : 0
    if (status === 0 || status >= 500 || status === 429) {
      this.report('offline')
      this.backoff()
    } else if (status === 409) {
      this.report('closed')
      this.retry(CLOSED_RETRY_MS)
    } else if (status === 401 || status === 403) {
      this.report('error', 'You are signed out: open your invite link again to save')
      this.retry(CLOSED_RETRY_MS)
    } else if (status === 422 || status === 413) {
      this.refuseMalformed(error, batch)
    } else {
      this.report('error', `Could not save: ${errorMessage(error)}`)
      this.backoff()
    }
  }

  /**
   * The server refused the batch as malformed (nothing was applied): drop the operations it named,
   * or, when it named none, send one at a time to find the one at fault. Never expected: the page
   * makes only valid operations.
   */
  private refuseMalformed (error: unknown, batch: readonly OpEntry[]): void {
    const problem = error instanceof ApiError ? error.problem : undefined
    const bad = new Set<number>()
    for (const e of problem?.errors ?? []) {
      const match = /^ops\.(\d+)\./.exec(e.field)
      if (match?.[1] !== undefined) bad.add(Number(match[1]))
    }
    if (bad.size === 0 && batch.length > 1) {
      this.singles = true
    } else {
      const dropped = bad.size === 0 ? [batch[0]] : [...bad].map((i) => batch[i])
      const ids = new Set(dropped.filter((e): e is OpEntry => e !== undefined).map((e) => e.op_id))
      this.remove(ids)
      for (const entry of batch) {
        if (ids.has(entry.op_id)) {
          this.handlers.onOutcome(entry, { op_id: entry.op_id, status: 'refused', result: {}, error: errorMessage(error) }, -1)
        }
      }
    }
    this.retry(0)
  }

  stop (): void {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat)
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
  }
}
