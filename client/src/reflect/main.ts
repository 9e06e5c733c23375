/**
 * The Reflect page, /reflect/: stage 3 of a CALMA study. In Open coding the participant codes the
 * values they see in model responses (the baseline set, their own chats, shared ones); in Focused
 * coding they refine their codes and group them into clusters with a name and a definition.
 *
 * Nothing is lost: every change is an operation stored in this tab's outbox (outbox.ts) before it
 * is sent, shown at once (store.ts), and sent until the server has answered for it; the header says
 * "All changes saved" or how many are waiting. Other tabs and devices of the participant are
 * followed over /live (`reflect.changed`). `?view=focused` and `?item=kind:id` keep the place
 * across reloads. Below the views (group.ts): whether the participant shares their conversations
 * with their group, and the group's codes once the facilitator released them.
 */
import '../style.css'
import '../pages.css'
import './reflect.css'
import { api, ApiError, errorMessage, type Me } from '../api'
import { byId } from '../dom'
import { LiveConnection, liveUrl, type LiveStatus } from '../live'
import { stageReasonText } from '../stages'
import { shorten } from './codingPanel'
import { FocusedCoding } from './focused'
import { GroupArea } from './group'
import { newTabId } from './ids'
import { OpenCoding } from './openCoding'
import { Outbox, type SaveStatus } from './outbox'
import type { ReflectView } from './project'
import { reflectApi, type Op } from './rest'
import { ReflectStore, type UndoState } from './store'

type ViewName = 'open' | 'focused'

const LIVE_STATE: { readonly [S in LiveStatus['state']]: string } = {
  connecting: 'connecting',
  open: 'live',
  reconnecting: 'reconnecting',
  closed: 'closed',
}

/** Who may not code here, and what to do instead; undefined for a participant. */
function notParticipantText (me: Me): string | undefined {
  if (me.role === 'participant' && me.study_id !== null && me.participant_id !== null) return undefined
  if (me.role === 'observer') {
    return 'As an observer you follow your group\'s live Discuss session; coding responses is for participants.'
  }
  return 'You are signed in as a facilitator. Participants code responses here; follow their progress in the console.'
}

function progressText (view: ReflectView): string {
  const p = view.progress
  const parts = []
  if (p.responses > 0) parts.push(`Responses coded ${p.responses_coded}/${p.responses}`)
  parts.push(`Baseline ${p.baseline_coded}/${p.baseline}`)
  parts.push(`${p.codes} code${p.codes === 1 ? '' : 's'}`)
  parts.push(`${p.clusters} cluster${p.clusters === 1 ? '' : 's'}`)
  return parts.join(' · ')
}

function describe (op: Op): string {
  switch (op.kind) {
    case 'annotation.create': return `coding “${shorten(op.quote, 40)}”`
    case 'annotation.set_codes': case 'annotation.set_memo': return 'changing a coded passage'
    case 'annotation.delete': case 'annotation.restore': return 'deleting or restoring a coded passage'
    case 'code.rename': return `renaming a code to “${op.label}”`
    case 'code.merge': case 'code.unmerge': return 'merging codes'
    default: return 'changing a cluster'
  }
}

/** Says whether Reflect is open for the participant (the server refuses changes until it is). */
class ReflectGate {
  /** Called when Reflect is found open after having been closed. */
  onOpened: () => void = () => {}
  private closed = false

  constructor (
    private readonly notice: HTMLElement, private readonly text: HTMLElement,
    private readonly study: string, private readonly participant: string,
  ) {}

  async check (): Promise<void> {
    try {
      const stages = await api.stages(this.study, this.participant)
      const reflect = stages.stages.find((s) => s.stage === 'reflect')
      const open = reflect === undefined || reflect.state === 'open'
      this.notice.hidden = open
      this.text.textContent = reflect === undefined || open
        ? ''
        : `Reflect is not open for you yet. ${stageReasonText(reflect, 'interact')} You can look around; ` +
          'changes you make wait on this page until it opens.'
      if (open && this.closed) this.onOpened()
      this.closed = !open
    } catch {
      // not knowing changes nothing: the outbox says when the server refuses
    }
  }
}

function start (study: string, participant: string, firstView: ReflectView, store: ReflectStore, outbox: Outbox,
  gate: ReflectGate): void {
  const progress = byId('progress', HTMLElement)
  const undoButton = byId('undo', HTMLButtonElement)
  const tabs: Record<ViewName, HTMLButtonElement> = {
    open: byId('tab-open', HTMLButtonElement),
    focused: byId('tab-focused', HTMLButtonElement),
  }
  const panels: Record<ViewName, HTMLElement> = {
    open: byId('view-open', HTMLElement),
    focused: byId('view-focused', HTMLElement),
  }
  const url = new URL(window.location.href)
  const remember = (key: string, value: string | undefined): void => {
    const next = new URL(window.location.href)
    if (value === undefined) next.searchParams.delete(key)
    else next.searchParams.set(key, value)
    history.replaceState(history.state, '', next)
  }
  const change = (ops: readonly Op[], what: string): void => { store.change(ops, what) }
  const open = new OpenCoding({
    change,
    onPick: (item) => { remember('item', item) },
    draftKey: `calma.reflect.${study}.${participant}.panel`,
  })
  const focused = new FocusedCoding({ change })
  panels.open.append(open.el)
  panels.focused.append(focused.el)
  const group = new GroupArea({ study, store, releasedKey: `calma.reflect.${study}.${participant}.group-codes-released` })
  byId('group-area', HTMLElement).append(group.el)

  const show = (name: ViewName, focus: boolean): void => {
    for (const key of ['open', 'focused'] as const) {
      const on = key === name
      tabs[key].setAttribute('aria-selected', String(on))
      tabs[key].tabIndex = on ? 0 : -1
      panels[key].hidden = !on
    }
    if (name !== 'focused') focused.commitTyping()
    if (focus) tabs[name].focus()
    remember('view', name === 'open' ? undefined : name)
  }
  for (const key of ['open', 'focused'] as const) {
    tabs[key].addEventListener('click', () => { show(key, false) })
    tabs[key].addEventListener('keydown', (event) => {
      if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
        event.preventDefault()
        show(key === 'open' ? 'focused' : 'open', true)
      }
    })
  }

  const render = (view: ReflectView): void => {
    progress.textContent = progressText(view)
    open.update(view)
    focused.update(view)
  }
  const showUndo = (state: UndoState): void => {
    undoButton.disabled = !state.ready
    undoButton.textContent = state.what !== undefined && !state.ready ? 'Undo (saving…)' : 'Undo'
    undoButton.title = state.what === undefined ? 'Nothing to undo' : `Undo: ${state.what}`
    undoButton.dataset['what'] = state.what ?? ''
  }
  store.subscribe(render)
  store.subscribeUndo(showUndo)
  undoButton.addEventListener('click', () => {
    focused.commitTyping()
    store.undo()
  })

  open.pick(url.searchParams.get('item') ?? undefined)
  render(firstView)
  show(url.searchParams.get('view') === 'focused' ? 'focused' : 'open', false)
  outbox.start()
  store.recompute()
  group.start()
  gate.onOpened = () => { outbox.flushSoon() }

  // Typing in a cluster's name or definition is saved before the page goes away or is hidden.
  window.addEventListener('pagehide', () => { focused.commitTyping() })
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') focused.commitTyping()
    else {
      void gate.check()
      void store.refresh()
      outbox.flushSoon()
      group.visible()
    }
  })

  const liveStatus = byId('live-status', HTMLElement)
  let reconnect = false
  const live = new LiveConnection(liveUrl(window.location), {
    onStatus: (status) => {
      liveStatus.hidden = false
      liveStatus.dataset['state'] = LIVE_STATE[status.state]
      liveStatus.textContent = status.message
    },
    onOpen: () => {
      // Changes made elsewhere while this page was not listening are read again.
      if (reconnect) outbox.flushSoon()
      void store.refresh()
      reconnect = true
    },
    onFrame: (frame) => {
      if (frame.type === 'reflect.changed' && frame.study === study) store.remoteVersion(frame.version)
    },
  })
  live.start()
}

async function main (): Promise<void> {
  const loading = byId('page-loading', HTMLElement)
  const pageError = byId('page-error', HTMLElement)
  const saveStatus = byId('save-status', HTMLElement)
  const refused = byId('refused', HTMLElement)
  const refusedText = byId('refused-text', HTMLElement)
  byId('refused-dismiss', HTMLButtonElement).addEventListener('click', () => { refused.hidden = true })
  const alert = (text: string): void => {
    refusedText.textContent = text
    refused.hidden = false
  }
  try {
    const { me } = await api.sessionState()
    if (me === null) {
      loading.hidden = true
      byId('signed-out', HTMLElement).hidden = false
      return
    }
    const notAllowed = notParticipantText(me)
    if (notAllowed !== undefined || me.study_id === null || me.participant_id === null) {
      loading.hidden = true
      byId('not-participant-text', HTMLElement).textContent = notAllowed ?? ''
      byId('not-participant', HTMLElement).hidden = false
      return
    }
    const study = me.study_id
    const participant = me.participant_id
    const gate = new ReflectGate(byId('reflect-closed', HTMLElement), byId('reflect-closed-text', HTMLElement), study, participant)
    const store = new ReflectStore(study, {
      onRefused: (error, op) => { alert(`A change could not be saved (${describe(op)}): ${error}`) },
      onReadError: (error) => {
        if (error instanceof ApiError && error.status === 0) return // offline: the save status says so
        alert(`Your codes could not be read again: ${errorMessage(error)}`)
      },
    })
    let lastSave: SaveStatus['state'] = 'saved'
    const outbox = new Outbox(study, participant, newTabId(), async (batch) => await reflectApi.ops(study, batch), {
      onOutcome: (entry, outcome, version) => { store.outcome(entry, outcome, version) },
      onFlushed: () => { store.flushed() },
      onAdopted: () => { store.recompute() },
      onStatus: (status: SaveStatus) => {
        saveStatus.hidden = false
        saveStatus.dataset['state'] = status.state
        saveStatus.dataset['waiting'] = String(status.waiting)
        saveStatus.textContent = status.message
        if (status.state === 'closed' || lastSave === 'closed') void gate.check()
        lastSave = status.state
        store.recompute()
      },
    })
    store.attach(outbox)
    const [view, details] = await Promise.all([store.load(), api.study(study), gate.check()])
    document.title = `Reflect · ${details.name} · CALMA Studio`
    loading.hidden = true
    byId('reflect', HTMLElement).hidden = false
    start(study, participant, view, store, outbox, gate)
  } catch (error) {
    loading.hidden = true
    pageError.textContent = `Reflect could not be loaded: ${errorMessage(error)}`
    pageError.hidden = false
  }
}

void main()
