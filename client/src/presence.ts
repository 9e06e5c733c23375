/**
 * Presence through Yjs awareness: each client publishes `user: {name, color}`
 * (shared_schema/board.json). Remote states are untrusted and checked here.
 */
import type { Awareness } from 'y-protocols/awareness'

export const MAX_NAME_LENGTH = 80
const FALLBACK_COLOR = '#7f7f7f'
const PALETTE = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
  '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#393b79',
] as const

export interface PresenceUser {
  readonly name: string
  readonly color: string
}

export interface Peer {
  readonly clientId: number
  readonly user: PresenceUser
  readonly isSelf: boolean
}

/** A stable colour for a display name, so a person keeps their colour across visits. */
export function colorFor (name: string): string {
  let hash = 0
  for (const char of name) hash = (hash * 31 + (char.codePointAt(0) ?? 0)) >>> 0
  return PALETTE[hash % PALETTE.length] ?? FALLBACK_COLOR
}

function isCssColor (value: string): boolean {
  if (typeof CSS !== 'undefined' && typeof CSS.supports === 'function') {
    return value.length <= 64 && CSS.supports('color', value)
  }
  return /^#[0-9a-f]{3,8}$/i.test(value)
}

/** Extract a valid user from an awareness state, or undefined. */
export function toPresenceUser (state: unknown): PresenceUser | undefined {
  if (typeof state !== 'object' || state === null) return undefined
  const user: unknown = (state as Record<string, unknown>)['user']
  if (typeof user !== 'object' || user === null) return undefined
  const name: unknown = (user as Record<string, unknown>)['name']
  const color: unknown = (user as Record<string, unknown>)['color']
  if (typeof name !== 'string' || name.trim().length === 0) return undefined
  return {
    name: name.trim().slice(0, MAX_NAME_LENGTH),
    color: typeof color === 'string' && isCssColor(color) ? color : FALLBACK_COLOR,
  }
}

/** Publish who we are. */
export function setLocalUser (awareness: Awareness, user: PresenceUser): void {
  awareness.setLocalStateField('user', { name: user.name, color: user.color })
}

/** Everyone currently present with a valid user, self first, then by name. */
export function readPeers (awareness: Awareness): Peer[] {
  const peers: Peer[] = []
  awareness.getStates().forEach((state, clientId) => {
    const user = toPresenceUser(state)
    if (user !== undefined) peers.push({ clientId, user, isSelf: clientId === awareness.clientID })
  })
  return peers.sort((a, b) =>
    Number(b.isSelf) - Number(a.isSelf) || a.user.name.localeCompare(b.user.name) || a.clientId - b.clientId)
}

/** Call `listener` with the peers now and on every presence change; returns an unsubscribe. */
export function observePresence (awareness: Awareness, listener: (peers: Peer[]) => void): () => void {
  const handler = (): void => { listener(readPeers(awareness)) }
  awareness.on('change', handler)
  handler()
  return () => { awareness.off('change', handler) }
}
