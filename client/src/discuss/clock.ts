/**
 * Server time and timer arithmetic, pure (no DOM, no clock of its own: callers pass `now`).
 *
 * Timers live in the control document on the server's clock (shared_schema/control.md): a running
 * timer ends at `started_at + duration_ms`; a paused one keeps `paused_remaining_ms`; an idle one
 * has its full `duration_ms`. The page estimates how far its clock is from the server's with
 * ping/pong: offset ≈ server_time − (client_time + now) / 2, trusting the sample with the shortest
 * round trip. Any frame stamped with the server's time also bounds the offset from below
 * (the frame was stamped before it arrived), which covers the moments before the first pong.
 */
import type { Timer } from '../generated/control'

/** One ping/pong exchange: when the ping left and the pong arrived (client ms), and the server's stamp. */
export interface PongSample {
  readonly sentAt: number
  readonly receivedAt: number
  readonly serverTime: number
}

/** offset = server clock − client clock, from one exchange (the server stamped it half way, give or take). */
export function offsetFromPong (sample: PongSample): number {
  return sample.serverTime - (sample.sentAt + sample.receivedAt) / 2
}

export function roundTrip (sample: PongSample): number {
  return sample.receivedAt - sample.sentAt
}

/** The offset of the sample with the shortest round trip (the least room for error), or undefined. */
export function bestOffset (samples: readonly PongSample[]): number | undefined {
  let best: PongSample | undefined
  for (const sample of samples) {
    if (roundTrip(sample) < 0) continue
    if (best === undefined || roundTrip(sample) < roundTrip(best)) best = sample
  }
  return best === undefined ? undefined : offsetFromPong(best)
}

/**
 * The offset to use: the ping/pong estimate when there is one, never below what a server-stamped
 * frame proved (`lowerBound`: the largest `server_time − arrival` seen), else that bound, else 0.
 */
export function combinedOffset (pong: number | undefined, lowerBound: number | undefined): number {
  if (pong === undefined) return lowerBound ?? 0
  return lowerBound === undefined ? pong : Math.max(pong, lowerBound)
}

export type TimerPhase = 'idle' | 'running' | 'paused' | 'over'

export interface TimerReading {
  readonly phase: TimerPhase
  /** What is left, never below 0. */
  readonly remainingMs: number
  readonly durationMs: number
}

function finite (value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value)
}

/** A timer at server time `serverNow`; a malformed timer reads as idle at 0. */
export function readTimer (timer: Timer | undefined, serverNow: number): TimerReading {
  const duration = timer !== undefined && finite(timer.duration_ms) ? Math.max(0, timer.duration_ms) : 0
  if (timer === undefined) return { phase: 'idle', remainingMs: 0, durationMs: 0 }
  if (finite(timer.started_at)) {
    const remaining = Math.max(0, timer.started_at + duration - serverNow)
    return { phase: remaining > 0 ? 'running' : 'over', remainingMs: remaining, durationMs: duration }
  }
  if (finite(timer.paused_remaining_ms)) {
    return { phase: 'paused', remainingMs: Math.max(0, timer.paused_remaining_ms), durationMs: duration }
  }
  return { phase: 'idle', remainingMs: duration, durationMs: duration }
}

/** How urgent a timer looks: calm, the last minute (`warn`), or time is up (`over`). */
export type Urgency = 'calm' | 'warn' | 'over'

export const WARN_MS = 60_000

export function urgency (reading: TimerReading): Urgency {
  if (reading.phase === 'over') return 'over'
  if (reading.phase === 'running' && reading.remainingMs <= WARN_MS) return 'warn'
  if (reading.phase === 'paused' && reading.remainingMs <= WARN_MS) return 'warn'
  return 'calm'
}

/** m:ss (or h:mm:ss), rounding up so that a timer shows 0:00 only once it is over. */
export function formatRemaining (ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000))
  const hours = Math.floor(total / 3600)
  const minutes = Math.floor((total % 3600) / 60)
  const seconds = total % 60
  const ss = String(seconds).padStart(2, '0')
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${ss}` : `${minutes}:${ss}`
}
