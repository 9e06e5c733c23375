/**
 * The server's clock, as this page estimates it: `now()` is Date.now() moved by the offset
 * (clock.ts). Every frame stamped with the server's time (hello, control.state) bounds the offset
 * at once; ping/pong refines it. Pings go over a short-lived /live connection of their own (the
 * page's LiveConnection answers requests with acks only): a few pings when the page opens and
 * again every few minutes, then that connection closes.
 */
import { decode, encode } from '@msgpack/msgpack'
import { bestOffset, combinedOffset, type PongSample } from './clock'

const PINGS = 5
const PING_GAP_MS = 150
const RESAMPLE_MS = 5 * 60_000
const GIVE_UP_MS = 10_000

export class ServerClock {
  private pongOffset: number | undefined
  private lowerBound: number | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private stopped = false
  private readonly listeners = new Set<() => void>()

  constructor (private readonly url: string) {}

  /** The server's time now, in ms, as best known. */
  now (): number {
    return Date.now() + this.offset
  }

  get offset (): number {
    return combinedOffset(this.pongOffset, this.lowerBound)
  }

  /** Whether a ping/pong estimate is in (until then the offset is only a lower bound). */
  get measured (): boolean {
    return this.pongOffset !== undefined
  }

  onChange (listener: () => void): void {
    this.listeners.add(listener)
  }

  /** A frame stamped `serverTime` just arrived. */
  observe (serverTime: number): void {
    if (!Number.isFinite(serverTime)) return
    const bound = serverTime - Date.now()
    if (this.lowerBound === undefined || bound > this.lowerBound) {
      this.lowerBound = bound
      this.changed()
    }
  }

  start (): void {
    this.stopped = false
    this.sample()
  }

  stop (): void {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
  }

  private changed (): void {
    for (const listener of this.listeners) listener()
  }

  private schedule (ms: number): void {
    if (this.stopped) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = setTimeout(() => { this.sample() }, ms)
  }

  /** One round of pings on a connection of its own; resolves the offset from the best round trip. */
  private sample (): void {
    if (this.stopped) return
    const samples: PongSample[] = []
    const sent = new Map<string, number>()
    let socket: WebSocket
    try {
      socket = new WebSocket(this.url)
    } catch {
      this.schedule(RESAMPLE_MS)
      return
    }
    socket.binaryType = 'arraybuffer'
    let pinged = 0
    let done = false
    const giveUp = setTimeout(() => { finish() }, GIVE_UP_MS)
    const finish = (): void => {
      if (done) return
      done = true
      clearTimeout(giveUp)
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) socket.close(1000, 'clock measured')
      const offset = bestOffset(samples)
      if (offset !== undefined) {
        this.pongOffset = offset
        // start the bounds afresh: older ones may predate a change of this computer's clock
        this.lowerBound = undefined
        this.changed()
      }
      this.schedule(offset === undefined ? 5_000 : RESAMPLE_MS)
    }
    const ping = (): void => {
      if (socket.readyState !== WebSocket.OPEN) return
      pinged += 1
      const id = `clock${pinged}`
      const at = Date.now()
      sent.set(id, at)
      socket.send(encode({ type: 'ping', id, client_time: at }))
    }
    socket.addEventListener('message', (event) => {
      if (!(event.data instanceof ArrayBuffer)) return
      let frame: unknown
      try {
        frame = decode(new Uint8Array(event.data))
      } catch {
        return
      }
      if (typeof frame !== 'object' || frame === null) return
      const { type, id, server_time: serverTime } = frame as Record<string, unknown>
      if (type === 'hello') {
        if (typeof serverTime === 'number') this.observe(serverTime)
        ping()
        return
      }
      if (type !== 'pong' || typeof id !== 'string' || typeof serverTime !== 'number') return
      const sentAt = sent.get(id)
      if (sentAt === undefined) return
      samples.push({ sentAt, receivedAt: Date.now(), serverTime })
      if (pinged < PINGS) setTimeout(ping, PING_GAP_MS)
      else finish()
    })
    socket.addEventListener('close', () => { finish() })
  }
}
