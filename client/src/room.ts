/**
 * Room names and the join parameters kept in the page URL (`?room=...&name=...`),
 * so links and tests can skip the join form.
 */
import { MAX_NAME_LENGTH } from './presence'

/** Same rule as the hub (shared_schema/room-protocol.md, close code 4404). */
export const ROOM_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

export interface JoinParams {
  readonly room: string
  readonly name: string
}

export function isValidRoomName (room: string): boolean {
  return ROOM_NAME_PATTERN.test(room)
}

export function isValidDisplayName (name: string): boolean {
  const trimmed = name.trim()
  return trimmed.length > 0 && trimmed.length <= MAX_NAME_LENGTH
}

/** Whatever room and name the URL carries (possibly empty or invalid). */
export function readJoinParams (url: URL): { room: string, name: string } {
  return {
    room: url.searchParams.get('room') ?? '',
    name: url.searchParams.get('name') ?? '',
  }
}

/** The same page URL carrying `params`, other query parameters kept. */
export function withJoinParams (url: URL, params: JoinParams): URL {
  const next = new URL(url.href)
  next.searchParams.set('room', params.room)
  next.searchParams.set('name', params.name)
  return next
}

/** ws(s)://host/rooms — the base the provider appends `/<room>` to. */
export function roomsBaseUrl (location: Pick<Location, 'protocol' | 'host'>): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${location.host}/rooms`
}
