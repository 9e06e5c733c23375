/**
 * WebSocket close codes of the board hub, read from the single source of truth,
 * shared_schema/close_codes.json (bundled by Vite's JSON import). The shape is
 * checked when the module loads, so a malformed schema fails loudly and early.
 */
import schema from '../../shared_schema/close_codes.json'

export interface CloseCodeInfo {
  readonly code: number
  readonly name: string
  readonly reason: string
  /** Whether reconnecting can help (the server's word, not ours). */
  readonly retry: boolean
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Parse and check the `codes` table of close_codes.json. */
export function parseCloseCodes (raw: unknown): ReadonlyMap<number, CloseCodeInfo> {
  if (!isRecord(raw) || !isRecord(raw['codes'])) {
    throw new Error('close_codes.json: expected an object with a "codes" object')
  }
  const table = new Map<number, CloseCodeInfo>()
  for (const [key, entry] of Object.entries(raw['codes'])) {
    const code = Number(key)
    if (!Number.isInteger(code) || code < 1000 || code > 4999) {
      throw new Error(`close_codes.json: ${key} is not a WebSocket close code`)
    }
    if (!isRecord(entry) || typeof entry['name'] !== 'string' ||
        typeof entry['reason'] !== 'string' || typeof entry['retry'] !== 'boolean') {
      throw new Error(`close_codes.json: code ${key} needs string name, string reason, boolean retry`)
    }
    table.set(code, { code, name: entry['name'], reason: entry['reason'], retry: entry['retry'] })
  }
  return table
}

export const CLOSE_CODES: ReadonlyMap<number, CloseCodeInfo> = parseCloseCodes(schema)

/** The hub's description of a close code, if it is one of ours. */
export function closeCodeInfo (code: number): CloseCodeInfo | undefined {
  return CLOSE_CODES.get(code)
}

/**
 * Whether the client should reconnect after the server closed with `code`.
 * Our codes follow the schema's `retry`; any other code is treated as transient
 * except the 4400-4499 range, which by convention means "do not retry".
 */
export function shouldReconnectAfter (code: number): boolean {
  const info = CLOSE_CODES.get(code)
  if (info !== undefined) return info.retry
  return !(code >= 4400 && code < 4500)
}
