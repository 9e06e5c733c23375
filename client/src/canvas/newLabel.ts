/**
 * Writing a new label on the canvas (for those who may write the board): the text goes to the
 * server, which embeds it and places it on the board, where it arrives over Yjs like every other
 * card. A refusal shows the server's message under the field; the text stays for another try.
 */
import { errorMessage } from '../api'
import { whileBusy } from '../dom'
import { MAX_LABEL_LENGTH, type PlacedCard } from './rest'

export interface NewLabelElements {
  readonly form: HTMLFormElement
  readonly input: HTMLInputElement
  readonly submit: HTMLButtonElement
  readonly error: HTMLElement
}

export class NewLabel {
  constructor (
    private readonly els: NewLabelElements,
    private readonly send: (text: string) => Promise<PlacedCard>,
    /** The server placed the label (it may not be on this page's board yet). */
    private readonly onPlaced: (card: PlacedCard) => void,
  ) {
    els.input.maxLength = MAX_LABEL_LENGTH
    els.form.addEventListener('submit', (event) => {
      event.preventDefault()
      void this.submit()
    })
    els.input.addEventListener('input', () => { els.error.textContent = '' })
  }

  private async submit (): Promise<void> {
    const els = this.els
    const text = els.input.value.trim()
    if (text === '') {
      els.error.textContent = 'Write a label first.'
      return
    }
    if (els.submit.disabled) return
    try {
      const card = await whileBusy(els.submit, 'Placing…', async () => await this.send(text))
      els.input.value = ''
      els.error.textContent = ''
      this.onPlaced(card)
    } catch (error) {
      els.error.textContent = errorMessage(error)
    }
    els.input.focus()
  }
}
