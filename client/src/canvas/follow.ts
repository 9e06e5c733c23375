/**
 * "Bring everyone here": the shared view of the canvas over the control channel /live. The page
 * subscribes to its group's live session; every `control.state` carries `view` ({x, y, zoom, at},
 * or null), the view the facilitator last brought everyone to. When `at` changes, the page moves
 * there (the centre of the screen to (x, y), at that zoom) and says who brought everyone.
 *
 * On first load (and after a reconnect) the page follows only a view set in the last 10 seconds
 * (by the server's clock, from the same frame): someone who opens the canvas just after the
 * facilitator pressed the button lands where everyone is, and an old view does not override
 * where they were looking. The facilitator's page (can_steer) sends `view.set`.
 */
import { LiveConnection, liveUrl, type LiveStatus } from '../live'
import type { ControlState, ServerFrame, ViewSetCommand } from '../generated/control'
import type { Focus } from './viewport'

/** How recent a view must be to be followed when the page first hears of it. */
export const FOLLOW_RECENT_MS = 10_000

export interface SharedView extends Focus {
  /** Server ms when the facilitator set it. */
  readonly at: number
  /** Who set it, if the server says. */
  readonly by?: string
}

function finite (value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value)
}

/**
 * The `view` entry of a control state, checked again (the frame was decoded, not validated, here):
 * null when unset or malformed. A `by` (who set it) is read if the server ever sends one.
 */
export function readSharedView (state: ControlState): SharedView | null {
  const view: unknown = state.view
  if (typeof view !== 'object' || view === null) return null
  const { x, y, zoom, at, by } = view as Record<string, unknown>
  if (!finite(x) || !finite(y) || !finite(zoom) || zoom <= 0 || !finite(at)) return null
  return typeof by === 'string' && by !== '' ? { x, y, zoom, at, by: by.slice(0, 80) } : { x, y, zoom, at }
}

/** The `view.set` command; x, y and zoom are kept within control.json's bounds. */
export function viewSetCommand (focus: Focus): ViewSetCommand {
  const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v))
  return {
    name: 'view.set',
    x: clamp(focus.x, -1_000_000, 1_000_000),
    y: clamp(focus.y, -1_000_000, 1_000_000),
    zoom: clamp(focus.zoom, 0.01, 50),
  }
}

export interface FollowHandlers {
  readonly onStatus: (status: LiveStatus) => void
  /** The first control state after (re)subscribing arrived: from now on the page follows. */
  readonly onSubscribed: () => void
  /** Go to this view; `fromSelf` when this page set it. */
  readonly onFollow: (view: SharedView, fromSelf: boolean) => void
}

export class FollowView {
  private readonly live: LiveConnection
  /** The `at` of the last view this page knows of, undefined until the first state after subscribing. */
  private lastAt: number | undefined
  private fresh = true
  /** This page sent view.set and has not seen the state with it yet. */
  private awaitingOwn = false

  constructor (private readonly study: string, private readonly group: string, private readonly handlers: FollowHandlers) {
    this.live = new LiveConnection(liveUrl(window.location), {
      onStatus: (status) => { handlers.onStatus(status) },
      onOpen: () => {
        this.fresh = true
        this.live.request({ type: 'session.subscribe', study, group }).catch(() => {
          // refused or disconnected: the status line says so, and the next hello subscribes again
        })
      },
      onFrame: (frame) => { this.receive(frame) },
    })
  }

  start (): void { this.live.start() }
  stop (): void { this.live.stop() }
  get isOpen (): boolean { return this.live.isOpen }

  /** Bring everyone to `focus` (facilitators); resolves once the server has it. */
  async bringEveryone (focus: Focus): Promise<void> {
    this.awaitingOwn = true
    try {
      await this.live.request({ type: 'control.command', study: this.study, group: this.group, command: viewSetCommand(focus) })
    } finally {
      this.awaitingOwn = false
    }
  }

  private receive (frame: ServerFrame): void {
    if (frame.type !== 'control.state' || frame.study !== this.study || frame.group !== this.group) return
    const view = readSharedView(frame.state)
    const first = this.fresh
    this.fresh = false
    if (first) this.handlers.onSubscribed()
    if (view === null || view.at === this.lastAt) {
      if (view === null) this.lastAt = undefined
      return
    }
    this.lastAt = view.at
    // The first state after (re)subscribing: follow only a view set just now.
    if (first && frame.server_time - view.at > FOLLOW_RECENT_MS) return
    const fromSelf = this.awaitingOwn
    this.awaitingOwn = false
    this.handlers.onFollow(view, fromSelf)
  }
}
