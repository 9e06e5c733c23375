/** The facilitator's studies: the list (each a link to ?study=<id>) and creating one from the pilot template. */
import { api, errorMessage, type Study, type StudySummary } from '../api'
import { element, whileBusy } from '../dom'

export interface StudiesElements {
  readonly list: HTMLElement
  readonly form: HTMLFormElement
  readonly name: HTMLInputElement
  readonly button: HTMLButtonElement
  readonly error: HTMLElement
}

export function studyHref (id: string): string {
  return `?study=${encodeURIComponent(id)}`
}

export class StudiesPanel {
  private studies: StudySummary[] = []
  private selected: string | undefined

  constructor (
    private readonly els: StudiesElements,
    private readonly navigate: (study: string) => void,
  ) {
    els.form.addEventListener('submit', (event) => {
      event.preventDefault()
      this.create()
    })
  }

  async load (): Promise<void> {
    this.studies = await api.studies()
    this.render()
  }

  select (study: string | undefined): void {
    this.selected = study
    this.render()
  }

  /** Keep the list in step with a study whose name changed. */
  renamed (study: Study): void {
    this.studies = this.studies.map((s) =>
      s.id === study.id ? { ...s, name: study.name, context_name: study.deployment_context.name } : s)
    this.render()
  }

  private create (): void {
    const name = this.els.name.value.trim()
    this.els.error.textContent = ''
    whileBusy(this.els.button, 'Creating…', async () => await api.createStudy('pilot', name === '' ? undefined : name))
      .then(async (study) => {
        this.els.name.value = ''
        await this.load()
        this.navigate(study.id)
      })
      .catch((error: unknown) => { this.els.error.textContent = errorMessage(error) })
  }

  private render (): void {
    if (this.studies.length === 0) {
      this.els.list.replaceChildren(element('li', { class: 'empty' }, 'No studies yet.'))
      return
    }
    this.els.list.replaceChildren(...this.studies.map((study) => {
      const item = element('li', { 'data-testid': 'study-item', 'data-study-id': study.id })
      const link = element('a', { href: studyHref(study.id), 'data-testid': 'study-link', class: 'study-link' })
      link.append(element('span', { class: 'study-link-name' }, study.name),
        element('span', { class: 'study-link-context' }, study.context_name))
      if (study.id === this.selected) link.setAttribute('aria-current', 'page')
      link.addEventListener('click', (event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
        event.preventDefault()
        this.navigate(study.id)
      })
      item.append(link)
      return item
    }))
  }
}
