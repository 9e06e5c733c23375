/**
 * The canvas page's header: the board connection's status in a few words (connecting, live,
 * reconnecting, closed; `data-state` for tests) and who else is looking at the canvas now
 * (awareness `user`, checked by ../presence.ts). Text only.
 */
import type { ConnectionStatus } from '../connection'
import { element } from '../dom'
import type { Peer } from '../presence'

export type CanvasState = 'connecting' | 'live' | 'reconnecting' | 'closed'

const MAX_SHOWN = 8

export function canvasState (status: ConnectionStatus): CanvasState {
  switch (status.state) {
    case 'synced': return 'live'
    case 'disconnected': return 'reconnecting'
    case 'closed': return 'closed'
    default: return status.lastClose === undefined ? 'connecting' : 'reconnecting'
  }
}

function statusText (status: ConnectionStatus, state: CanvasState): string {
  const reason = status.lastClose?.info?.reason ?? status.lastClose?.serverReason ?? ''
  switch (state) {
    case 'live': return 'Live'
    case 'connecting': return status.state === 'connected' ? 'Loading the board…' : 'Connecting…'
    case 'reconnecting': return reason !== '' ? `Reconnecting… (${reason})` : 'Reconnecting…'
    case 'closed': return reason !== '' ? `Closed by the server: ${reason}` : 'Closed by the server'
  }
}

export function renderStatus (el: HTMLElement, status: ConnectionStatus): void {
  const state = canvasState(status)
  el.hidden = false
  el.dataset['state'] = state
  if (status.lastClose !== undefined) el.dataset['closeCode'] = String(status.lastClose.code)
  else delete el.dataset['closeCode']
  el.textContent = statusText(status, state)
}

export function renderPresence (list: HTMLElement, peers: readonly Peer[]): void {
  const shown = peers.slice(0, MAX_SHOWN)
  const items = shown.map((peer) => {
    const item = element('li', { class: 'cv-peer', 'data-testid': 'presence-item', title: peer.isSelf ? `${peer.user.name} (you)` : peer.user.name })
    const dot = element('span', { class: 'cv-peer-dot', 'aria-hidden': 'true' }, peer.user.name.slice(0, 1).toUpperCase())
    dot.style.backgroundColor = peer.user.color
    item.append(dot, element('span', { class: 'visually-hidden' }, peer.isSelf ? `${peer.user.name} (you)` : peer.user.name))
    return item
  })
  if (peers.length > shown.length) items.push(element('li', { class: 'cv-peer-more' }, `+${peers.length - shown.length}`))
  list.replaceChildren(...items)
}
