/**
 * DOM rendering of the board page. Pure functions of their inputs; all remote
 * text goes through textContent, never HTML.
 */
import type { Label } from './board'
import type { Peer } from './presence'
import type { CloseDetails, ConnectionStatus } from './connection'
import { element } from './dom'

export function renderLabels (list: HTMLElement, labels: readonly Label[]): void {
  const items = labels.map((label) => {
    const item = element('li', { 'data-testid': 'label-item', class: 'label', 'data-label-id': label.id })
    item.append(
      element('span', { 'data-testid': 'label-text', class: 'label-text' }, label.text),
      element('span', { 'data-testid': 'label-author', class: 'label-author' }, label.author),
    )
    if (label.createdAt > 0) item.title = new Date(label.createdAt).toLocaleString()
    return item
  })
  if (items.length === 0) {
    items.push(element('li', { class: 'empty' }, 'No labels yet. Add the first one below.'))
  }
  list.replaceChildren(...items)
}

export function renderPresence (list: HTMLElement, peers: readonly Peer[]): void {
  list.replaceChildren(...peers.map((peer) => {
    const item = element('li', { 'data-testid': 'presence-item', class: 'peer' })
    const dot = element('span', { class: 'dot', 'aria-hidden': 'true' })
    dot.style.backgroundColor = peer.user.color
    item.append(dot, element('span', { class: 'peer-name' }, peer.user.name))
    if (peer.isSelf) item.append(element('span', { class: 'you' }, '(you)'))
    return item
  }))
}

function closeText (close: CloseDetails): string {
  const reason = close.info?.reason ?? (close.serverReason !== '' ? close.serverReason : 'connection lost')
  return `${reason} (${close.code})`
}

/** Human text for a connection status. */
export function statusText (status: ConnectionStatus): string {
  const { state, lastClose } = status
  switch (state) {
    case 'connecting':
      return lastClose === undefined ? 'Connecting…' : `Reconnecting… (last: ${closeText(lastClose)})`
    case 'connected':
      return 'Connected, syncing…'
    case 'synced':
      return 'Synced'
    case 'disconnected':
      return lastClose === undefined
        ? 'Disconnected, reconnecting…'
        : `Disconnected: ${closeText(lastClose)}, reconnecting…`
    case 'closed':
      return lastClose === undefined ? 'Closed' : `Closed by the server: ${closeText(lastClose)}`
  }
}

export function renderStatus (el: HTMLElement, status: ConnectionStatus): void {
  el.dataset['state'] = status.state
  if (status.lastClose !== undefined) el.dataset['closeCode'] = String(status.lastClose.code)
  else delete el.dataset['closeCode']
  el.textContent = statusText(status)
}
