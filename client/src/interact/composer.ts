/**
 * The composer: a textarea where Enter sends and Shift+Enter starts a new line, a Send button, a
 * Stop button while a reply is on its way, and the line that says why a message was refused. The
 * typed text stays until the server has taken the message; a refusal never loses it.
 */
import { element } from '../dom'
import { queueText, type Turn } from './turns'

export interface ComposerElements {
  readonly form: HTMLFormElement
  readonly input: HTMLTextAreaElement
  readonly send: HTMLButtonElement
  readonly stop: HTMLButtonElement
  readonly state: HTMLElement
  readonly error: HTMLElement
}

export interface ComposerHandlers {
  readonly onSend: (text: string) => void
  readonly onStop: () => void
}

const IDLE_HINT = 'Enter sends · Shift+Enter for a new line'

export class Composer {
  private sending = false
  private waitingFor: Turn | undefined
  private stopping = false

  constructor (private readonly els: ComposerElements, handlers: ComposerHandlers) {
    els.input.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return
      event.preventDefault()
      els.form.requestSubmit()
    })
    els.input.addEventListener('input', () => { this.grow() })
    els.form.addEventListener('submit', (event) => {
      event.preventDefault()
      if (this.sending) return
      if (this.waitingFor !== undefined) {
        this.showError('The model is still answering. Wait for the reply, or press Stop.')
        return
      }
      const text = els.input.value
      if (text.trim() === '') {
        this.showError('Write a message first.')
        return
      }
      handlers.onSend(text)
    })
    els.stop.addEventListener('click', () => {
      if (this.waitingFor === undefined || this.stopping) return
      this.stopping = true
      this.render()
      handlers.onStop()
    })
  }

  /** While a message is on its way to the server (until its ack or error). */
  setSending (sending: boolean): void {
    this.sending = sending
    this.render()
  }

  /** The reply in flight in the open conversation (queued or streaming), if any. */
  setWaiting (reply: Turn | undefined): void {
    const was = this.waitingFor
    if (reply?.id === was?.id && reply?.status === was?.status && reply?.position === was?.position) return
    if (reply?.id !== was?.id) this.stopping = false
    this.waitingFor = reply
    this.render()
  }

  /** The stop request failed: offer Stop again. */
  stopFailed (): void {
    this.stopping = false
    this.render()
  }

  /** The server took `sent`: clear the box, unless it was edited meanwhile. */
  sent (sent: string): void {
    if (this.els.input.value === sent) {
      this.els.input.value = ''
      this.grow()
    }
  }

  showError (message: string): void {
    this.els.error.textContent = message
  }

  clearError (): void {
    this.els.error.textContent = ''
  }

  focus (): void {
    this.els.input.focus({ preventScroll: true })
  }

  private render (): void {
    const { send, stop, state } = this.els
    const reply = this.waitingFor
    send.disabled = this.sending || reply !== undefined
    send.setAttribute('aria-busy', String(this.sending))
    send.textContent = this.sending ? 'Sending…' : 'Send'
    stop.hidden = reply === undefined
    stop.disabled = this.stopping
    stop.textContent = this.stopping ? 'Stopping…' : 'Stop'
    if (reply === undefined) {
      state.textContent = IDLE_HINT
    } else if (reply.status === 'queued') {
      state.replaceChildren(element('span', { class: 'spinner', 'aria-hidden': 'true' }), queueText(reply.position))
    } else {
      state.replaceChildren(element('span', { class: 'spinner', 'aria-hidden': 'true' }), 'The model is writing…')
    }
    state.dataset['state'] = reply === undefined ? 'idle' : reply.status
  }

  /** Grow with the text up to a few lines (then the textarea scrolls). */
  private grow (): void {
    const input = this.els.input
    input.style.height = 'auto'
    input.style.height = `${Math.min(input.scrollHeight + 2, 200)}px`
  }
}
