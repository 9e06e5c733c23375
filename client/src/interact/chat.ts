/**
 * The open conversation: its stored turns (read over REST) brought up to date by the chat.*
 * frames of /live, the composer that sends into it, Stop and Regenerate.
 *
 * A reply streams only to the connection that asked for it (see ReplyTracker). When the page
 * shows a reply still in flight that this connection did not ask for (another tab, or a
 * connection that was lost), it reads the conversation again every few seconds until that reply
 * has ended.
 */
import { errorMessage } from '../api'
import { whileBusy } from '../dom'
import type { ChatMessage, ServerFrame } from '../generated/control'
import { LiveRefused, type LiveRequest } from '../live'
import type { Composer } from './composer'
import type { ConversationList } from './conversations'
import { isReplyFrame, type ReplyTracker } from './replies'
import { interactApi, type Conversation } from './rest'
import type { Transcript } from './transcript'
import { currentTurns, inFlight, turnOf, type Turn } from './turns'

export interface ChatElements {
  readonly title: HTMLElement
  readonly model: HTMLElement
  readonly empty: HTMLElement
  readonly loading: HTMLElement
  readonly pane: HTMLElement
}

/** What the page needs of the live channel. */
export interface LiveLink {
  readonly request: (frame: LiveRequest) => Promise<void>
  readonly isOpen: () => boolean
}

/** How soon to read again a reply in flight that streams elsewhere; doubled each time, up to POLL_MAX_MS. */
const POLL_MS = 2000
const POLL_MAX_MS = 16_000

/** A refusal, in words for the person who typed the message. */
export function refusalText (error: unknown): string {
  if (error instanceof LiveRefused) {
    if (error.code === 'disconnected') {
      return 'The connection to the server was lost. Your message is kept: send it again once the page is back online.'
    }
    const message = error.message.charAt(0).toUpperCase() + error.message.slice(1)
    const sentence = /[.!?]$/.test(message) ? message : `${message}.`
    const wait = error.retryAfterMs
    return wait === undefined || wait <= 0 ? sentence : `${sentence} Try again in ${Math.ceil(wait / 1000)} s.`
  }
  return errorMessage(error)
}

export class ChatPane {
  private conversation: Conversation | undefined
  /** Every turn of the open conversation on record, including replies since regenerated. */
  private turns = new Map<string, Turn>()
  /** Bumped whenever another conversation is opened: stale reads are dropped. */
  private generation = 0
  private pollTimer: ReturnType<typeof setTimeout> | undefined
  private pollMs = POLL_MS

  constructor (
    private readonly els: ChatElements,
    private readonly study: string,
    private readonly live: LiveLink,
    private readonly replies: ReplyTracker,
    private readonly transcript: Transcript,
    private readonly composer: Composer,
    private readonly list: ConversationList,
  ) {
    this.showHead()
  }

  get openId (): string | undefined {
    return this.conversation?.id
  }

  /** Read `conversation` and show it. */
  async open (conversation: Conversation): Promise<void> {
    this.generation += 1
    this.pollMs = POLL_MS
    this.conversation = conversation
    this.turns.clear()
    this.transcript.clear()
    this.list.select(conversation.id)
    this.showHead()
    this.composer.clearError()
    this.composer.setWaiting(undefined)
    const url = new URL(window.location.href)
    url.searchParams.set('c', conversation.id)
    window.history.replaceState(null, '', url)
    this.els.loading.hidden = false
    this.els.empty.hidden = true
    try {
      await this.load(true)
    } finally {
      if (this.conversation === conversation) this.els.loading.hidden = true
    }
  }

  /** Read the open conversation again (after a reconnect, or while someone else's reply streams). */
  async refresh (): Promise<void> {
    if (this.conversation !== undefined) await this.load(false)
  }

  receive (frame: ServerFrame): void {
    if (frame.type === 'chat.turn') {
      this.turn(frame.message)
    } else if (isReplyFrame(frame)) {
      const change = this.replies.apply(frame)
      if (change === undefined || change.conversation !== this.conversation?.id) return
      this.turns.set(change.turn.id, change.turn)
      if (change.piece !== undefined && frame.type === 'chat.delta') this.transcript.update(change.turn, change.piece)
      else this.render()
      this.syncComposer()
    }
  }

  /** Send `text` into the open conversation (starting one first if none is open). */
  send (text: string): void {
    this.composer.clearError()
    if (!this.live.isOpen()) {
      this.composer.showError(
        'Not connected to the server right now; the page is reconnecting. Your message is kept: send it again in a moment.')
      return
    }
    this.composer.setSending(true)
    const sending = async (): Promise<void> => {
      if (this.conversation === undefined) await this.startNew(this.list.pickedModel)
      const conversation = this.conversation
      if (conversation === undefined) return
      await this.live.request({ type: 'chat.send', conversation: conversation.id, text })
      this.composer.sent(text)
    }
    sending()
      .catch((error: unknown) => { this.composer.showError(refusalText(error)) })
      .finally(() => { this.composer.setSending(false) })
  }

  /** Stop the reply in flight. */
  stop (): void {
    const reply = this.waiting()
    if (reply === undefined) return
    this.live.request({ type: 'chat.stop', reply: reply.id }).catch((error: unknown) => {
      this.composer.stopFailed()
      this.composer.showError(refusalText(error))
    })
  }

  /** A new reply to the last message, in place of the last reply. */
  regenerate (button: HTMLButtonElement): void {
    const conversation = this.conversation
    if (conversation === undefined) return
    this.composer.clearError()
    whileBusy(button, 'Regenerating…', async () => {
      await this.live.request({ type: 'chat.regenerate', conversation: conversation.id })
    }).catch((error: unknown) => { this.composer.showError(refusalText(error)) })
  }

  /** Start a conversation and open it. */
  async startNew (model: string | undefined): Promise<void> {
    const conversation = await interactApi.startConversation(this.study, model)
    this.list.add(conversation)
    await this.open(conversation)
    this.composer.focus()
  }

  private turn (message: ChatMessage): void {
    this.replies.announce(message)
    if (message.conversation !== this.conversation?.id) return
    const turn = this.replies.get(message.id) ?? turnOf(message)
    this.turns.set(turn.id, turn)
    if (turn.role === 'user' && turn.seq === 1) this.named(turn.content)
    this.render(true)
    this.syncComposer()
  }

  private async load (scroll: boolean): Promise<void> {
    const conversation = this.conversation
    if (conversation === undefined) return
    const generation = this.generation
    this.stopPolling()
    const detail = await interactApi.conversation(this.study, conversation.id)
    if (generation !== this.generation) return // another conversation was opened meanwhile
    for (const message of detail.messages) {
      // What this connection was sent of a reply is at least as fresh as the stored copy.
      this.turns.set(message.id, this.replies.get(message.id) ?? turnOf(message))
    }
    const first = detail.messages.find((m) => m.role === 'user')
    if (first !== undefined) this.named(first.content)
    this.els.loading.hidden = true
    this.render(scroll)
    this.syncComposer()
    const someoneElses = this.current().some((t) => inFlight(t.status) && this.replies.get(t.id) === undefined)
    if (!someoneElses) {
      this.pollMs = POLL_MS
      return
    }
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined
      this.refresh().catch(() => { /* read again on the next reconnect or open */ })
    }, this.pollMs)
    this.pollMs = Math.min(this.pollMs * 2, POLL_MAX_MS)
  }

  /** The open conversation's first message names it. */
  private named (firstMessage: string): void {
    const conversation = this.conversation
    if (conversation === undefined) return
    this.list.setPreview(conversation.id, firstMessage)
    this.showTitle(this.list.label(conversation))
  }

  private showTitle (title: string): void {
    this.els.title.textContent = title
    this.els.title.title = title
  }

  private stopPolling (): void {
    if (this.pollTimer !== undefined) clearTimeout(this.pollTimer)
    this.pollTimer = undefined
  }

  private current (): Turn[] {
    return currentTurns(this.turns.values())
  }

  private waiting (): Turn | undefined {
    return this.current().find((t) => t.role === 'assistant' && inFlight(t.status))
  }

  private render (scroll = false): void {
    const turns = this.current()
    this.transcript.show(turns, { scroll })
    this.els.empty.hidden = turns.length > 0 || !this.els.loading.hidden
  }

  private syncComposer (): void {
    this.composer.setWaiting(this.waiting())
  }

  private showHead (): void {
    const conversation = this.conversation
    this.els.pane.dataset['conversationId'] = conversation?.id ?? ''
    if (conversation === undefined) {
      this.showTitle('New conversation')
      this.els.model.textContent = ''
      this.els.empty.hidden = false
      return
    }
    this.showTitle(this.list.label(conversation))
    this.els.model.textContent = `Model: ${conversation.model}`
  }
}
