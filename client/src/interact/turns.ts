/**
 * A conversation's turns as the page shows them, and the words for a reply's state. Pure
 * functions: no DOM, no connection.
 */
import type { ChatMessage, ChatStatus } from '../generated/control'
import type { StoredMessage } from './rest'

/** One turn on the page: a stored message, plus what the live channel said since. */
export interface Turn {
  readonly id: string
  readonly seq: number
  readonly role: 'user' | 'assistant'
  readonly content: string
  readonly status: ChatStatus
  readonly error: string | null
  readonly replaces: string | null
  /** While the reply is queued: how many replies are ahead of it (0: it is next), once known. */
  readonly position?: number
}

export function turnOf (message: StoredMessage | ChatMessage): Turn {
  return {
    id: message.id,
    seq: message.seq,
    role: message.role,
    content: message.content,
    status: message.status,
    error: message.error,
    replaces: message.replaces,
  }
}

/** The conversation as it reads now: replies that were regenerated are left out; by seq. */
export function currentTurns (turns: Iterable<Turn>): Turn[] {
  const all = [...turns]
  const replaced = new Set(all.map((t) => t.replaces).filter((id): id is string => id !== null))
  return all.filter((t) => !replaced.has(t.id)).sort((a, b) => a.seq - b.seq)
}

/** A reply that the model has not finished: it waits for a slot or is being written. */
export function inFlight (status: ChatStatus): boolean {
  return status === 'queued' || status === 'streaming'
}

/** "Waiting for the model — 2 ahead of you", for a queued reply. */
export function queueText (position: number | undefined): string {
  if (position === undefined) return 'Waiting for the model…'
  if (position === 0) return 'Waiting for the model — you are next'
  return `Waiting for the model — ${position} ahead of you`
}

function ended (text: string): string {
  return /[.!?…]$/.test(text) ? text : `${text}.`
}

/** One line on how a reply stands, or "" for a complete one (its text says it all). */
export function replyStateText (turn: Turn): string {
  const kept = turn.content === '' ? ' No text was written.' : ' The text so far is kept.'
  switch (turn.status) {
    case 'queued': return queueText(turn.position)
    case 'streaming': return turn.content === '' ? 'The model is starting…' : 'The model is writing…'
    case 'complete': return ''
    case 'stopped':
      if (turn.error === null || turn.error === 'stopped') return `Stopped.${kept}`
      // The server's words for a reply whose connection closed; to the participant, the page lost it.
      if (turn.error === 'the participant left') return `Stopped: the page lost its connection to the server.${kept}`
      return `Stopped: ${ended(turn.error)}${kept}`
    case 'failed': return `Failed: ${ended(turn.error ?? 'the model could not answer')}`
    case 'interrupted':
      return `Interrupted: ${ended(turn.error ?? 'the server stopped before the reply ended')}${kept}`
  }
}

/** A short label for a conversation in the list: its first message, or its number. */
export function conversationLabel (preview: string | undefined, index: number): string {
  const text = preview?.replace(/\s+/g, ' ').trim() ?? ''
  if (text === '') return `Conversation ${index + 1}`
  return text.length > 60 ? `${text.slice(0, 59)}…` : text
}
