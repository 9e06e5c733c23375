/**
 * A client of the control channel /live (shared_schema/control.md): MessagePack frames in binary
 * WebSocket messages, requests answered by `ack` or `error` (matched by id), and reconnection with
 * backoff unless the close code says retrying cannot help. The page re-subscribes in `onOpen`,
 * which runs after every `hello`, so state is resynced after each reconnect.
 */
import { decode, encode } from '@msgpack/msgpack'
import {
  CONTROL_CLOSE_CODES, CONTROL_ENDPOINT, SERVER_FRAME_TYPES,
  type ClientFrame, type ErrorCode, type ErrorFrame, type HelloFrame, type ServerFrame,
} from './generated/control'

export type LiveState = 'connecting' | 'open' | 'reconnecting' | 'closed'

export interface LiveStatus {
  readonly state: LiveState
  /** For people: what is happening and, after a close, why. */
  readonly message: string
  readonly closeCode?: number
}

export interface LiveHandlers {
  onStatus: (status: LiveStatus) => void
  /** After every hello (first connect and each reconnect): subscribe here. */
  onOpen: (hello: HelloFrame) => void
  /** Every server frame that is not the answer to a request. */
  onFrame: (frame: ServerFrame) => void
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never
export type LiveRequest = WithoutId<Exclude<ClientFrame, { type: 'ping' }>>

/** The server refused a request with an error frame. */
export class LiveRefused extends Error {
  readonly code: ErrorCode | 'disconnected'
  /** For `limit` and `rate_limited`: how long to wait before trying again, when the server said. */
  readonly retryAfterMs: number | undefined

  constructor (code: ErrorCode | 'disconnected', message: string, retryAfterMs?: number) {
    super(message)
    this.name = 'LiveRefused'
    this.code = code
    this.retryAfterMs = retryAfterMs
  }

  static of (frame: ErrorFrame): LiveRefused {
    return new LiveRefused(frame.code, frame.message, frame.retry_after_ms)
  }
}

const FIRST_RETRY_MS = 1000
const MAX_RETRY_MS = 15_000

/** ws(s)://host/live for a page served by the hub. */
export function liveUrl (location: Pick<Location, 'protocol' | 'host'>): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${location.host}${CONTROL_ENDPOINT}`
}

function asServerFrame (value: unknown): ServerFrame | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const type: unknown = (value as Record<string, unknown>)['type']
  if (typeof type !== 'string' || !(SERVER_FRAME_TYPES as readonly string[]).includes(type)) return undefined
  return value as ServerFrame
}

interface Pending {
  readonly resolve: () => void
  readonly reject: (error: LiveRefused) => void
}

export class LiveConnection {
  private socket: WebSocket | undefined
  private readonly pending = new Map<string, Pending>()
  private requestCount = 0
  private retryMs = FIRST_RETRY_MS
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private stopped = false
  private everOpen = false

  constructor (private readonly url: string, private readonly handlers: LiveHandlers) {}

  start (): void {
    this.stopped = false
    this.open()
  }

  stop (): void {
    this.stopped = true
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    this.socket?.close(1000, 'page closed')
    this.socket = undefined
    this.failPending('the page stopped listening')
  }

  get isOpen (): boolean {
    return this.socket?.readyState === WebSocket.OPEN
  }

  /** Send a request; resolves on its ack, rejects with LiveRefused on its error frame or a lost connection. */
  async request (frame: LiveRequest): Promise<void> {
    const socket = this.socket
    if (socket === undefined || socket.readyState !== WebSocket.OPEN) {
      throw new LiveRefused('disconnected', 'not connected to the live channel')
    }
    this.requestCount += 1
    const id = `r${this.requestCount}`
    const done = new Promise<void>((resolve, reject) => { this.pending.set(id, { resolve, reject }) })
    socket.send(encode({ ...frame, id }))
    await done
  }

  private open (): void {
    this.handlers.onStatus({
      state: this.everOpen ? 'reconnecting' : 'connecting',
      message: this.everOpen ? 'Reconnecting…' : 'Connecting…',
    })
    const socket = new WebSocket(this.url)
    socket.binaryType = 'arraybuffer'
    this.socket = socket
    socket.addEventListener('message', (event) => {
      if (socket === this.socket && event.data instanceof ArrayBuffer) this.receive(event.data)
    })
    socket.addEventListener('close', (event) => {
      if (socket === this.socket) this.closed(event)
    })
  }

  private receive (data: ArrayBuffer): void {
    let frame: ServerFrame | undefined
    try {
      frame = asServerFrame(decode(new Uint8Array(data)))
    } catch {
      frame = undefined
    }
    if (frame === undefined) return // not ours to understand; the server never sends these
    if (frame.type === 'hello') {
      this.everOpen = true
      this.retryMs = FIRST_RETRY_MS
      this.handlers.onStatus({ state: 'open', message: 'Live' })
      this.handlers.onOpen(frame)
      return
    }
    if ((frame.type === 'ack' || frame.type === 'error') && frame.id !== undefined) {
      const pending = this.pending.get(frame.id)
      if (pending !== undefined) {
        this.pending.delete(frame.id)
        if (frame.type === 'ack') pending.resolve()
        else pending.reject(LiveRefused.of(frame))
        return
      }
    }
    this.handlers.onFrame(frame)
  }

  private closed (event: CloseEvent): void {
    this.socket = undefined
    this.failPending('the connection was lost')
    if (this.stopped) return
    const known = CONTROL_CLOSE_CODES[event.code]
    const reason = known?.reason ?? (event.reason !== '' ? event.reason : 'connection lost')
    if (known !== undefined && !known.retry) {
      this.handlers.onStatus({ state: 'closed', message: `Closed by the server: ${reason}`, closeCode: event.code })
      return
    }
    const wait = this.retryMs
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS)
    this.handlers.onStatus({
      state: 'reconnecting',
      message: `Disconnected (${reason}); reconnecting in ${Math.round(wait / 1000)} s…`,
      closeCode: event.code,
    })
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      if (!this.stopped) this.open()
    }, wait)
  }

  private failPending (why: string): void {
    for (const pending of this.pending.values()) pending.reject(new LiveRefused('disconnected', why))
    this.pending.clear()
  }
}
