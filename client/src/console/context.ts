/** The study's name, deployment context (name, description) and system prompt: shown, edited, saved (PATCH). */
import { api, errorMessage, type Study } from '../api'
import { whileBusy } from '../dom'

export interface ContextElements {
  readonly form: HTMLFormElement
  readonly studyName: HTMLInputElement
  readonly contextName: HTMLInputElement
  readonly description: HTMLTextAreaElement
  readonly systemPrompt: HTMLTextAreaElement
  readonly models: HTMLElement
  readonly button: HTMLButtonElement
  readonly status: HTMLElement
  readonly error: HTMLElement
}

export class ContextPanel {
  private study: Study | undefined

  constructor (private readonly els: ContextElements, private readonly onSaved: (study: Study) => void) {
    els.form.addEventListener('submit', (event) => {
      event.preventDefault()
      this.save()
    })
    for (const field of [els.studyName, els.contextName, els.description, els.systemPrompt]) {
      field.addEventListener('input', () => { els.status.textContent = 'Unsaved changes' })
    }
  }

  show (study: Study): void {
    this.study = study
    const context = study.deployment_context
    this.els.studyName.value = study.name
    this.els.contextName.value = context.name
    this.els.description.value = context.description
    this.els.systemPrompt.value = context.system_prompt
    this.els.models.textContent = context.models.length > 0 ? context.models.join(', ') : 'none yet'
    this.els.status.textContent = ''
    this.els.error.textContent = ''
  }

  private save (): void {
    const study = this.study
    if (study === undefined) return
    const name = this.els.studyName.value.trim()
    if (name === '') {
      this.els.error.textContent = 'The study needs a name.'
      this.els.studyName.focus()
      return
    }
    this.els.error.textContent = ''
    const patch = {
      name,
      deployment_context: {
        name: this.els.contextName.value.trim(),
        description: this.els.description.value,
        system_prompt: this.els.systemPrompt.value,
      },
    }
    whileBusy(this.els.button, 'Saving…', async () => await api.updateStudy(study.id, patch))
      .then((saved) => {
        if (this.study?.id !== saved.id) return
        this.show(saved)
        this.els.status.textContent = `Saved at ${new Date().toLocaleTimeString(undefined, { timeStyle: 'short' })}`
        this.onSaved(saved)
      })
      .catch((error: unknown) => { this.els.error.textContent = errorMessage(error) })
  }
}
