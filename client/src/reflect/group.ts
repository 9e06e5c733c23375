/**
 * The participant and their group on the Reflect page: whether they let others in the group code a
 * sample of their conversations (optional; it matters only when the facilitator turns the shared
 * sample on), and the group's codes once the facilitator has released them.
 *
 * Participants cannot read the facilitator's settings, and the server answers the group's codes
 * with 409 until they are released; Chromium logs every such answer as a console error, and nothing
 * tells the page of a release. So the page asks only when the participant does ("Check for your
 * group's codes") — never on its own — until it has once seen them released: from then on (kept in
 * localStorage) it reads them on load and when the tab is shown again. A 409 is shown quietly as
 * "not shared yet" and forgets that they were released.
 */
import { ApiError, errorMessage } from '../api'
import { element, formatDateTime, whileBusy } from '../dom'
import type { ReflectStore } from './store'
import { reflectApi, type GroupCode, type GroupCodes } from './rest'

type CodesState = 'unknown' | 'held' | 'shown' | 'error'

function byUses (codes: readonly GroupCode[]): GroupCode[] {
  return [...codes].sort((a, b) => b.uses - a.uses || b.participants - a.participants || a.label.localeCompare(b.label))
}

function people (n: number): string {
  return `${n} ${n === 1 ? 'person' : 'people'}`
}

export interface GroupAreaOptions {
  readonly study: string
  readonly store: ReflectStore
  /** Where to remember that the group's codes were released. */
  readonly releasedKey: string
}

export class GroupArea {
  readonly el: HTMLElement
  private readonly toggle = element('input', {
    id: 'sharing-toggle', type: 'checkbox', role: 'switch', 'data-testid': 'sharing-toggle',
    'aria-describedby': 'sharing-explained sharing-status',
  })
  private readonly sharingStatus = element('p', { id: 'sharing-status', class: 'rf-setting-note', 'data-testid': 'sharing-status', role: 'status', 'aria-live': 'polite' })
  private readonly sharingError = element('p', { class: 'error', role: 'alert', 'data-testid': 'sharing-error' })
  private readonly codesBox: HTMLElement
  private readonly checkButton = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'check-group-codes' },
    'Check for your group’s codes')
  private readonly codesNote = element('p', { class: 'hint', 'data-testid': 'group-codes-note', role: 'status', 'aria-live': 'polite' })
  private readonly panel = element('section', { class: 'rf-group-panel', 'data-testid': 'group-codes-panel', 'aria-labelledby': 'group-codes-title' })
  private readonly released = element('p', { class: 'hint', 'data-testid': 'group-codes-released' })
  private readonly table = element('table', { class: 'rf-group-table', 'data-testid': 'group-codes-table' })
  private readonly empty = element('p', { class: 'empty', 'data-testid': 'group-codes-empty' }, 'No one in your group has coded anything yet.')
  private saving = false
  private reading = false

  constructor (private readonly options: GroupAreaOptions) {
    this.el = element('section', { class: 'rf-group card', 'data-testid': 'group-area', 'aria-labelledby': 'group-area-title' })
    this.el.append(element('h2', { id: 'group-area-title', class: 'rf-group-title-main' }, 'You and your group'))

    const sharing = element('div', { class: 'rf-sharing', 'data-testid': 'sharing' })
    const label = element('label', { for: 'sharing-toggle', class: 'rf-switch' })
    label.append(this.toggle, element('span', {}, 'Let others in my group code a sample of my conversations'))
    const explained = element('div', { id: 'sharing-explained', class: 'hint rf-explained' })
    explained.append(
      element('p', {}, 'This is optional, and up to you. If you agree and your facilitator turns on the shared sample, ' +
        'others in your group may each be given up to 5 of the model’s replies from your conversations to code, with the ' +
        'prompts you wrote. They do not see your name, and you do not see their codes.'),
      element('p', {}, 'You can change your mind at any time: turning this off takes your replies out of their lists.'),
    )
    sharing.append(label, explained, this.sharingStatus, this.sharingError)

    this.codesBox = element('div', { class: 'rf-codes-box', 'data-testid': 'group-codes', 'data-state': 'unknown' })
    const ask = element('div', { class: 'rf-codes-ask' })
    ask.append(this.codesNote, this.checkButton)
    const wrap = element('div', { class: 'table-wrap' })
    wrap.append(this.table)
    this.panel.append(element('h3', { id: 'group-codes-title' }, 'Your group’s codes'), this.released, wrap, this.empty)
    this.panel.hidden = true
    this.codesBox.append(this.panel, ask)
    this.el.append(sharing, this.codesBox)

    this.toggle.addEventListener('change', () => { this.setSharing(this.toggle.checked) })
    this.checkButton.addEventListener('click', () => { void this.readCodes(true) })
    this.showCodesState('unknown')
    options.store.subscribe(() => { this.showSharing() })
    this.showSharing()
  }

  /** Start: read the group's codes now if they were released when this page last looked. */
  start (): void {
    if (this.knownReleased()) void this.readCodes(false)
  }

  /** The tab is shown again: the codes may have changed. */
  visible (): void {
    if (this.knownReleased()) void this.readCodes(false)
  }

  private showSharing (): void {
    if (this.saving) return
    const agreed = this.options.store.sharing
    this.toggle.checked = agreed
    this.el.dataset['sharing'] = String(agreed)
    this.sharingStatus.textContent = agreed
      ? 'You agreed: others in your group may code a sample of your conversations.'
      : 'You have not agreed: only you code your conversations.'
  }

  private setSharing (agree: boolean): void {
    this.saving = true
    this.toggle.disabled = true
    this.toggle.setAttribute('aria-busy', 'true')
    this.sharingError.textContent = ''
    reflectApi.sharing(this.options.study, agree)
      .then((state) => {
        this.saving = false
        this.options.store.accept(state)
      })
      .catch((error: unknown) => {
        this.saving = false
        this.sharingError.textContent = `Not saved: ${errorMessage(error)}`
      })
      .finally(() => {
        this.toggle.disabled = false
        this.toggle.removeAttribute('aria-busy')
        this.showSharing()
      })
  }

  private knownReleased (): boolean {
    try {
      return localStorage.getItem(this.options.releasedKey) !== null
    } catch {
      return false
    }
  }

  private rememberReleased (yes: boolean): void {
    try {
      if (yes) localStorage.setItem(this.options.releasedKey, '1')
      else localStorage.removeItem(this.options.releasedKey)
    } catch {
      // not remembered: the participant checks again after a reload
    }
  }

  private async readCodes (byButton: boolean): Promise<void> {
    if (this.reading) return
    this.reading = true
    const read = async (): Promise<GroupCodes> => await reflectApi.groupCodes(this.options.study)
    try {
      const codes = byButton ? await whileBusy(this.checkButton, 'Checking…', read) : await read()
      this.rememberReleased(true)
      this.render(codes)
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        this.rememberReleased(false)
        this.showCodesState('held')
      } else {
        this.showCodesState('error', `Your group’s codes could not be read: ${errorMessage(error)}`)
      }
    } finally {
      this.reading = false
    }
  }

  private showCodesState (state: CodesState, message?: string): void {
    this.codesBox.dataset['state'] = state
    if (state !== 'shown') this.panel.hidden = true
    this.checkButton.textContent = state === 'shown' ? 'Refresh' : state === 'unknown' ? 'Check for your group’s codes' : 'Check again'
    this.codesNote.textContent = message ?? (
      state === 'unknown'
        ? 'Once everyone has coded, your facilitator may share the codes your group used: how often each was used and by how many people (never who).'
        : state === 'held'
          ? 'Your facilitator has not shared your group’s codes yet. Check again later.'
          : '')
    this.codesNote.classList.toggle('error', state === 'error')
  }

  private render (codes: GroupCodes): void {
    this.showCodesState('shown')
    this.panel.hidden = false
    this.released.textContent = codes.released_at === null
      ? 'Shared by your facilitator. Codes are counted together when they have the same label (capitals aside).'
      : `Shared by your facilitator ${formatDateTime(codes.released_at)}. Codes are counted together when they have the same label (capitals aside).`
    const sorted = byUses(codes.codes)
    this.empty.hidden = sorted.length > 0
    this.table.hidden = sorted.length === 0
    const headRow = element('tr')
    headRow.append(element('th', { scope: 'col' }, 'Code'), element('th', { scope: 'col' }, 'Uses'),
      element('th', { scope: 'col' }, 'Used by'))
    const head = element('thead')
    head.append(headRow)
    const body = element('tbody')
    body.append(...sorted.map((code) => {
      const tr = element('tr', { 'data-testid': 'group-code-row', 'data-label': code.label })
      tr.append(
        element('th', { scope: 'row', 'data-testid': 'group-code-label' }, code.label),
        element('td', { 'data-testid': 'group-code-uses', 'data-uses': String(code.uses) }, `${code.uses}×`),
        element('td', { 'data-testid': 'group-code-people', 'data-people': String(code.participants) }, people(code.participants)),
      )
      return tr
    }))
    this.table.replaceChildren(element('caption', { class: 'visually-hidden' }, 'Your group’s codes, most used first'), head, body)
  }
}
