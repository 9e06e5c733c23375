#!/usr/bin/env node
/**
 * Interop check with the stock clients: yjs + y-websocket's WebsocketProvider
 * (the `ws` package as its WebSocket), exactly as any third-party client would.
 *
 *   node scripts/interop.mjs --url ws://127.0.0.1:PORT/rooms --room R \
 *        --mode write|read --expect N --text PREFIX [--author NAME] [--timeout MS]
 *
 * write: sync, append N labels "PREFIX-0".."PREFIX-(N-1)" to the "labels" array,
 *        then confirm with a second, fresh connection that the hub has them all.
 * read:  sync, then wait (observing the doc) until at least N labels whose text
 *        starts with "PREFIX-" are present.
 * Prints one JSON line on stdout and exits 0; on timeout or error prints a
 * message on stderr and exits 1 (2 for bad arguments).
 */
import { parseArgs } from 'node:util'
import { randomUUID } from 'node:crypto'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const LABELS = 'labels'

class Failure extends Error {}

function usage (message) {
  process.stderr.write(`interop: ${message}\n` +
    'usage: interop.mjs --url ws://HOST:PORT/rooms --room R --mode write|read ' +
    '--expect N --text PREFIX [--author NAME] [--timeout MS]\n')
  process.exit(2)
}

function parseOptions () {
  let values
  try {
    ({ values } = parseArgs({
      options: {
        url: { type: 'string' },
        room: { type: 'string' },
        mode: { type: 'string' },
        expect: { type: 'string' },
        text: { type: 'string' },
        author: { type: 'string', default: 'node-interop' },
        timeout: { type: 'string', default: '15000' },
      },
      strict: true,
    }))
  } catch (error) {
    usage(error.message)
  }
  for (const name of ['url', 'room', 'mode', 'expect', 'text']) {
    if (!values[name]) usage(`--${name} is required`)
  }
  if (values.mode !== 'write' && values.mode !== 'read') usage('--mode must be write or read')
  const expect = Number(values.expect)
  const timeout = Number(values.timeout)
  if (!Number.isInteger(expect) || expect < 0) usage('--expect must be a non-negative integer')
  if (!Number.isFinite(timeout) || timeout <= 0) usage('--timeout must be a positive number of ms')
  return { ...values, expect, timeout }
}

/** Labels in `doc` whose text starts with `prefix-`, as plain objects. */
function matchingLabels (doc, prefix) {
  const found = []
  for (const entry of doc.getArray(LABELS).toArray()) {
    const get = (name) => entry instanceof Y.Map ? entry.get(name) : (entry !== null && typeof entry === 'object' ? entry[name] : undefined)
    const text = get('text')
    if (typeof text === 'string' && text.startsWith(`${prefix}-`)) {
      found.push({ id: get('id'), text, author: get('author'), createdAt: get('createdAt') })
    }
  }
  return found
}

/**
 * Connect a fresh doc and resolve once it has synced with the hub. Rejects on a
 * close the provider will not retry, or when `deadline` passes.
 */
function connect (opts, deadline) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(opts.url, opts.room, doc, {
    WebSocketPolyfill: WebSocket,
    disableBc: true,
  })
  const closes = []
  provider.on('connection-close', (event) => {
    if (event) closes.push(`${event.code}${event.reason ? ` ${event.reason}` : ''}`)
  })
  const synced = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Failure(`not synced with ${provider.url} within ${opts.timeout} ms` +
        (closes.length ? ` (server closes: ${closes.join(', ')})` : '')))
    }, Math.max(0, deadline - Date.now()))
    provider.on('sync', (isSynced) => {
      if (isSynced) { clearTimeout(timer); resolve() }
    })
    provider.on('closed', ({ code, reason }) => {
      clearTimeout(timer)
      reject(new Failure(`server closed ${provider.url} with ${code} ${reason}`.trim()))
    })
  })
  return { doc, provider, synced }
}

/** Resolve once `predicate()` holds, re-checking on every change to the labels. */
function waitForLabels (doc, predicate, deadline, describe) {
  return new Promise((resolve, reject) => {
    const labels = doc.getArray(LABELS)
    const check = () => {
      if (!predicate()) return false
      clearTimeout(timer)
      labels.unobserveDeep(check)
      resolve()
      return true
    }
    const timer = setTimeout(() => {
      labels.unobserveDeep(check)
      reject(new Failure(`timed out: ${describe()}`))
    }, Math.max(0, deadline - Date.now()))
    labels.observeDeep(check)
    check()
  })
}

async function write (opts, deadline) {
  const writer = connect(opts, deadline)
  try {
    await writer.synced
    const texts = Array.from({ length: opts.expect }, (_, i) => `${opts.text}-${i}`)
    writer.doc.transact(() => {
      writer.doc.getArray(LABELS).push(texts.map((text) => ({
        id: randomUUID(), text, author: opts.author, createdAt: Date.now(),
      })))
    })
    // Confirm through a second connection that the hub stored and serves them.
    const checker = connect(opts, deadline)
    try {
      await checker.synced
      const want = new Set(texts)
      const haveAll = () => {
        const seen = new Set(matchingLabels(checker.doc, opts.text).map((l) => l.text))
        return [...want].every((t) => seen.has(t))
      }
      await waitForLabels(checker.doc, haveAll, deadline,
        () => `a fresh connection saw ${matchingLabels(checker.doc, opts.text).length} of ` +
              `${opts.expect} written labels with prefix ${opts.text}`)
      const labels = matchingLabels(checker.doc, opts.text)
      return { mode: 'write', room: opts.room, written: texts.length, confirmed: labels.length, texts }
    } finally {
      checker.provider.destroy()
    }
  } finally {
    writer.provider.destroy()
  }
}

async function read (opts, deadline) {
  const reader = connect(opts, deadline)
  try {
    await reader.synced
    await waitForLabels(reader.doc, () => matchingLabels(reader.doc, opts.text).length >= opts.expect, deadline,
      () => `saw ${matchingLabels(reader.doc, opts.text).length} of ${opts.expect} labels ` +
            `with prefix ${opts.text} in room ${opts.room}`)
    const labels = matchingLabels(reader.doc, opts.text)
    return {
      mode: 'read',
      room: opts.room,
      seen: labels.length,
      total: reader.doc.getArray(LABELS).length,
      texts: labels.map((l) => l.text),
      authors: [...new Set(labels.map((l) => l.author))],
    }
  } finally {
    reader.provider.destroy()
  }
}

async function main () {
  const opts = parseOptions()
  const deadline = Date.now() + opts.timeout
  try {
    const result = opts.mode === 'write' ? await write(opts, deadline) : await read(opts, deadline)
    process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0))
  } catch (error) {
    const message = error instanceof Failure ? error.message : (error?.stack ?? String(error))
    process.stderr.write(`interop ${opts.mode} failed: ${message}\n`, () => process.exit(1))
  }
}

main()
