/**
 * Page wiring: the join form, then the board of one room (labels, presence,
 * connection status). Room and name live in the URL so links can skip the form.
 */
import './style.css'
import { addLabel, MAX_TEXT_LENGTH, observeLabels } from './board'
import { connectRoom } from './connection'
import { colorFor, MAX_NAME_LENGTH, observePresence, setLocalUser } from './presence'
import {
  isValidDisplayName, isValidRoomName, readJoinParams, roomsBaseUrl, withJoinParams, type JoinParams,
} from './room'
import { byId } from './dom'
import { renderLabels, renderPresence, renderStatus } from './view'

interface Elements {
  readonly joinSection: HTMLElement
  readonly joinForm: HTMLFormElement
  readonly roomInput: HTMLInputElement
  readonly nameInput: HTMLInputElement
  readonly joinError: HTMLElement
  readonly boardSection: HTMLElement
  readonly roomTitle: HTMLElement
  readonly status: HTMLElement
  readonly labelList: HTMLElement
  readonly labelForm: HTMLFormElement
  readonly labelInput: HTMLInputElement
  readonly labelError: HTMLElement
  readonly presenceList: HTMLElement
  readonly leaveButton: HTMLButtonElement
}

function findElements (): Elements {
  return {
    joinSection: byId('join', HTMLElement),
    joinForm: byId('join-form', HTMLFormElement),
    roomInput: byId('room-input', HTMLInputElement),
    nameInput: byId('name-input', HTMLInputElement),
    joinError: byId('join-error', HTMLElement),
    boardSection: byId('board', HTMLElement),
    roomTitle: byId('room-title', HTMLElement),
    status: byId('status', HTMLElement),
    labelList: byId('label-list', HTMLElement),
    labelForm: byId('label-form', HTMLFormElement),
    labelInput: byId('label-input', HTMLInputElement),
    labelError: byId('label-error', HTMLElement),
    presenceList: byId('presence-list', HTMLElement),
    leaveButton: byId('leave-button', HTMLButtonElement),
  }
}

/** Why `params` cannot be used to join, or undefined when they can. */
function joinProblem (params: { room: string, name: string }): string | undefined {
  if (!isValidRoomName(params.room)) {
    return 'Room names use letters, digits and . _ : - (up to 128, starting with a letter or digit).'
  }
  if (!isValidDisplayName(params.name)) return `Your name must be 1-${MAX_NAME_LENGTH} characters.`
  return undefined
}

/** Join a room: connect, show the board, and return a function that leaves it. */
function joinRoom (els: Elements, params: JoinParams): () => void {
  const connection = connectRoom(roomsBaseUrl(window.location), params.room, (status) => {
    renderStatus(els.status, status)
  })
  const author = params.name
  setLocalUser(connection.awareness, { name: author, color: colorFor(author) })

  const unobserveLabels = observeLabels(connection.doc, (labels) => { renderLabels(els.labelList, labels) })
  const unobservePresence = observePresence(connection.awareness, (peers) => {
    renderPresence(els.presenceList, peers)
  })

  const onAddLabel = (event: SubmitEvent): void => {
    event.preventDefault()
    const text = els.labelInput.value.trim()
    if (text.length === 0) return
    try {
      addLabel(connection.doc, text, author)
      els.labelInput.value = ''
      els.labelError.textContent = ''
    } catch (error) {
      els.labelError.textContent = error instanceof Error ? error.message : String(error)
    }
    els.labelInput.focus()
  }
  els.labelForm.addEventListener('submit', onAddLabel)

  els.roomTitle.textContent = params.room
  document.title = `${params.room} · CALMA Studio`
  els.joinSection.hidden = true
  els.boardSection.hidden = false
  els.labelInput.focus()

  return () => {
    els.labelForm.removeEventListener('submit', onAddLabel)
    unobserveLabels()
    unobservePresence()
    connection.destroy()
    els.boardSection.hidden = true
    els.joinSection.hidden = false
    document.title = 'CALMA Studio'
  }
}

function main (): void {
  const els = findElements()
  els.labelInput.maxLength = MAX_TEXT_LENGTH
  els.nameInput.maxLength = MAX_NAME_LENGTH
  let leave: (() => void) | undefined

  const start = (params: JoinParams): void => {
    const url = withJoinParams(new URL(window.location.href), params)
    window.history.replaceState(null, '', url)
    els.joinError.textContent = ''
    leave = joinRoom(els, params)
  }

  els.joinForm.addEventListener('submit', (event) => {
    event.preventDefault()
    const params = { room: els.roomInput.value.trim(), name: els.nameInput.value.trim() }
    const problem = joinProblem(params)
    if (problem !== undefined) {
      els.joinError.textContent = problem
      return
    }
    start(params)
  })

  els.leaveButton.addEventListener('click', () => {
    leave?.()
    leave = undefined
    // Keep the room in the URL, drop the name so a reload shows the form.
    const url = new URL(window.location.href)
    url.searchParams.delete('name')
    window.history.replaceState(null, '', url)
    els.nameInput.focus()
  })

  const fromUrl = readJoinParams(new URL(window.location.href))
  els.roomInput.value = fromUrl.room
  els.nameInput.value = fromUrl.name
  if (fromUrl.room !== '' && fromUrl.name !== '') {
    const problem = joinProblem(fromUrl)
    if (problem === undefined) start({ room: fromUrl.room, name: fromUrl.name.trim() })
    else els.joinError.textContent = problem
  }
}

main()
