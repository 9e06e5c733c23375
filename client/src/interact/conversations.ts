/**
 * The participant's conversations (oldest first, as the server lists them) and "New conversation",
 * with a model picker only when the study lets participants pick. A conversation is named by its
 * first message once the page has seen it, otherwise by its number.
 */
import { errorMessage } from '../api'
import { element, formatDateTime, whileBusy } from '../dom'
import type { Conversation, StudyModels } from './rest'
import { conversationLabel } from './turns'

export interface ConversationListElements {
  readonly list: HTMLElement
  readonly empty: HTMLElement
  readonly newButton: HTMLButtonElement
  readonly pickerRow: HTMLElement
  readonly picker: HTMLSelectElement
  readonly error: HTMLElement
}

export interface ConversationListHandlers {
  /** The participant chose a conversation to read. */
  readonly onOpen: (conversation: Conversation) => void
  /** Start a conversation (with the picked model, when they pick); resolves once it is open. */
  readonly onCreate: (model: string | undefined) => Promise<void>
}

export class ConversationList {
  private conversations: Conversation[] = []
  private readonly previews = new Map<string, string>()
  private selected: string | undefined
  private readonly showModel: boolean

  constructor (
    private readonly els: ConversationListElements,
    models: StudyModels,
    private readonly handlers: ConversationListHandlers,
  ) {
    const picks = models.model_choice === 'participant' && models.models.length > 0
    this.showModel = picks || models.models.length > 1
    els.pickerRow.hidden = !picks
    if (picks) {
      els.picker.replaceChildren(...models.models.map((m) =>
        element('option', { value: m.name }, m.stand_in ? `${m.name} (stand-in)` : m.name)))
    }
    els.newButton.disabled = models.models.length === 0
    els.newButton.addEventListener('click', () => { this.create() })
  }

  /** The model for a new conversation: the picked one, or undefined where the server assigns it. */
  get pickedModel (): string | undefined {
    return this.els.pickerRow.hidden ? undefined : this.els.picker.value
  }

  set (conversations: readonly Conversation[]): void {
    this.conversations = [...conversations]
    this.render()
  }

  add (conversation: Conversation): void {
    if (!this.conversations.some((c) => c.id === conversation.id)) this.conversations.push(conversation)
    this.render()
  }

  find (id: string): Conversation | undefined {
    return this.conversations.find((c) => c.id === id)
  }

  get latest (): Conversation | undefined {
    return this.conversations.at(-1)
  }

  select (id: string | undefined): void {
    this.selected = id
    this.render()
  }

  /** Name a conversation by its first message. */
  setPreview (id: string, text: string): void {
    if (this.previews.get(id) === text) return
    this.previews.set(id, text)
    this.render()
  }

  /** The name the list shows for a conversation. */
  label (conversation: Conversation): string {
    const index = this.conversations.findIndex((c) => c.id === conversation.id)
    const title = conversation.title !== '' ? conversation.title : this.previews.get(conversation.id)
    return conversationLabel(title, index < 0 ? this.conversations.length : index)
  }

  showError (message: string): void {
    this.els.error.textContent = message
  }

  private create (): void {
    this.els.error.textContent = ''
    whileBusy(this.els.newButton, 'Starting…', async () => { await this.handlers.onCreate(this.pickedModel) })
      .catch((error: unknown) => { this.els.error.textContent = errorMessage(error) })
  }

  private render (): void {
    this.els.empty.hidden = this.conversations.length > 0
    // Newest first: the one just started is at hand.
    const items = [...this.conversations].reverse().map((conversation) => {
      const item = element('li')
      const button = element('button', {
        type: 'button',
        class: 'conversation-link',
        'data-testid': 'conversation-item',
        'data-conversation-id': conversation.id,
      })
      if (conversation.id === this.selected) button.setAttribute('aria-current', 'true')
      const meta = this.showModel
        ? `${formatDateTime(conversation.created_at)} · ${conversation.model}`
        : formatDateTime(conversation.created_at)
      button.append(
        element('span', { class: 'conversation-name' }, this.label(conversation)),
        element('span', { class: 'conversation-meta' }, meta),
      )
      button.addEventListener('click', () => { this.handlers.onOpen(conversation) })
      item.append(button)
      return item
    })
    const focused = document.activeElement instanceof HTMLElement ? document.activeElement.dataset['conversationId'] : undefined
    this.els.list.replaceChildren(...items)
    if (focused !== undefined) {
      this.els.list.querySelector<HTMLElement>(`[data-conversation-id="${CSS.escape(focused)}"]`)?.focus()
    }
  }
}
