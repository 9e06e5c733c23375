/**
 * The Interact page, /interact/: a participant chats with the study's model. The deployment
 * context says what the model is meant to be, the stand-in notice (when the server offers only
 * the packaged demo model) says plainly what it really is; the participant's conversations are
 * listed, and the open one streams its replies token by token over /live (chat.* frames).
 * `?c=<conversation id>` in the URL keeps the open conversation across reloads. "I'm done
 * chatting" tells the server the participant has finished Interact, which opens Reflect.
 */
import '../style.css'
import '../pages.css'
import { api, errorMessage, type Me, type Study } from '../api'
import { byId } from '../dom'
import { LiveConnection, liveUrl, type LiveStatus } from '../live'
import { ChatPane } from './chat'
import { Composer } from './composer'
import { ConversationList } from './conversations'
import { DoneChatting } from './done'
import { StageGateNotice } from './gate'
import { ReplyTracker } from './replies'
import { interactApi, type Conversation, type StudyModels } from './rest'
import { Transcript } from './transcript'

interface PageElements {
  readonly loading: HTMLElement
  readonly pageError: HTMLElement
  readonly signedOut: HTMLElement
  readonly notParticipant: HTMLElement
  readonly notParticipantText: HTMLElement
  readonly interact: HTMLElement
  readonly liveStatus: HTMLElement
  readonly contextName: HTMLElement
  readonly contextDescription: HTMLElement
  readonly notice: HTMLElement
}

function pageElements (): PageElements {
  return {
    loading: byId('page-loading', HTMLElement),
    pageError: byId('page-error', HTMLElement),
    signedOut: byId('signed-out', HTMLElement),
    notParticipant: byId('not-participant', HTMLElement),
    notParticipantText: byId('not-participant-text', HTMLElement),
    interact: byId('interact', HTMLElement),
    liveStatus: byId('live-status', HTMLElement),
    contextName: byId('context-name', HTMLElement),
    contextDescription: byId('context-description', HTMLElement),
    notice: byId('stand-in-notice', HTMLElement),
  }
}

const LIVE_STATE: { readonly [S in LiveStatus['state']]: string } = {
  connecting: 'connecting',
  open: 'live',
  reconnecting: 'reconnecting',
  closed: 'closed',
}

function showStatus (el: HTMLElement, status: LiveStatus): void {
  el.hidden = false
  el.dataset['state'] = LIVE_STATE[status.state]
  el.textContent = status.message
}

function showContext (els: PageElements, study: Study, models: StudyModels): void {
  const context = study.deployment_context
  els.contextName.textContent = context.name !== '' ? context.name : study.name
  els.contextDescription.textContent = context.description
  els.contextDescription.hidden = context.description === ''
  els.notice.textContent = models.notice ?? ''
  els.notice.hidden = models.notice === null || models.notice === ''
  document.title = `Interact · ${study.name} · CALMA Studio`
}

/** Who may not chat here, and what to do instead; undefined for a participant. */
function notParticipantText (me: Me): string | undefined {
  if (me.role === 'participant' && me.study_id !== null && me.participant_id !== null) return undefined
  if (me.role === 'observer') {
    return 'As an observer you follow your group\'s live Discuss session; chatting with the model is for participants.'
  }
  return 'You are signed in as a facilitator. Participants\' conversations are kept for the study; ' +
    'open the console to run it.'
}

/** The chat itself, once we know who is here and what the study offers. */
function startChat (
  study: string, models: StudyModels, conversations: readonly Conversation[], liveStatus: HTMLElement,
  gate: StageGateNotice,
): void {
  const replies = new ReplyTracker()
  const chatError = byId('composer-error', HTMLElement)
  // The components call each other only through these closures, wired once here; none of them
  // runs before `pane` exists (the socket starts last).
  let reconnect = false
  const live = new LiveConnection(liveUrl(window.location), {
    onStatus: (status) => { showStatus(liveStatus, status) },
    onOpen: () => {
      if (reconnect) {
        replies.forgetInFlight()
        pane.refresh().catch((error: unknown) => { chatError.textContent = errorMessage(error) })
      }
      reconnect = true
    },
    onFrame: (frame) => { pane.receive(frame) },
  })
  const list = new ConversationList({
    list: byId('conversation-list', HTMLElement),
    empty: byId('conversations-empty', HTMLElement),
    newButton: byId('new-conversation', HTMLButtonElement),
    pickerRow: byId('model-picker-row', HTMLElement),
    picker: byId('model-picker', HTMLSelectElement),
    error: byId('conversations-error', HTMLElement),
  }, models, {
    onOpen: (conversation) => { openConversation(conversation) },
    onCreate: async (model) => {
      try {
        await pane.startNew(model)
        gate.opened()
      } catch (error) {
        void gate.check() // a refusal may be Interact having closed
        throw error
      }
    },
  })
  const transcript = new Transcript(byId('transcript', HTMLElement), (button) => { pane.regenerate(button) })
  const composer = new Composer({
    form: byId('composer', HTMLFormElement),
    input: byId('composer-input', HTMLTextAreaElement),
    send: byId('send-button', HTMLButtonElement),
    stop: byId('stop-button', HTMLButtonElement),
    state: byId('composer-state', HTMLElement),
    error: chatError,
  }, {
    onSend: (text) => { pane.send(text) },
    onStop: () => { pane.stop() },
  })
  const pane = new ChatPane({
    title: byId('conversation-title', HTMLElement),
    model: byId('conversation-model', HTMLElement),
    empty: byId('chat-empty', HTMLElement),
    loading: byId('chat-loading', HTMLElement),
    pane: byId('chat', HTMLElement),
  }, study, {
    request: async (frame) => { await live.request(frame) },
    isOpen: () => live.isOpen,
  }, replies, transcript, composer, list)

  const openConversation = (conversation: Conversation): void => {
    if (conversation.id === pane.openId) return
    pane.open(conversation).catch((error: unknown) => {
      chatError.textContent = `This conversation could not be loaded: ${errorMessage(error)}`
    })
  }

  list.set(conversations)
  const asked = new URL(window.location.href).searchParams.get('c')
  const first = (asked === null ? undefined : list.find(asked)) ?? list.latest
  if (first !== undefined) openConversation(first)
  live.start()
}

async function main (): Promise<void> {
  const els = pageElements()
  const fail = (error: unknown): void => {
    els.loading.hidden = true
    els.pageError.textContent = `The chat could not be loaded: ${errorMessage(error)}`
    els.pageError.hidden = false
  }
  try {
    const { me } = await api.sessionState()
    if (me === null) {
      els.loading.hidden = true
      els.signedOut.hidden = false
      return
    }
    const refused = notParticipantText(me)
    if (refused !== undefined || me.study_id === null) {
      els.loading.hidden = true
      els.notParticipantText.textContent = refused ?? ''
      els.notParticipant.hidden = false
      return
    }
    const studyId = me.study_id
    const participant = me.participant_id ?? ''
    const done = new DoneChatting(studyId, participant)
    byId('conversations-title', HTMLElement).closest('section')?.after(done.el)
    const gate = new StageGateNotice(
      byId('interact-closed', HTMLElement), byId('interact-closed-text', HTMLElement), studyId, participant,
      (stages) => { done.show(stages) })
    const [study, models, conversations] = await Promise.all([
      api.study(studyId),
      interactApi.models(studyId),
      interactApi.conversations(studyId),
      gate.check(),
    ])
    showContext(els, study, models)
    els.loading.hidden = true
    els.interact.hidden = false
    startChat(studyId, models, conversations, els.liveStatus, gate)
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') void gate.check()
    })
  } catch (error) {
    fail(error)
  }
}

void main()
