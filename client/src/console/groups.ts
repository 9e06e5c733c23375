/** The study's groups: the list, and adding one (names are unique within a study). */
import { api, errorMessage, type Group } from '../api'
import { element, formatDateTime, whileBusy } from '../dom'

export interface GroupsElements {
  readonly list: HTMLElement
  readonly form: HTMLFormElement
  readonly name: HTMLInputElement
  readonly button: HTMLButtonElement
  readonly error: HTMLElement
}

export class GroupsPanel {
  private study = ''

  constructor (private readonly els: GroupsElements, private readonly onChange: (groups: Group[]) => void) {
    els.form.addEventListener('submit', (event) => {
      event.preventDefault()
      this.create()
    })
  }

  show (study: string, groups: readonly Group[]): void {
    this.study = study
    this.els.error.textContent = ''
    this.els.name.value = ''
    this.render(groups)
  }

  private create (): void {
    const name = this.els.name.value.trim()
    if (name === '') {
      this.els.error.textContent = 'Give the group a name.'
      this.els.name.focus()
      return
    }
    const study = this.study
    this.els.error.textContent = ''
    whileBusy(this.els.button, 'Adding…', async () => {
      await api.createGroup(study, name)
      return await api.groups(study)
    }).then((groups) => {
      if (study !== this.study) return
      this.els.name.value = ''
      this.render(groups)
      this.onChange(groups)
    }).catch((error: unknown) => {
      this.els.error.textContent = errorMessage(error)
      this.els.name.focus()
    })
  }

  private render (groups: readonly Group[]): void {
    if (groups.length === 0) {
      this.els.list.replaceChildren(element('li', { class: 'empty' }, 'No groups yet.'))
      return
    }
    this.els.list.replaceChildren(...groups.map((group) => {
      const item = element('li', { 'data-testid': 'group-item', 'data-group-id': group.id })
      item.append(element('span', { class: 'group-name' }, group.name))
      item.append(element('span', { class: 'muted small-text' }, `added ${formatDateTime(group.created_at)}`))
      return item
    }))
  }
}
