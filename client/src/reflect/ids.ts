/**
 * Ids the page chooses: for new records (16 lowercase hex digits, as the server wants them, so that
 * a change can be made offline) and for operations (so that one sent again is applied once).
 */

function hex (bytes: number): string {
  const data = crypto.getRandomValues(new Uint8Array(bytes))
  return Array.from(data, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** A new record id: 16 lowercase hex digits. */
export function newRecordId (): string {
  return hex(8)
}

/** A new operation id (8–64 of [A-Za-z0-9_-]). */
export function newOpId (): string {
  return `op-${hex(12)}`
}

/** This page load's id, for its own outbox. */
export function newTabId (): string {
  return hex(6)
}
