/**
 * The participant's Reflect records on this page: the server's state, the changes acknowledged but
 * not yet in it, and the outbox's waiting changes, seen together as one view (project.ts). Every
 * change goes through `change`: into the outbox (stored), onto the view at once, then to the server.
 * The state is read again after the outbox empties and whenever /live says another tab or device
 * changed something (`reflect.changed` with a newer version).
 *
 * Undo: each change the participant makes is remembered with the operations the server said would
 * undo it; Undo sends those as new operations (and is not itself undoable).
 */
import { errorMessage } from '../api'
import { newOpId } from './ids'
import type { Outbox } from './outbox'
import { newKnown, project, remember, type Known, type ReflectView } from './project'
import { reflectApi, type Op, type OpEntry, type OpOutcome, type ReflectState } from './rest'

interface UndoEntry {
  /** What was done, in words ("Add codes", "Rename a code"…). */
  readonly what: string
  readonly opIds: readonly string[]
  /** Per operation, its undo once the server applied it. */
  readonly undo: Map<string, readonly Op[]>
}

export interface UndoState {
  /** What Undo would undo; undefined when there is nothing. */
  readonly what: string | undefined
  /** False while the change is still waiting for the server. */
  readonly ready: boolean
}

export interface StoreHandlers {
  /** A change was refused by the server (it has been dropped). */
  onRefused: (error: string, op: Op) => void
  /** The state could not be read (the view stays as it was). */
  onReadError: (error: unknown) => void
}

const MAX_UNDO = 100

export class ReflectStore {
  private server: ReflectState | undefined
  private applied: Array<{ readonly op: Op, readonly version: number }> = []
  private readonly known: Known = newKnown()
  private readonly listeners = new Set<(view: ReflectView) => void>()
  private readonly undoStack: UndoEntry[] = []
  private readonly undoListeners = new Set<(state: UndoState) => void>()
  private current: ReflectView | undefined
  private fetching = false
  private fetchAgain = false
  private outbox: Outbox | undefined
  /** The newest version this page knows of: the state's, or one its own changes reached. */
  private seen = -1

  constructor (private readonly study: string, private readonly handlers: StoreHandlers) {}

  /** Connect the outbox (made with this store's `outcome` and `flushed` as its handlers). */
  attach (outbox: Outbox): void {
    this.outbox = outbox
  }

  get view (): ReflectView | undefined {
    return this.current
  }

  /** Whether the participant agreed that others in their group may code their conversations. */
  get sharing (): boolean {
    return this.server?.sharing ?? false
  }

  /** A state the server answered with elsewhere (e.g. after agreeing to share): shown like a read one. */
  accept (state: ReflectState): void {
    this.setServer(state)
  }

  subscribe (listener: (view: ReflectView) => void): void {
    this.listeners.add(listener)
  }

  subscribeUndo (listener: (state: UndoState) => void): void {
    this.undoListeners.add(listener)
  }

  /** Read the state the first time (failures are thrown: the page cannot start without it). */
  async load (): Promise<ReflectView> {
    this.setServer(await reflectApi.state(this.study))
    if (this.current === undefined) throw new Error('no state')
    return this.current
  }

  /** Read the state again (coalesced: one request at a time, one more if asked meanwhile). */
  async refresh (): Promise<void> {
    if (this.fetching) {
      this.fetchAgain = true
      return
    }
    this.fetching = true
    try {
      this.setServer(await reflectApi.state(this.study))
    } catch (error) {
      this.handlers.onReadError(error)
    } finally {
      this.fetching = false
      if (this.fetchAgain) {
        this.fetchAgain = false
        void this.refresh()
      }
    }
  }

  /** /live said the records are at `version` now. */
  remoteVersion (version: number): void {
    if (version > this.seen) void this.refresh()
  }

  /**
   * Make a change: its operations are stored in the outbox, shown at once and sent. `what` names it
   * for Undo; undefined makes it not undoable (Undo's own operations).
   */
  change (ops: readonly Op[], what: string | undefined): void {
    if (ops.length === 0 || this.outbox === undefined) return
    const entries: OpEntry[] = ops.map((op) => ({ op_id: newOpId(), op }))
    if (what !== undefined) {
      this.undoStack.push({ what, opIds: entries.map((e) => e.op_id), undo: new Map() })
      if (this.undoStack.length > MAX_UNDO) this.undoStack.shift()
    }
    this.outbox.add(entries)
    this.recompute()
    this.tellUndo()
  }

  /** Undo the last change (once the server has applied it). */
  undo (): void {
    const top = this.undoStack.at(-1)
    if (top === undefined || !ready(top)) return
    this.undoStack.pop()
    const ops = [...top.opIds].reverse().flatMap((id) => top.undo.get(id) ?? [])
    if (ops.length > 0) this.change(ops, undefined)
    else this.tellUndo()
  }

  get undoState (): UndoState {
    const top = this.undoStack.at(-1)
    return { what: top?.what, ready: top !== undefined && ready(top) }
  }

  /** The outbox's answer for one operation. */
  outcome (entry: OpEntry, outcome: OpOutcome, version: number): void {
    const entryOfUndo = this.undoStack.find((u) => u.opIds.includes(entry.op_id))
    if (outcome.status === 'refused') {
      this.handlers.onRefused(outcome.error ?? 'refused by the server', entry.op)
      if (entryOfUndo !== undefined) this.undoStack.splice(this.undoStack.indexOf(entryOfUndo), 1)
    } else {
      this.applied.push({ op: entry.op, version })
      this.seen = Math.max(this.seen, version)
      if (entryOfUndo !== undefined) entryOfUndo.undo.set(entry.op_id, outcome.result.undo ?? [])
    }
    this.recompute()
    this.tellUndo()
  }

  /** The outbox is empty: the state is read again. */
  flushed (): void {
    void this.refresh()
  }

  private setServer (state: ReflectState): void {
    if (this.server !== undefined && state.version < this.server.version) return // an older answer, late
    this.server = state
    this.seen = Math.max(this.seen, state.version)
    remember(this.known, state)
    this.applied = this.applied.filter((a) => a.version > state.version)
    this.recompute()
  }

  /** Called when the outbox changed (e.g. a queue adopted from a closed tab). */
  recompute (): void {
    if (this.server === undefined) return
    const pending = this.outbox?.entries().map((e) => e.op) ?? []
    try {
      this.current = project(this.server, this.applied.map((a) => a.op), pending, this.known)
    } catch (error) {
      this.handlers.onReadError(new Error(`could not show the changes: ${errorMessage(error)}`))
      return
    }
    for (const listener of this.listeners) listener(this.current)
  }

  private tellUndo (): void {
    const state = this.undoState
    for (const listener of this.undoListeners) listener(state)
  }
}

function ready (entry: UndoEntry): boolean {
  return entry.opIds.every((id) => entry.undo.has(id))
}
