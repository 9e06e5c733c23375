/**
 * The open conversation's turns on the page. Each turn is one element, kept by message id, so a
 * streaming reply grows in place (its pieces are appended as they arrive) and a redraw keeps the
 * rest of the page still. The last reply, once the model is done with it, offers Regenerate.
 * Text only: what the model wrote never becomes HTML.
 */
import { element } from '../dom'
import { inFlight, replyStateText, type Turn } from './turns'

interface TurnView {
  readonly root: HTMLElement
  readonly text: HTMLElement
  readonly state: HTMLElement
  readonly actions: HTMLElement
  turn: Turn
}

/** Within this distance of the bottom, new text keeps the page scrolled to the bottom. */
const FOLLOW_PX = 120

function nearBottom (): boolean {
  const page = document.documentElement
  return window.innerHeight + window.scrollY >= page.scrollHeight - FOLLOW_PX
}

function toBottom (): void {
  window.scrollTo({ top: document.documentElement.scrollHeight })
}

export class Transcript {
  private readonly views = new Map<string, TurnView>()
  private readonly regenerate: HTMLButtonElement

  constructor (private readonly el: HTMLElement, onRegenerate: (button: HTMLButtonElement) => void) {
    this.regenerate = element('button', {
      type: 'button', class: 'secondary small', 'data-testid': 'regenerate-button',
      title: 'Ask the model again for a new reply to your last message',
    }, 'Regenerate')
    this.regenerate.addEventListener('click', () => { onRegenerate(this.regenerate) })
  }

  /** Show `turns` (the conversation as it reads now, by seq) and nothing else. */
  show (turns: readonly Turn[], options: { readonly scroll?: boolean } = {}): void {
    const follow = options.scroll === true || nearBottom()
    const keep = new Set(turns.map((t) => t.id))
    for (const [id, view] of this.views) {
      if (!keep.has(id)) {
        view.root.remove()
        this.views.delete(id)
      }
    }
    turns.forEach((turn, index) => {
      let view = this.views.get(turn.id)
      if (view === undefined) {
        view = this.create(turn)
        this.views.set(turn.id, view)
      } else {
        this.draw(view, turn)
      }
      if (this.el.children[index] !== view.root) this.el.insertBefore(view.root, this.el.children[index] ?? null)
    })
    this.placeRegenerate(turns)
    if (follow) toBottom()
  }

  /** One turn changed; `piece` is the text a delta appended to it. */
  update (turn: Turn, piece?: string): void {
    const view = this.views.get(turn.id)
    if (view === undefined) return
    const follow = nearBottom()
    if (piece !== undefined && view.turn.content + piece === turn.content) {
      view.text.append(piece)
      view.turn = turn
      this.drawState(view)
    } else {
      this.draw(view, turn)
    }
    if (follow) toBottom()
  }

  clear (): void {
    this.views.clear()
    this.el.replaceChildren()
  }

  get isEmpty (): boolean {
    return this.views.size === 0
  }

  private create (turn: Turn): TurnView {
    const mine = turn.role === 'user'
    const root = element('article', {
      class: `turn turn-${turn.role}`,
      'data-testid': 'turn',
      'data-role': turn.role,
      'data-message-id': turn.id,
    })
    const who = element('p', { class: 'turn-who' }, mine ? 'You' : 'Model')
    const text = element('div', { class: 'turn-text', 'data-testid': 'turn-text' })
    const state = element('p', { class: 'turn-state', 'data-testid': 'turn-state' })
    const actions = element('div', { class: 'turn-actions' })
    root.append(who, text, state, actions)
    const view: TurnView = { root, text, state, actions, turn }
    view.text.textContent = turn.content
    this.drawState(view)
    return view
  }

  private draw (view: TurnView, turn: Turn): void {
    if (view.turn.content !== turn.content || view.text.textContent !== turn.content) view.text.textContent = turn.content
    view.turn = turn
    this.drawState(view)
  }

  private drawState (view: TurnView): void {
    const turn = view.turn
    view.root.dataset['status'] = turn.status
    if (turn.role === 'user') {
      view.state.hidden = true
      return
    }
    const words = replyStateText(turn)
    view.state.hidden = words === ''
    if (inFlight(turn.status)) {
      view.state.replaceChildren(element('span', { class: 'spinner', 'aria-hidden': 'true' }), document.createTextNode(words))
    } else {
      view.state.textContent = words
    }
    view.state.className = `turn-state turn-state-${turn.status}`
    view.root.setAttribute('aria-busy', String(inFlight(turn.status)))
  }

  /** Regenerate sits on the last turn when it is a reply the model is done with. */
  private placeRegenerate (turns: readonly Turn[]): void {
    const last = turns.at(-1)
    const view = last === undefined ? undefined : this.views.get(last.id)
    const offer = last !== undefined && last.role === 'assistant' && !turns.some((t) => inFlight(t.status))
    if (offer && view !== undefined) {
      if (this.regenerate.parentElement !== view.actions) view.actions.append(this.regenerate)
    } else {
      this.regenerate.remove()
    }
  }
}
