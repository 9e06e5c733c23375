/**
 * The Discuss page, /discuss/: a group's live, facilitated session. Participants and observers open
 * `/discuss/` (their own group); the facilitator opens `/discuss/?study=SID&group=GID` (the console
 * links there). The session's segment, timers, reveals and speaker queue come from the control
 * state over /live (`control.state`, on the server's clock); what needs records (artifacts, top
 * threes, attributes, rankings, ratings, figures) over REST; the group attributes live on the
 * group's board (Yjs), where their definitions are edited together.
 *
 * This file wires the parts together; each part owns one concept (see the other files here).
 */
import '../style.css'
import '../pages.css'
import './discuss.css'
import { api, errorMessage, type Me } from '../api'
import { connectRoom } from '../connection'
import { groupFromUrl } from '../groupPicker'
import { byId, element } from '../dom'
import type { ControlState, Segment } from '../generated/control'
import { liveUrl, type LiveStatus } from '../live'
import { colorFor, setLocalUser } from '../presence'
import { roomsBaseUrl } from '../room'
import { AttributesPanel } from './attributes'
import { attributesMap, cardsMap, definitionsMap, readAttributes, readCards, type BoardAttribute, type BoardCard } from './board'
import { FacilitatorControls } from './controls'
import { ExplorePanel, canvasSrc } from './explore'
import { Lobby } from './lobby'
import { PresentPanel } from './present'
import { RankingPanel } from './ranking'
import { RatePanel } from './rate'
import { DiscussApi, type DiscussState, type ExampleItem } from './rest'
import { ResultsPanel } from './results'
import { SEGMENTS, SEGMENT_INFO, segmentIndex } from './segments'
import { ServerClock } from './serverClock'
import { LiveSession } from './session'
import { TimerView } from './timer'
import { Top3Panel } from './top3'

/** How often the page reads the session again for the counts of who submitted (the facilitator's more often). */
const POLL_MS = 5000
const PARTICIPANT_POLL_MS = 15_000

/** Whose session the page shows, and how to name the group in REST calls. */
interface Where {
  readonly me: Me
  readonly study: string
  readonly group: string
  /** The facilitator names the group; participants and observers get their own. */
  readonly groupParam: string | undefined
}

const LIVE_STATE: { readonly [S in LiveStatus['state']]: string } = {
  connecting: 'connecting',
  open: 'live',
  reconnecting: 'reconnecting',
  closed: 'closed',
}

function sameKeys (a: Readonly<Record<string, unknown>> | undefined, b: Readonly<Record<string, unknown>>): boolean {
  if (a === undefined) return false
  const ka = Object.keys(a).sort().join(',')
  return ka === Object.keys(b).sort().join(',')
}

function start ({ me, study, group, groupParam }: Where, first: DiscussState): void {
  const facilitator = me.role === 'facilitator'
  const participant = me.role === 'participant'
  const self = me.participant_id
  const root = byId('discuss', HTMLElement)
  root.dataset['role'] = me.role
  const dapi = new DiscussApi(study, groupParam)
  const clock = new ServerClock(liveUrl(window.location))

  // -- panels -----------------------------------------------------------------------------------------
  const segmentTimer = new TimerView('segment', 'Segment', clock, 'segment-timer')
  byId('segment-timer-slot', HTMLElement).append(segmentTimer.el)
  const speakerTimer = new TimerView('speaker', 'Speaker', clock, 'speaker-timer')

  let discuss: DiscussState = first
  let control: ControlState | undefined
  let attributes: BoardAttribute[] = []
  let cards: BoardCard[] = []
  const examples = new Map<string, ExampleItem>()
  const names = new Map<string, string>()
  if (self !== null) names.set(self, me.name)

  const refreshSoon = (): void => { void refresh() }
  const lobby = new Lobby(dapi)
  const top3 = new Top3Panel(dapi, self, refreshSoon)
  const explore = new ExplorePanel(canvasSrc(study, groupParam))
  const session = new LiveSession(study, group, clock, {
    onStatus: (status) => {
      const el = byId('live-status', HTMLElement)
      el.hidden = false
      el.dataset['state'] = LIVE_STATE[status.state]
      el.textContent = status.message
    },
    onState: (state, previous) => { controlChanged(state, previous) },
  })
  const present = new PresentPanel(self, participant, {
    raise: async () => { await session.command({ name: 'hand.raise' }) },
    lower: async () => { await session.command({ name: 'hand.lower' }) },
  }, speakerTimer.el)
  const writable = (): boolean => discuss.can_write && (facilitator || discuss.segment === 'discuss')
  const attributesPanel = new AttributesPanel({
    api: dapi, cards: () => cards, examples: () => examples, canWrite: writable,
    // the group edits definitions in segment 4 only (the edits room refuses it otherwise, the facilitator's too)
    canEditDefinition: () => discuss.can_write && discuss.segment === 'discuss',
  })
  const ranking = new RankingPanel(dapi, refreshSoon)
  const rate = new RatePanel(dapi, refreshSoon)
  const results = new ResultsPanel(dapi)
  const closedNote = element('p', { class: 'card ds-closed-note', 'data-testid': 'closed-note' }, 'Thank you for taking part. The session is over.')

  byId('panel-lobby', HTMLElement).append(lobby.el)
  byId('panel-top3', HTMLElement).append(top3.el)
  byId('panel-explore', HTMLElement).append(explore.el)
  byId('panel-present', HTMLElement).append(present.el)
  const discussGrid = element('div', { class: 'ds-discuss-grid' })
  discussGrid.append(attributesPanel.el, ranking.el)
  byId('panel-discuss', HTMLElement).append(discussGrid)
  byId('panel-rate', HTMLElement).append(rate.el)
  byId('panel-closed', HTMLElement).append(facilitator ? results.el : closedNote)

  let controls: FacilitatorControls | undefined
  if (facilitator) {
    controls = new FacilitatorControls(clock, async (command) => { await session.command(command) })
    const slot = byId('controls-slot', HTMLElement)
    slot.append(controls.el)
    slot.hidden = false
  }

  // -- the segment on show ------------------------------------------------------------------------------
  const steps = byId('segment-steps', HTMLElement)
  steps.replaceChildren(...SEGMENTS.map((s) => element('li', { 'data-testid': 'segment-step', 'data-segment': s }, SEGMENT_INFO[s].short)))
  let shown: Segment | undefined
  const showSegment = (segment: Segment): void => {
    if (segment === shown) return
    shown = segment
    root.dataset['segment'] = segment
    const info = SEGMENT_INFO[segment]
    byId('segment-title', HTMLElement).textContent = info.title
    byId('segment-instructions', HTMLElement).textContent = facilitator ? info.facilitator : info.participant
    const at = segmentIndex(segment)
    for (const li of Array.from(steps.children)) {
      if (!(li instanceof HTMLElement)) continue
      const i = segmentIndex(li.dataset['segment'] as Segment)
      li.dataset['state'] = i === at ? 'current' : i < at ? 'done' : 'todo'
      if (i === at) li.setAttribute('aria-current', 'step')
      else li.removeAttribute('aria-current')
    }
    for (const s of SEGMENTS) byId(`panel-${s}`, HTMLElement).hidden = s !== segment
    if (segment === 'lobby') void lobby.load()
    if (segment === 'explore') explore.show()
    if (segment === 'discuss') void loadExamples()
    if (segment === 'closed' && facilitator) void results.load()
  }

  let examplesLoaded = false
  const loadExamples = async (): Promise<void> => {
    if (examplesLoaded || !discuss.can_write) return
    examplesLoaded = true
    try {
      for (const item of await dapi.exampleItems(participant)) examples.set(`${item.kind}:${item.id}`, item)
      attributesPanel.refreshChoices()
    } catch {
      examplesLoaded = false // the pickers offer no examples; the next visit to the segment asks again
    }
  }

  // -- the REST state -----------------------------------------------------------------------------------
  let asked = 0
  let participantsKnown = -1
  const render = (): void => {
    for (const person of discuss.top3 ?? []) names.set(person.participant_id, person.display_name)
    if (control === undefined) showSegment(discuss.segment)
    top3.update(discuss)
    ranking.update(discuss)
    rate.update(discuss)
    attributesPanel.update(attributes)
    if (control !== undefined) present.update(discuss, control, names)
  }
  async function refresh (): Promise<void> {
    const ticket = ++asked
    try {
      const next = await dapi.state()
      if (ticket !== asked) return
      discuss = next
      render()
      if (facilitator && next.participants !== participantsKnown) {
        participantsKnown = next.participants
        const people = await dapi.participants()
        for (const p of people) names.set(p.id, p.display_name)
        controls?.setParticipants(people.map((p) => ({ id: p.id, name: p.display_name })))
        if (control !== undefined) present.update(discuss, control, names)
      }
    } catch (error) {
      if (ticket === asked) showError(`The session could not be read: ${errorMessage(error)}`)
    }
  }

  // -- the control state --------------------------------------------------------------------------------
  function controlChanged (state: ControlState, previous: ControlState | undefined): void {
    control = state
    showSegment(state.segment)
    segmentTimer.set(state.timers['segment'])
    speakerTimer.set(state.timers['speaker'])
    controls?.update(state)
    present.update(discuss, state, names)
    if (previous === undefined || previous.segment !== state.segment || !sameKeys(previous.reveals, state.reveals) ||
        discuss.segment !== state.segment) {
      void refresh()
    }
  }

  // -- the board: attributes and cards ------------------------------------------------------------------
  const boardStatus = element('span', { class: 'visually-hidden', 'data-testid': 'board-status' })
  root.append(boardStatus)
  const connection = connectRoom(roomsBaseUrl(window.location), `study-${study}.group-${group}.board`, (status) => {
    boardStatus.dataset['state'] = status.state
    if (status.state === 'synced') boardChanged(true)
  })
  // The definitions being edited live in the group's edits room (the board is the server's, read-only).
  const editsStatus = element('span', { class: 'visually-hidden', 'data-testid': 'edits-status' })
  root.append(editsStatus)
  const editsConnection = connectRoom(roomsBaseUrl(window.location), `study-${study}.group-${group}.edits`, (status) => {
    editsStatus.dataset['state'] = status.state
    if (status.state === 'synced') boardChanged(false)
    if (status.state === 'closed' && status.lastClose !== undefined) {
      editsStatus.textContent = `Your last edit was refused: ${status.lastClose.serverReason}. Reload the page.`
      editsStatus.className = 'error'
    }
  })
  setLocalUser(connection.awareness, { name: me.name, color: colorFor(me.name) })
  let scheduled = false
  let cardsDirty = true
  function boardChanged (cardsToo: boolean): void {
    cardsDirty ||= cardsToo
    if (scheduled) return
    scheduled = true
    queueMicrotask(() => {
      scheduled = false
      attributes = readAttributes(connection.doc, editsConnection.doc)
      if (cardsDirty) {
        cards = readCards(connection.doc)
        cardsDirty = false
      }
      const active = attributes.filter((a) => a.status === 'active').sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))
      ranking.setCandidates(active.map((a) => ({ id: a.id, name: a.name })))
      rate.setAttributes(attributes)
      attributesPanel.update(attributes)
      root.dataset['attributes'] = String(active.length)
    })
  }
  attributesMap(connection.doc).observeDeep(() => { boardChanged(false) })
  definitionsMap(editsConnection.doc).observe(() => { boardChanged(false) }) // texts added (their edits are bound)
  cardsMap(connection.doc).observeDeep((events) => {
    // a card moving on the canvas (x, y) changes nothing here
    if (events.some((e) => e.target === cardsMap(connection.doc) || e.changes.keys.has('text'))) boardChanged(true)
  })

  // -- go ------------------------------------------------------------------------------------------------
  render()
  clock.start()
  session.start()
  setInterval(() => { if (document.visibilityState === 'visible') void refresh() }, facilitator ? POLL_MS : PARTICIPANT_POLL_MS)
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') void refresh() })
  window.addEventListener('pagehide', () => {
    session.stop()
    clock.stop()
    connection.destroy()
    editsConnection.destroy()
  })
}

function showError (text: string): void {
  const el = byId('page-error', HTMLElement)
  el.textContent = text
  el.hidden = text === ''
}

/** The study and group the facilitator's URL names; without them, what to open instead. */
async function main (): Promise<void> {
  const loading = byId('page-loading', HTMLElement)
  try {
    const { me } = await api.sessionState()
    if (me === null) {
      loading.hidden = true
      byId('signed-out', HTMLElement).hidden = false
      return
    }
    let where: Where
    if (me.role === 'facilitator') {
      const found = await groupFromUrl(new URL(window.location.href), '/discuss/', 'session')
      if (found === undefined) {
        loading.hidden = true
        return
      }
      where = { me, study: found.study, group: found.group, groupParam: found.group }
      const back = byId('back-link', HTMLAnchorElement)
      back.href = `/console/?study=${encodeURIComponent(found.study)}`
      back.textContent = 'Console'
    } else {
      if (me.study_id === null || me.group_id === null) throw new Error('You are not part of a group in a study.')
      where = { me, study: me.study_id, group: me.group_id, groupParam: undefined }
    }
    const dapi = new DiscussApi(where.study, where.groupParam)
    const [study, state] = await Promise.all([api.study(where.study), dapi.state()])
    byId('study-name', HTMLElement).textContent = `· ${study.name}`
    document.title = `Discuss · ${study.name} · CALMA Studio`
    loading.hidden = true
    byId('discuss', HTMLElement).hidden = false
    start(where, state)
  } catch (error) {
    loading.hidden = true
    showError(`The session could not be loaded: ${errorMessage(error)}`)
  }
}

void main()
