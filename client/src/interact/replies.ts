/**
 * The replies streamed to this page's connection, as the chat.* frames tell them: a reply is
 * announced by `chat.turn` (queued, empty), then `chat.queue`, `chat.start`, `chat.delta` pieces
 * and `chat.end`. A reply streams only to the connection that asked for it, so what is kept here
 * is the whole of it, and fresher than a stored copy read over REST while it streams.
 */
import type { ChatMessage, ServerFrame } from '../generated/control'
import { inFlight, turnOf, type Turn } from './turns'

export type ReplyFrame = Extract<ServerFrame, { type: 'chat.queue' | 'chat.start' | 'chat.delta' | 'chat.end' }>

/** What changed in a reply: `piece` is the text a delta appended (so the page appends, not redraws). */
export interface ReplyChange {
  readonly conversation: string
  readonly turn: Turn
  readonly piece?: string
}

export function isReplyFrame (frame: ServerFrame): frame is ReplyFrame {
  return frame.type === 'chat.queue' || frame.type === 'chat.start' || frame.type === 'chat.delta' || frame.type === 'chat.end'
}

export class ReplyTracker {
  private readonly replies = new Map<string, { readonly conversation: string, turn: Turn }>()

  /** A stored reply announced on this connection (its chat.turn). */
  announce (message: ChatMessage): void {
    if (message.role !== 'assistant') return
    this.replies.set(message.id, { conversation: message.conversation, turn: turnOf(message) })
  }

  /** Apply a reply frame; what changed, or undefined for a reply this page did not ask for. */
  apply (frame: ReplyFrame): ReplyChange | undefined {
    const entry = this.replies.get(frame.reply)
    if (entry === undefined) return undefined
    const turn = entry.turn
    let piece: string | undefined
    switch (frame.type) {
      case 'chat.queue':
        entry.turn = { ...turn, status: 'queued', position: frame.position }
        break
      case 'chat.start':
        entry.turn = { ...turn, status: 'streaming' }
        break
      case 'chat.delta':
        piece = frame.text
        entry.turn = { ...turn, status: inFlight(turn.status) ? 'streaming' : turn.status, content: turn.content + frame.text }
        break
      case 'chat.end':
        entry.turn = { ...turn, status: frame.status, error: frame.error }
        break
    }
    const change = { conversation: entry.conversation, turn: entry.turn }
    return piece === undefined ? change : { ...change, piece }
  }

  /** The live state of a reply this page asked for, if it did. */
  get (reply: string): Turn | undefined {
    return this.replies.get(reply)?.turn
  }

  /**
   * The connection was lost: its replies in flight were stopped by the server ("the participant
   * left") and their end will not arrive here. Forget them; their stored copy is the truth now.
   */
  forgetInFlight (): void {
    for (const [id, entry] of this.replies) {
      if (inFlight(entry.turn.status)) this.replies.delete(id)
    }
  }
}
