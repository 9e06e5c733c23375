/**
 * The canvas page, /canvas/: the semantic canvas of a group — every label the group produced, placed
 * by meaning by the server, in the group's board room (a Yjs document over y-websocket, read-only),
 * with where people moved cards and what they decided on hints from the group's edits room. People pan
 * and zoom, search, open a card for the excerpts behind it, write new labels, move cards (everyone
 * sees the move), and accept or dismiss the server's suggestions; the facilitator can bring everyone
 * to the same view (over /live). Participants and observers open `/canvas/` (their own group);
 * the facilitator opens `/canvas/?study=SID&group=GID`. Observers only look.
 *
 * This file wires the parts together; each part owns one concept (see the other files here). Once
 * the board has synced and the first render is on screen, `document.body.dataset.canvasReady` is
 * '1' and the performance mark 'canvas-interactive' is recorded (the 500-card benchmark reads it).
 */
import '../style.css'
import '../pages.css'
import './canvas.css'
import { api, errorMessage, type Me } from '../api'
import { connectRoom } from '../connection'
import { groupFromUrl } from '../groupPicker'
import { byId } from '../dom'
import { colorFor, observePresence, setLocalUser } from '../presence'
import { roomsBaseUrl } from '../room'
import { Camera } from './camera'
import { CardLayer } from './cardLayer'
import { decideHint, moveCard } from './cards'
import { DetailPanel } from './detail'
import { CardDrag } from './drag'
import { FollowView, type SharedView } from './follow'
import { renderPresence, renderStatus } from './header'
import { CARD_HEIGHT, CARD_WIDTH, HintLayer } from './hintLayer'
import { HintList } from './hintList'
import { NewLabel } from './newLabel'
import { PanZoom } from './panzoom'
import { canvasApi, type CanvasInfo } from './rest'
import { Scene, type SceneFrame } from './scene'
import { Search } from './search'
import { boundsOf, fitFocus, isVisible, type Focus, type Point } from './viewport'

const NOTE_MS = 4000
const NEW_CARD_MS = 2500
const FIT_MARGIN = Math.max(CARD_WIDTH, CARD_HEIGHT) * 0.6

/** Where the page is: who is looking, at which group's board, and which group to name in REST calls. */
interface Where {
  readonly me: Me
  readonly info: CanvasInfo
  /** The facilitator names the group in every call; participants and observers get their own. */
  readonly groupParam: string | undefined
}

function plural (n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`
}

/** The canvas itself, once the page knows whose board it is. */
function start ({ me, info, groupParam }: Where): void {
  const name = me.name
  const root = byId('canvas', HTMLElement)
  const viewport = byId('viewport', HTMLElement)
  const world = byId('world', HTMLElement)
  const statusEl = byId('canvas-status', HTMLElement)
  const countEl = byId('card-count', HTMLElement)
  const emptyEl = byId('canvas-empty', HTMLElement)
  const note = byId('view-note', HTMLElement)
  const bring = byId('bring-everyone', HTMLButtonElement)

  const cardLayer = new CardLayer(info.can_write)
  const hintLayer = new HintLayer((id) => cardLayer.position(id))
  world.append(hintLayer.el, cardLayer.el)
  const camera = new Camera(viewport, world)
  camera.apply()

  // Two rooms: the board (the server's cards, hints and layout; read-only) and the group's edits
  // (where people put cards and what they decided on hints), laid over the board.
  let boardSynced = false
  let editsSynced = false
  const connection = connectRoom(roomsBaseUrl(window.location), info.room, (status) => {
    renderStatus(statusEl, status)
    if (status.state === 'synced') boardSynced = true
    if (boardSynced && editsSynced) firstRender()
  })
  const editsConnection = connectRoom(roomsBaseUrl(window.location), info.edits_room, (status) => {
    if (status.state === 'synced') editsSynced = true
    else if (status.state === 'closed' && status.lastClose !== undefined) {
      showNote(`Your last change was refused: ${status.lastClose.serverReason || status.lastClose.info?.reason || 'closed'}. Reload the page.`)
    }
    if (boardSynced && editsSynced) firstRender()
  })
  setLocalUser(connection.awareness, { name, color: colorFor(name) })
  observePresence(connection.awareness, (peers) => { renderPresence(byId('presence-list', HTMLElement), peers) })
  const doc = connection.doc
  const edits = editsConnection.doc
  const scene = new Scene(doc, edits, cardLayer, hintLayer, (frame) => { onFrame(frame) })

  // -- notes and the camera -------------------------------------------------------------------------
  let noteTimer: ReturnType<typeof setTimeout> | undefined
  const showNote = (text: string): void => {
    note.textContent = text
    note.hidden = false
    note.classList.remove('cv-note-fade')
    if (noteTimer !== undefined) clearTimeout(noteTimer)
    noteTimer = setTimeout(() => { note.classList.add('cv-note-fade') }, NOTE_MS)
  }
  note.addEventListener('transitionend', () => { if (note.classList.contains('cv-note-fade')) note.hidden = true })

  const goTo = (point: Point, minZoom = 0.8): void => {
    camera.animateTo({ x: point.x, y: point.y, zoom: Math.max(camera.focus.zoom, minZoom) })
  }
  const fitAll = (animate: boolean): void => {
    const bounds = boundsOf(scene.cards.values())
    const focus: Focus = bounds === undefined ? { x: 0, y: 0, zoom: 0.6 } : fitFocus(bounds, camera.viewportSize, FIT_MARGIN, 1)
    if (animate) camera.animateTo(focus, 400)
    else camera.jumpTo(focus)
  }

  // -- the card detail ------------------------------------------------------------------------------
  let selectedCard: string | undefined
  const selectCard = (id: string | undefined): void => {
    if (selectedCard !== undefined) cardLayer.mark(selectedCard, 'cv-selected', false)
    selectedCard = id
    if (id !== undefined) cardLayer.mark(id, 'cv-selected', true)
  }
  const detail = new DetailPanel({
    panel: byId('card-detail', HTMLElement),
    title: byId('detail-title', HTMLElement),
    meta: byId('detail-meta', HTMLElement),
    authors: byId('detail-authors', HTMLElement),
    excerpts: byId('detail-excerpts', HTMLElement),
    status: byId('detail-status', HTMLElement),
    close: byId('detail-close', HTMLButtonElement),
  }, async (card) => await canvasApi.card(info.study_id, card, groupParam), info.anonymous, () => { selectCard(undefined) })
  const openCard = (id: string): void => {
    const card = scene.cards.get(id)
    if (card === undefined) return
    selectCard(id)
    detail.show(card)
  }

  // -- hints ----------------------------------------------------------------------------------------
  const hints = new HintList({
    list: byId('hint-list', HTMLElement),
    empty: byId('hints-empty', HTMLElement),
    showDismissed: byId('show-dismissed', HTMLInputElement),
    detail: byId('hint-detail', HTMLElement),
  }, scene.hints, scene.cards, info.can_write, {
    onSelect: (hint) => { hintLayer.select(hint?.id) },
    onDecide: (hint, status) => { decideHint(doc, edits, hint.id, status, name) },
    onShowDismissed: (on) => { hintLayer.setShowDismissed(on, scene.hints) },
    onShow: (hint) => {
      const bounds = boundsOf(hint.cards.map((id) => cardLayer.position(id)).filter((p): p is Point => p !== undefined))
      if (bounds === undefined) return
      camera.animateTo(fitFocus(bounds, camera.viewportSize, FIT_MARGIN * 2, Math.max(camera.focus.zoom, 1)))
    },
  })

  // -- search ---------------------------------------------------------------------------------------
  const search = new Search({
    input: byId('search-input', HTMLInputElement),
    count: byId('search-count', HTMLElement),
    world,
  }, cardLayer, scene.cards, (card) => { goTo(card) })
  byId('search-form', HTMLFormElement).addEventListener('submit', (event) => { event.preventDefault() })

  // -- moving around and moving cards ---------------------------------------------------------------
  const drag = new CardDrag(viewport, camera, cardLayer, info.can_write, {
    onMove: (id) => { hintLayer.cardsMoved([id]) },
    onWrite: (id, point) => { moveCard(doc, edits, id, point.x, point.y, name) },
    onTap: (id) => { openCard(id) },
  })
  new PanZoom(viewport, camera, {
    ignore: (target) => drag.owns(target),
    onTap: (target) => {
      const hint = hintLayer.hintAt(target)
      if (hint !== undefined) {
        hints.select(hint)
        return
      }
      const card = cardLayer.cardAt(target)
      if (card !== undefined) openCard(card)
      else if (hints.selectedId !== undefined) hints.select(undefined)
    },
  })
  byId('zoom-in', HTMLButtonElement).addEventListener('click', () => { camera.zoomBy(1.4) })
  byId('zoom-out', HTMLButtonElement).addEventListener('click', () => { camera.zoomBy(1 / 1.4) })
  byId('zoom-fit', HTMLButtonElement).addEventListener('click', () => { fitAll(true) })

  // -- writing labels -------------------------------------------------------------------------------
  let awaited: string | undefined
  const showNewCard = (id: string): void => {
    const at = cardLayer.position(id)
    if (at === undefined) return
    awaited = undefined
    cardLayer.mark(id, 'cv-new', true)
    setTimeout(() => { cardLayer.mark(id, 'cv-new', false) }, NEW_CARD_MS)
    if (!isVisible(camera.current, camera.viewportSize, at, 60)) goTo(at, 0.6)
  }
  const form = byId('new-label-form', HTMLFormElement)
  if (info.can_write) {
    new NewLabel({
      form,
      input: byId('new-label-input', HTMLInputElement),
      submit: byId('new-label-submit', HTMLButtonElement),
      error: byId('new-label-error', HTMLElement),
    }, async (text) => await canvasApi.addLabel(info.study_id, text, groupParam), (card) => {
      awaited = card.id
      if (cardLayer.has(card.id)) showNewCard(card.id)
    })
  } else {
    form.remove()
    root.dataset['readonly'] = 'true'
  }

  // -- every frame's changes ------------------------------------------------------------------------
  const showCount = (): void => {
    const n = cardLayer.size
    countEl.dataset['count'] = String(n)
    countEl.textContent = plural(n, 'card', 'cards')
    emptyEl.hidden = n > 0 || !scene.rendered
  }
  function onFrame (frame: SceneFrame): void {
    if (frame.texts.size > 0) {
      search.refresh(frame.texts)
      showCount()
    }
    if (frame.hints.size > 0 || (frame.texts.size > 0 && scene.hints.size > 0)) hints.render()
    const open = detail.cardId
    if (open !== undefined && frame.cards.has(open)) {
      detail.changed(scene.cards.get(open))
      if (!scene.cards.has(open)) selectedCard = undefined
    }
    if (awaited !== undefined && frame.cards.has(awaited)) showNewCard(awaited)
  }

  // -- the first render, and following the facilitator ----------------------------------------------
  let pendingView: SharedView | undefined
  function firstRender (): void {
    if (scene.rendered) return
    performance.mark('canvas-synced')
    scene.flush() // its frame shows the cards, the outlines, the count and the hint list
    showCount()
    if (pendingView !== undefined) camera.jumpTo(pendingView)
    else fitAll(false)
    camera.apply()
    camera.firstDrawn()
    requestAnimationFrame(() => {
      // this frame is about to be painted; the next callback runs once it is on screen
      requestAnimationFrame(() => {
        document.body.dataset['canvasReady'] = '1'
        performance.mark('canvas-interactive')
      })
    })
  }

  const follow = new FollowView(info.study_id, info.group_id, {
    onStatus: (status) => {
      bring.disabled = status.state !== 'open'
      bring.title = status.state === 'open' ? 'Move everyone\'s canvas to what you see now' : status.message
      root.dataset['follow'] = status.state === 'open' ? 'connected' : status.state
    },
    onSubscribed: () => { root.dataset['follow'] = 'live' },
    onFollow: (view, fromSelf) => {
      root.dataset['viewAt'] = String(view.at)
      if (fromSelf) {
        showNote('You brought everyone here')
        return
      }
      if (!scene.rendered) pendingView = view
      else camera.animateTo(view)
      showNote(view.by !== undefined ? `${view.by} brought everyone here` : 'The facilitator brought everyone here')
    },
  })
  if (info.can_steer) {
    bring.hidden = false
    bring.addEventListener('click', () => {
      follow.bringEveryone(camera.focus).catch((error: unknown) => {
        showNote(`Could not bring everyone here: ${errorMessage(error)}`)
      })
    })
  }
  follow.start()

  window.addEventListener('pagehide', () => {
    follow.stop()
    connection.destroy()
    editsConnection.destroy()
  })
}

/** The study and group the facilitator's URL names; without them, what to open instead. */
async function main (): Promise<void> {
  const loading = byId('page-loading', HTMLElement)
  const pageError = byId('page-error', HTMLElement)
  try {
    const { me } = await api.sessionState()
    if (me === null) {
      loading.hidden = true
      byId('signed-out', HTMLElement).hidden = false
      return
    }
    let study: string
    let group: string | undefined
    if (me.role === 'facilitator') {
      const where = await groupFromUrl(new URL(window.location.href), '/canvas/', 'canvas')
      if (where === undefined) {
        loading.hidden = true
        return
      }
      study = where.study
      group = where.group
    } else {
      if (me.study_id === null) throw new Error('You are not part of a study.')
      study = me.study_id
    }
    const info = await canvasApi.info(study, group)
    const back = byId('back-link', HTMLAnchorElement)
    if (me.role === 'facilitator') {
      back.href = `/console/?study=${encodeURIComponent(study)}`
      back.textContent = 'Console'
    }
    byId('group-name', HTMLElement).textContent = `· ${info.group_name}`
    document.title = `Canvas · ${info.group_name} · CALMA Studio`
    loading.hidden = true
    byId('canvas', HTMLElement).hidden = false
    start({ me, info, groupParam: me.role === 'facilitator' ? info.group_id : undefined })
  } catch (error) {
    loading.hidden = true
    pageError.textContent = `The canvas could not be loaded: ${errorMessage(error)}`
    pageError.hidden = false
  }
}

void main()
