// Fan-out load generator for y-websocket servers (driven by fanout.py).
//
// fanout mode: N observers and one writer join one room. The writer sends
// small Yjs updates (ymap.set('s<seq>', 'B#<seq>#')) at a steady rate; each
// observer finds the 'B#<seq>#' markers in raw frames with a byte search (Yjs
// writes strings as raw UTF-8), so observers never decode Yjs. Latency is
// writer send time -> observer receive time, on one clock (one process).
// With --presence 1 every client also sends an awareness update at
// --presence-hz with a small JSON state.
//
// idle mode: one anchor connection, then --conns idle connections that finish
// the sync handshake; fanout.py reads the server's RSS in between ("go"/"stop"
// lines on stdin).
//
// Output: one JSON object per line on stdout ({"event": ...}); the last one is
// {"event": "result", ...}. Every loop is bounded in count and time, and only
// ws://127.0.0.1 URLs are accepted.

import { performance, monitorEventLoopDelay } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'

// ---------------------------------------------------------------- arguments

const DEFAULTS = {
  url: '', // one URL, or a comma-separated list: observers go round-robin over it
  'writer-url': '', // default: the first --url
  mode: 'fanout',
  observers: 50,
  rate: 20,
  duration: 20,
  warmup: 3,
  drain: 5,
  presence: 0,
  'presence-hz': 1,
  conns: 1000,
  'connect-rate': 250,
  'connect-concurrency': 64,
  'connect-timeout': 60,
  'handshake-timeout': 15,
  'reconnect-max': 3,
  'hold-timeout': 120,
  deflate: 0
}

/** Parse --key value pairs over DEFAULTS; numbers stay numbers. */
function parseArgs (argv) {
  const out = { ...DEFAULTS }
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '')
    if (!(key in DEFAULTS) || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`)
    out[key] = typeof DEFAULTS[key] === 'number' ? Number(argv[i + 1]) : argv[i + 1]
    if (typeof DEFAULTS[key] === 'number' && !Number.isFinite(out[key])) throw new Error(`bad number for ${argv[i]}`)
  }
  return out
}

const opts = parseArgs(process.argv.slice(2))
const urls = opts.url.split(',').map((u) => u.trim()).filter((u) => u)
if (urls.length < 1 || urls.length > 16) throw new Error('give 1 to 16 --url values')
const writerUrl = opts['writer-url'] || urls[0]
for (const u of [...urls, writerUrl]) {
  const target = new URL(u)
  if (target.protocol !== 'ws:' || target.hostname !== '127.0.0.1') {
    throw new Error('only ws://127.0.0.1 targets are allowed')
  }
}
const LIMITS = { maxClients: 5000, maxRate: 1000, maxSeconds: 600 }
if (opts.observers < 1 || opts.observers > LIMITS.maxClients || opts.conns < 1 || opts.conns > LIMITS.maxClients) {
  throw new Error('client count out of range')
}
if (opts.rate <= 0 || opts.rate > LIMITS.maxRate || opts.duration <= 0 || opts.duration + opts.warmup + opts.drain > LIMITS.maxSeconds) {
  throw new Error('rate or duration out of range')
}

/** Print one JSON event line. */
function emit (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

// Whole-process deadline: nothing below may run longer than this.
const hardDeadlineS = opts['connect-timeout'] + opts.warmup + opts.duration + opts.drain + opts['hold-timeout'] + 30
const hardTimer = setTimeout(() => {
  emit({ event: 'error', error: `hard deadline of ${hardDeadlineS}s reached` })
  process.exit(3)
}, hardDeadlineS * 1000)

// ---------------------------------------------------------------- protocol bits

const SYNC_STEP1_EMPTY = Buffer.from([0, 0, 1, 0]) // sync, step 1, state vector "\x00"
const SYNC_STEP2_EMPTY = Buffer.from([0, 1, 2, 0, 0]) // sync, step 2, update "\x00\x00"
const MARK = Buffer.from('B#')
const HASH = 0x23

/** Encode a sync update message (type 0, sub-type 2) around a Yjs update. */
function syncUpdateFrame (update) {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, 0)
  encoding.writeVarUint(enc, 2)
  encoding.writeVarUint8Array(enc, update)
  return encoding.toUint8Array(enc)
}

/** Encode a sync step 2 message carrying a Yjs update. */
function syncStep2Frame (update) {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, 0)
  encoding.writeVarUint(enc, 1)
  encoding.writeVarUint8Array(enc, update)
  return encoding.toUint8Array(enc)
}

/** Encode an awareness message with one entry (clientID, clock, JSON state). */
function awarenessFrame (clientId, clock, state) {
  const inner = encoding.createEncoder()
  encoding.writeVarUint(inner, 1)
  encoding.writeVarUint(inner, clientId)
  encoding.writeVarUint(inner, clock)
  encoding.writeVarString(inner, JSON.stringify(state))
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, 1)
  encoding.writeVarUint8Array(enc, encoding.toUint8Array(inner))
  return encoding.toUint8Array(enc)
}

// ---------------------------------------------------------------- shared state

const stats = {
  frames: { sync1: 0, sync2: 0, update: 0, awareness: 0, auth: 0, other: 0, text: 0 },
  bytesIn: 0,
  closes: {}, // "code reason" -> count, unexpected closes only
  errors: {}, // message -> count
  reconnects: 0,
  presenceSent: 0,
  sendFailures: 0
}
let shuttingDown = false

function countError (msg) {
  const key = String(msg).slice(0, 120)
  stats.errors[key] = (stats.errors[key] || 0) + 1
}

// Writer bookkeeping (filled in fanout mode).
let maxSeq = 0
let warmupCount = 0
let sendTime = new Float64Array(0)
let latencies = new Float64Array(0)
let latCount = 0
let measuredDelivered = 0

/**
 * One y-websocket connection. role: 'observer' | 'writer' | 'idle'.
 * Observers record markers; the writer answers sync properly with its doc.
 */
class Client {
  constructor (index, role, url) {
    this.index = index
    this.role = role
    this.url = url
    this.ws = null
    this.synced = false
    this.attempts = 0
    this.seen = role === 'observer' ? new Uint8Array(maxSeq) : null
    this.awarenessId = 1 + Math.floor(Math.random() * 0xfffffffe)
    this.awarenessClock = 0
    this.onSynced = null
    this.doc = null
  }

  /** Open the socket; resolves true once the server answered our sync step 1. */
  connect (handshakeTimeoutS) {
    this.attempts += 1
    this.synced = false
    return new Promise((resolve) => {
      let settled = false
      const settle = (ok) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve(ok)
      }
      const timer = setTimeout(() => {
        countError('handshake timeout')
        try { ws.terminate() } catch {}
        settle(false)
      }, handshakeTimeoutS * 1000)
      const ws = new WebSocket(this.url, { perMessageDeflate: Boolean(opts.deflate), handshakeTimeout: handshakeTimeoutS * 1000 })
      ws.binaryType = 'nodebuffer'
      this.ws = ws
      this.onSynced = () => settle(true)
      ws.on('open', () => { ws.send(SYNC_STEP1_EMPTY) })
      ws.on('message', (data, isBinary) => this.onMessage(data, isBinary))
      ws.on('error', (err) => { countError(err.message || err.code || 'error') })
      ws.on('close', (code, reason) => {
        settle(false)
        if (this.ws === ws) this.onClose(code, reason.toString())
      })
    })
  }

  onMessage (buf, isBinary) {
    const now = performance.now()
    stats.bytesIn += buf.length
    if (!isBinary) { stats.frames.text += 1; return }
    const type = buf[0]
    if (type === 0) {
      const sub = buf[1]
      if (sub === 0) {
        stats.frames.sync1 += 1
        this.answerStep1(buf)
      } else if (sub === 1) {
        stats.frames.sync2 += 1
        if (this.seen) this.scan(buf, now)
        if (!this.synced) {
          this.synced = true
          if (this.onSynced) this.onSynced()
        }
      } else if (sub === 2) {
        stats.frames.update += 1
        if (this.seen) this.scan(buf, now)
      } else {
        stats.frames.other += 1
      }
    } else if (type === 1) {
      stats.frames.awareness += 1
    } else if (type === 2) {
      stats.frames.auth += 1
    } else {
      stats.frames.other += 1
    }
  }

  /** Answer the server's sync step 1: empty for observers, the real diff for the writer. */
  answerStep1 (buf) {
    if (this.role !== 'writer' || !this.doc) {
      this.send(SYNC_STEP2_EMPTY)
      return
    }
    const dec = decoding.createDecoder(buf.subarray(2))
    const sv = decoding.readVarUint8Array(dec)
    this.send(syncStep2Frame(Y.encodeStateAsUpdate(this.doc, sv)))
  }

  /** Find every B#<seq># marker in a frame and record first deliveries. */
  scan (buf, now) {
    let i = buf.indexOf(MARK, 2)
    while (i !== -1) {
      let j = i + 2
      let seq = 0
      let digits = 0
      while (j < buf.length && buf[j] >= 0x30 && buf[j] <= 0x39 && digits < 9) {
        seq = seq * 10 + (buf[j] - 0x30)
        j += 1
        digits += 1
      }
      if (digits > 0 && buf[j] === HASH && seq < maxSeq && this.seen[seq] === 0 && sendTime[seq] > 0) {
        this.seen[seq] = 1
        if (seq >= warmupCount) {
          measuredDelivered += 1
          if (latCount < latencies.length) latencies[latCount++] = now - sendTime[seq]
        }
      }
      i = buf.indexOf(MARK, j)
    }
  }

  send (frame) {
    const ws = this.ws
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(frame)
      return true
    }
    stats.sendFailures += 1
    return false
  }

  sendPresence () {
    this.awarenessClock += 1
    const state = {
      user: { name: `${this.role}-${this.index}`, color: 'hsl(200, 70%, 50%)' },
      cursor: { x: Math.floor(Math.random() * 1920), y: Math.floor(Math.random() * 1080) }
    }
    if (this.send(awarenessFrame(this.awarenessId, this.awarenessClock, state))) stats.presenceSent += 1
  }

  onClose (code, reason) {
    if (shuttingDown) return
    const key = `${code} ${reason}`.trim()
    stats.closes[key] = (stats.closes[key] || 0) + 1
    if (!this.synced && this.attempts === 1) return // initial connect failures are handled by the opener
    if (this.attempts <= opts['reconnect-max']) {
      stats.reconnects += 1
      const delay = 200 + Math.random() * 800
      setTimeout(() => { if (!shuttingDown) this.connect(opts['handshake-timeout']) }, delay)
    }
  }

  close () {
    const ws = this.ws
    if (!ws) return
    try {
      if (ws.readyState === WebSocket.OPEN) ws.close(1000)
      else ws.terminate()
    } catch {}
  }
}

// ---------------------------------------------------------------- helpers

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Open clients at a bounded rate and concurrency; resolves with [synced, failed, seconds]. */
async function openAll (clients) {
  const started = performance.now()
  const deadline = started + opts['connect-timeout'] * 1000
  const interval = 1000 / opts['connect-rate']
  let inflight = 0
  let synced = 0
  let failed = 0
  const pending = []
  for (let i = 0; i < clients.length; i++) {
    while ((inflight >= opts['connect-concurrency'] || performance.now() < started + i * interval) && performance.now() < deadline) {
      await sleep(Math.max(1, Math.min(20, started + i * interval - performance.now())))
    }
    if (performance.now() >= deadline) { failed += clients.length - i; break }
    inflight += 1
    pending.push(clients[i].connect(opts['handshake-timeout']).then((ok) => {
      inflight -= 1
      if (ok) synced += 1
      else failed += 1
    }))
  }
  await Promise.race([Promise.all(pending), sleep(Math.max(0, deadline - performance.now()) + opts['handshake-timeout'] * 1000)])
  return [synced, failed, (performance.now() - started) / 1000]
}

/** Close every client, wait briefly for the closes, then drop the rest. */
async function closeAll (clients) {
  shuttingDown = true
  for (const c of clients) c.close()
  const until = performance.now() + 3000
  while (performance.now() < until && clients.some((c) => c.ws && c.ws.readyState !== WebSocket.CLOSED)) {
    await sleep(50)
  }
  for (const c of clients) { try { if (c.ws) c.ws.terminate() } catch {} }
}

function percentile (sorted, p) {
  if (sorted.length === 0) return null
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[idx]
}

function cpuPercent (startUsage, wallMs) {
  const u = process.cpuUsage(startUsage)
  return wallMs > 0 ? ((u.user + u.system) / 1000) / wallMs * 100 : null
}

/** Resolve on the first stdin line equal to word, or after timeoutS. */
function waitForLine (rl, word, timeoutS) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { rl.off('line', onLine); resolve(false) }, timeoutS * 1000)
    const onLine = (line) => {
      if (line.trim() === word) {
        clearTimeout(timer)
        rl.off('line', onLine)
        resolve(true)
      }
    }
    rl.on('line', onLine)
  })
}

// ---------------------------------------------------------------- modes

async function runFanout () {
  const rate = opts.rate
  warmupCount = Math.round(opts.warmup * rate)
  const measuredCount = Math.max(1, Math.round(opts.duration * rate))
  maxSeq = warmupCount + measuredCount
  sendTime = new Float64Array(maxSeq)
  latencies = new Float64Array(opts.observers * measuredCount)

  const observers = []
  for (let i = 0; i < opts.observers; i++) observers.push(new Client(i, 'observer', urls[i % urls.length]))
  const writer = new Client(0, 'writer', writerUrl)
  writer.doc = new Y.Doc()
  const ymap = writer.doc.getMap('bench')
  writer.doc.on('update', (update) => { writer.send(syncUpdateFrame(update)) })
  const all = [...observers, writer]

  const [synced, failed, connectS] = await openAll(all)
  const observersSynced = observers.filter((c) => c.synced).length
  emit({ event: 'connected', synced, failed, observers_synced: observersSynced, connect_s: connectS })
  if (!writer.synced) {
    emit({ event: 'error', error: 'writer did not sync' })
  }

  // Presence: every client at presence-hz, random phase, stopped at measure end.
  const presenceTimers = new Array(all.length).fill(null)
  if (opts.presence) {
    const periodMs = 1000 / opts['presence-hz']
    all.forEach((c, k) => {
      const tick = () => {
        if (shuttingDown) return
        c.sendPresence()
        presenceTimers[k] = setTimeout(tick, periodMs)
      }
      presenceTimers[k] = setTimeout(tick, Math.random() * periodMs)
    })
  }

  const loopDelay = monitorEventLoopDelay({ resolution: 10 })
  let cpuStart = null
  let measureStartT = 0
  let measureEndT = 0
  const t0 = performance.now() + 50
  let seq = 0
  await new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(maxSeq, Math.floor((performance.now() - t0) * rate / 1000) + 1)
      while (seq < due) {
        if (seq === warmupCount) {
          measureStartT = performance.now()
          cpuStart = process.cpuUsage()
          loopDelay.enable()
          emit({ event: 'measure_start' })
        }
        sendTime[seq] = performance.now()
        ymap.set(`s${seq}`, `B#${seq}#`)
        seq += 1
      }
      if (seq >= maxSeq) { resolve(); return }
      setTimeout(tick, Math.max(0, t0 + (seq * 1000) / rate - performance.now()))
    }
    setTimeout(tick, Math.max(0, t0 - performance.now()))
  })
  // The measured window ends one send interval after the last measured send.
  await sleep(Math.max(0, measureStartT + opts.duration * 1000 - performance.now()))
  measureEndT = performance.now()
  const clientCpu = cpuStart ? cpuPercent(cpuStart, measureEndT - measureStartT) : null
  loopDelay.disable()
  emit({ event: 'measure_end' })
  for (const t of presenceTimers) clearTimeout(t)

  // Drain: wait for stragglers, bounded.
  const expected = opts.observers * measuredCount
  const drainUntil = performance.now() + opts.drain * 1000
  while (measuredDelivered < expected && performance.now() < drainUntil) await sleep(50)
  const drainS = (performance.now() - measureEndT) / 1000

  await closeAll(all)

  const sorted = latencies.subarray(0, latCount).sort()
  let sum = 0
  for (let i = 0; i < sorted.length; i++) sum += sorted[i]
  const windowS = (measureEndT - measureStartT) / 1000
  emit({
    event: 'result',
    mode: 'fanout',
    observers: opts.observers,
    observers_synced: observersSynced,
    connect_failed: failed,
    connect_s: connectS,
    writer_synced: writer.synced,
    presence: Boolean(opts.presence),
    rate_target: rate,
    window_s: windowS,
    sent_measured: measuredCount,
    sent_warmup: warmupCount,
    // achieved, from the actual send times of the first and last measured update
    send_rate: measuredCount > 1 ? (measuredCount - 1) / ((sendTime[maxSeq - 1] - sendTime[warmupCount]) / 1000) : null,
    expected_deliveries: expected,
    delivered: measuredDelivered,
    delivered_fraction: expected > 0 ? measuredDelivered / expected : null,
    deliveries_per_s: measuredDelivered / windowS,
    latency_ms: {
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      max: sorted.length ? sorted[sorted.length - 1] : null,
      mean: sorted.length ? sum / sorted.length : null
    },
    drain_s: drainS,
    client_cpu_pct: clientCpu,
    // The histogram includes the 10 ms sampling period; report only the lag beyond it.
    client_loop_lag_p99_ms: loopDelay.count > 0 ? Math.max(0, loopDelay.percentile(99) / 1e6 - 10) : null,
    frames: stats.frames,
    bytes_in: stats.bytesIn,
    presence_sent: stats.presenceSent,
    closes: stats.closes,
    reconnects: stats.reconnects,
    errors: stats.errors,
    send_failures: stats.sendFailures
  })
}

async function runIdle () {
  const rl = createInterface({ input: process.stdin })
  const anchor = new Client(0, 'idle', urls[0])
  const ok = await anchor.connect(opts['handshake-timeout'])
  emit({ event: 'anchor_ready', ok })
  const go = ok && await waitForLine(rl, 'go', opts['hold-timeout'])
  let result = { synced: 0, failed: opts.conns, connect_s: 0 }
  const clients = []
  if (go) {
    for (let i = 0; i < opts.conns; i++) clients.push(new Client(i + 1, 'idle', urls[0]))
    const [synced, failed, connectS] = await openAll(clients)
    result = { synced, failed, connect_s: connectS }
    emit({ event: 'ready', ...result })
    await waitForLine(rl, 'stop', opts['hold-timeout'])
  }
  await closeAll([anchor, ...clients])
  rl.close()
  emit({ event: 'result', mode: 'idle', conns: opts.conns, ...result, closes: stats.closes, errors: stats.errors, frames: stats.frames })
}

try {
  if (opts.mode === 'fanout') await runFanout()
  else if (opts.mode === 'idle') await runIdle()
  else throw new Error(`unknown mode ${opts.mode}`)
} catch (err) {
  emit({ event: 'error', error: String(err && err.stack ? err.stack : err) })
  process.exitCode = 2
}
clearTimeout(hardTimer)
process.exit()
