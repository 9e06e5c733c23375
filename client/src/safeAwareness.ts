/**
 * Presence updates from the hub, checked entry by entry before y-protocols applies them.
 *
 * The stock handler parses every state of an awareness update in one go: a single
 * state that is not JSON throws, and everyone else's presence in that update is lost
 * (a newcomer would see an empty room). The hub refuses such states, but a client must
 * survive any document it receives: here a bad entry is skipped and reported, and the
 * good ones are applied.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { applyAwarenessUpdate, type Awareness } from 'y-protocols/awareness'

export interface FilteredAwareness {
  /** The update with only the entries whose state is null or a JSON object. */
  readonly update: Uint8Array
  /** How many entries were dropped. */
  readonly skipped: number
}

function stateIsUsable (state: string): boolean {
  if (state === 'null') return true
  try {
    const value: unknown = JSON.parse(state)
    return typeof value === 'object' && value !== null && !Array.isArray(value)
  } catch {
    return false
  }
}

/** Keep the entries of an awareness update whose state is usable; a truncated tail is dropped too. */
export function filterAwarenessUpdate (update: Uint8Array): FilteredAwareness {
  const decoder = decoding.createDecoder(update)
  const kept: Array<[number, number, string]> = []
  let skipped = 0
  try {
    const count = decoding.readVarUint(decoder)
    for (let i = 0; i < count; i++) {
      const clientId = decoding.readVarUint(decoder)
      const clock = decoding.readVarUint(decoder)
      const state = decoding.readVarString(decoder)
      if (stateIsUsable(state)) kept.push([clientId, clock, state])
      else skipped++
    }
  } catch {
    skipped++
  }
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, kept.length)
  for (const [clientId, clock, state] of kept) {
    encoding.writeVarUint(encoder, clientId)
    encoding.writeVarUint(encoder, clock)
    encoding.writeVarString(encoder, state)
  }
  return { update: encoding.toUint8Array(encoder), skipped }
}

/** Apply an awareness update from `origin`, skipping (and reporting) entries that are not usable. */
export function applyAwarenessSafely (awareness: Awareness, update: Uint8Array, origin: unknown): void {
  const filtered = filterAwarenessUpdate(update)
  if (filtered.skipped > 0) {
    console.warn(`presence: skipped ${filtered.skipped} malformed awareness state(s) from the server`)
  }
  applyAwarenessUpdate(awareness, filtered.update, origin)
}
