/**
 * One room connection: a Y.Doc synced by the stock y-websocket provider, and a
 * small status machine (connecting / connected / synced / disconnected / closed)
 * that explains server close codes with close_codes.json.
 */
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import type { Awareness } from 'y-protocols/awareness'
import * as decoding from 'lib0/decoding'
import { closeCodeInfo, shouldReconnectAfter, type CloseCodeInfo } from './closeCodes'
import { applyAwarenessSafely } from './safeAwareness'

/** y-websocket's message type for awareness updates. */
const MESSAGE_AWARENESS = 1

export type ConnectionState = 'connecting' | 'connected' | 'synced' | 'disconnected' | 'closed'

export interface CloseDetails {
  readonly code: number
  /** The reason text the server sent, possibly empty. */
  readonly serverReason: string
  /** Our description of the code, when it is one of the hub's. */
  readonly info: CloseCodeInfo | undefined
}

export interface ConnectionStatus {
  readonly state: ConnectionState
  /** The last close by the server, while not synced again. */
  readonly lastClose: CloseDetails | undefined
}

export interface RoomConnection {
  readonly doc: Y.Doc
  readonly awareness: Awareness
  readonly room: string
  /** Leave the room: announce departure, close the socket, free the doc. */
  destroy (): void
}

function describeClose (event: { code: number, reason: string }): CloseDetails {
  return { code: event.code, serverReason: event.reason, info: closeCodeInfo(event.code) }
}

/** Connect to `room` under `baseUrl` (ws(s)://host/rooms) and report status changes. */
export function connectRoom (
  baseUrl: string,
  room: string,
  onStatus: (status: ConnectionStatus) => void,
): RoomConnection {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(baseUrl, room, doc, {
    connect: false,
    // Every peer goes through the hub, so what a user sees is what the hub has.
    disableBc: true,
    shouldReconnect: (event) => shouldReconnectAfter(event.code),
  })
  // Presence entries are checked one by one: one bad state must not hide everyone (safeAwareness.ts).
  provider.messageHandlers[MESSAGE_AWARENESS] = (_encoder, decoder, handlerProvider) => {
    applyAwarenessSafely(handlerProvider.awareness, decoding.readVarUint8Array(decoder), handlerProvider)
  }

  let lastClose: CloseDetails | undefined
  let state: ConnectionState = 'connecting'
  const emit = (next: ConnectionState): void => {
    state = next
    onStatus({ state, lastClose })
  }

  provider.on('status', ({ status }) => {
    if (status === 'connecting') emit('connecting')
    else if (status === 'connected') emit('connected')
    // 'disconnected' is reported through 'connection-close', which carries the code.
  })
  provider.on('sync', (synced) => {
    if (synced) {
      lastClose = undefined
      emit('synced')
    }
  })
  provider.on('connection-close', (event) => {
    if (event !== null) lastClose = describeClose(event)
    if (state !== 'closed') emit('disconnected')
  })
  provider.on('closed', (event) => {
    lastClose = describeClose(event)
    emit('closed')
  })

  emit('connecting')
  provider.connect()

  return {
    doc,
    awareness: provider.awareness,
    room,
    destroy () {
      // disconnect() announces our departure (awareness state null) before closing.
      provider.destroy()
      doc.destroy()
    },
  }
}
