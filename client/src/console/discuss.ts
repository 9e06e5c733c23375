/**
 * Discuss in the console's study view: whether the semantic canvas shows who wrote each card, the
 * link participants get with their session artifacts (e.g. a recap video), and per group: a link to
 * run its live session (/discuss/), a link to its canvas (as the facilitator, who can bring everyone
 * to one view) and "Put Reflect's codes on it now" (the server keeps released codes on the canvas by
 * itself; this is for when you want it at once, and it says how many code cards the group has).
 */
import { api, call, errorMessage, type Group, type Study } from '../api'
import { element, whileBusy } from '../dom'

function pageHref (page: 'canvas' | 'discuss', study: string, group: string): string {
  return `../${page}/?study=${encodeURIComponent(study)}&group=${encodeURIComponent(group)}`
}

export class DiscussArea {
  readonly section: HTMLElement
  private readonly anonymous = element('input', {
    id: 'anonymous-canvas', type: 'checkbox', role: 'switch', 'data-testid': 'anonymous-canvas', 'aria-describedby': 'anonymous-canvas-hint',
  })
  private readonly anonymousRow = element('div', { class: 'rc-setting' })
  private readonly linkForm = element('form', { class: 'inline-form', 'data-testid': 'artifact-link-form' })
  private readonly linkInput = element('input', {
    id: 'artifact-link', type: 'url', placeholder: 'https://…', maxlength: '2000', 'data-testid': 'artifact-link',
  })
  private readonly linkNote = element('span', { class: 'muted small-text', role: 'status', 'aria-live': 'polite', 'data-testid': 'artifact-link-note' })
  private readonly groupList = element('ul', { class: 'plain-list', 'data-testid': 'canvas-groups' })
  private readonly error = element('p', { class: 'error', role: 'alert', 'data-testid': 'discuss-error' })
  private study: Study | undefined

  constructor () {
    this.section = element('section', { id: 'discuss-section', class: 'card', 'data-testid': 'discuss-section', 'aria-labelledby': 'discuss-title' })
    const label = element('label', { for: 'anonymous-canvas', class: 'rc-switch' })
    label.append(this.anonymous, element('span', { class: 'rc-switch-title' }, 'Anonymous canvas'))
    this.anonymousRow.append(label, element('p', { id: 'anonymous-canvas-hint', class: 'hint' },
      'On: cards on the semantic canvas show what was written and how many used it, never who. ' +
      'Off: each card also names its authors. Changing it updates every group’s canvas.'))
    this.section.append(
      element('h3', { id: 'discuss-title' }, 'Discuss: the semantic canvas'),
      element('p', { class: 'hint' },
        'Each group’s canvas places every label near those that mean the same: the codes of Reflect once you ' +
        'release them, and labels people write on the canvas. Suggested groupings are hints the group accepts or dismisses.'),
      this.anonymousRow, this.linkForm, this.groupList, this.error,
    )
    const save = element('button', { type: 'submit', class: 'secondary small', 'data-testid': 'save-artifact-link' }, 'Save link')
    this.linkForm.append(element('label', { for: 'artifact-link' }, 'A link for the session artifacts (optional, e.g. a recap video) '),
      this.linkInput, ' ', save, ' ', this.linkNote)
    this.linkForm.addEventListener('submit', (event) => {
      event.preventDefault()
      void whileBusy(save, 'Saving…', async () => { await this.saveLink(this.linkInput.value.trim()) })
    })
    this.anonymous.addEventListener('change', () => { void this.setAnonymous(this.anonymous.checked) })
  }

  /** Put the section in the study view after `after`, with a link in the study's `nav`. */
  mount (after: Element, nav: Element | null): void {
    after.after(this.section)
    if (nav === null) return
    nav.insertBefore(element('a', { href: '#discuss-section' }, 'Discuss'), nav.querySelector('a[href="#context-section"]'))
  }

  show (study: Study, groups: readonly Group[]): void {
    this.study = study
    this.anonymous.checked = study.discuss.anonymous_canvas
    this.anonymous.disabled = false
    this.linkInput.value = study.discuss.artifact_link
    this.linkNote.textContent = 
    this.error.textContent = ''
    this.groupsChanged(groups)
  }

  groupsChanged (groups: readonly Group[]): void {
    const study = this.study
    if (study === undefined) return
    if (groups.length === 0) {
      this.groupList.replaceChildren(element('li', { class: 'empty' }, 'Add a group first.'))
      return
    }
    this.groupList.replaceChildren(...groups.map((group) => this.groupRow(study, group)))
  }

  private groupRow (study: Study, group: Group): HTMLElement {
    const row = element('li', { class: 'canvas-group', 'data-testid': 'canvas-group', 'data-group-id': group.id })
    const run = element('a', { href: pageHref('discuss', study.id, group.id), 'data-testid': 'run-discuss' }, `Run ${group.name}’s session`)
    const open = element('a', { href: pageHref('canvas', study.id, group.id), 'data-testid': 'open-canvas' }, 'its canvas')
    const refresh = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'refresh-canvas' }, 'Put Reflect’s codes on it now')
    const note = element('span', { class: 'muted small-text', role: 'status', 'aria-live': 'polite', 'data-testid': 'refresh-canvas-note' })
    refresh.addEventListener('click', () => {
      void whileBusy(refresh, 'Placing…', async () => {
        try {
          const done = await call<{ codes: number }>('POST', `/studies/${encodeURIComponent(study.id)}/canvas/refresh`, { group_id: group.id })
          note.textContent = done.codes === 0
            ? 'No code cards: the codes are not released yet, or nobody has coded.'
            : `${done.codes} code card${done.codes === 1 ? '' : 's'} on the canvas.`
        } catch (error) {
          note.textContent = `Could not update the canvas: ${errorMessage(error)}`
        }
      })
    })
    row.append(run, ' · ', open, ' ', refresh, ' ', note)
    return row
  }

  private async saveLink (link: string): Promise<void> {
    const study = this.study
    if (study === undefined) return
    try {
      const updated = await api.updateStudy(study.id, { discuss: { artifact_link: link } })
      if (this.study?.id !== study.id) return
      this.study = updated
      this.linkNote.textContent = link === '' ? 'No link.' : 'Saved: participants see it with their artifacts.'
    } catch (error) {
      this.linkNote.textContent = `Not saved: ${errorMessage(error)}`
    }
  }

  private async setAnonymous (on: boolean): Promise<void> {
    const study = this.study
    if (study === undefined) return
    this.anonymous.disabled = true
    try {
      const updated = await api.updateStudy(study.id, { discuss: { anonymous_canvas: on } })
      if (this.study?.id !== study.id) return
      this.study = updated
      this.anonymous.checked = updated.discuss.anonymous_canvas
      this.anonymousRow.dataset['on'] = String(updated.discuss.anonymous_canvas)
      this.error.textContent = ''
    } catch (error) {
      this.anonymous.checked = !on
      this.error.textContent = `The setting could not be saved: ${errorMessage(error)}`
    } finally {
      this.anonymous.disabled = false
    }
  }
}
