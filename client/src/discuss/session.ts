/**
 * The live session over /live: subscribe to the group's control state (again after every
 * reconnect: the first state is the truth, so a late joiner lands in the current segment), keep the
 * latest state, feed the server's clock with its stamps, and send commands (the facilitator's
 * segments, timers, reveals and spotlight; a participant's hand).
 */
import { LiveConnection, liveUrl, type LiveStatus } from '../live'
import type { Command, ControlState, ServerFrame } from '../generated/control'
import type { ServerClock } from './serverClock'

export interface SessionHandlers {
  readonly onStatus: (status: LiveStatus) => void
  /** A new control state (after subscribing and after every change). */
  readonly onState: (state: ControlState, previous: ControlState | undefined) => void
}

export class LiveSession {
  private readonly live: LiveConnection
  private current: ControlState | undefined

  constructor (readonly study: string, readonly group: string, private readonly clock: ServerClock,
    private readonly handlers: SessionHandlers) {
    this.live = new LiveConnection(liveUrl(window.location), {
      onStatus: (status) => { handlers.onStatus(status) },
      onOpen: (hello) => {
        clock.observe(hello.server_time)
        this.live.request({ type: 'session.subscribe', study, group }).catch((error: unknown) => {
          handlers.onStatus({ state: 'closed', message: `Could not join the live session: ${error instanceof Error ? error.message : String(error)}` })
        })
      },
      onFrame: (frame) => { this.receive(frame) },
    })
  }

  get state (): ControlState | undefined { return this.current }

  start (): void { this.live.start() }
  stop (): void { this.live.stop() }

  /** Send a command; resolves once the server carried it out (and sent the new state). */
  async command (command: Command): Promise<void> {
    await this.live.request({ type: 'control.command', study: this.study, group: this.group, command })
  }

  private receive (frame: ServerFrame): void {
    if (frame.type !== 'control.state' || frame.study !== this.study || frame.group !== this.group) return
    this.clock.observe(frame.server_time)
    const previous = this.current
    this.current = frame.state
    this.handlers.onState(frame.state, previous)
  }
}
