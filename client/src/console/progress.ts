/**
 * The live progress view: every participant of the study, their group and their stage, updated
 * as it happens. It watches the study on /live (`study.watch`): a `progress.state` snapshot, then
 * one `progress.update` per participant who joins or moves; after a reconnect it watches again
 * and the new snapshot is the truth. Rows are keyed by participant, so a select in use keeps focus.
 */
import { api, errorMessage, type Group } from '../api'
import { element } from '../dom'
import type { ParticipantProgress, ServerFrame, Stage } from '../generated/control'
import { LiveRefused, type LiveRequest, type LiveStatus } from '../live'
import { STAGES, stageTitle } from '../stages'

export interface ProgressElements {
  readonly status: HTMLElement
  readonly counts: HTMLElement
  readonly table: HTMLElement
  readonly rows: HTMLElement
  readonly empty: HTMLElement
  readonly error: HTMLElement
}

interface Row {
  readonly tr: HTMLTableRowElement
  readonly name: HTMLElement
  readonly group: HTMLElement
  readonly stage: HTMLElement
  readonly stepper: HTMLOListElement
  readonly move: HTMLSelectElement
  readonly moveLabel: HTMLLabelElement
}

export class ProgressPanel {
  private study: string | undefined
  private order: readonly Stage[] = STAGES
  private readonly entries = new Map<string, ParticipantProgress>()
  private readonly rows = new Map<string, Row>()
  private groupNames = new Map<string, string>()
  private live: LiveStatus = { state: 'connecting', message: 'Connecting…' }
  private synced = false

  constructor (private readonly els: ProgressElements, private readonly request: (frame: LiveRequest) => Promise<void>) {}

  /** Show `study`'s participants: forget the last study's, and watch this one. */
  watch (study: string, order: readonly Stage[], groups: readonly Group[]): void {
    const previous = this.study
    this.study = study
    this.order = order
    this.entries.clear()
    this.rows.clear()
    this.els.rows.replaceChildren()
    this.synced = false
    this.els.error.textContent = ''
    this.setGroups(groups)
    if (previous !== undefined && previous !== study) this.send({ type: 'study.unwatch', study: previous })
    this.subscribe()
  }

  setGroups (groups: readonly Group[]): void {
    this.groupNames = new Map(groups.map((g) => [g.id, g.name]))
    this.render()
  }

  /** The live channel's status; while it is down the view says so (and is resynced when it is back). */
  setStatus (status: LiveStatus): void {
    this.live = status
    if (status.state !== 'open') this.synced = false
    this.renderStatus()
  }

  /** After every hello: watch the shown study again. */
  reopened (): void {
    this.subscribe()
  }

  receive (frame: ServerFrame): void {
    if (frame.type === 'progress.state' && frame.study === this.study) {
      this.entries.clear()
      for (const entry of frame.participants) this.entries.set(entry.participant, entry)
      if (frame.stage_order.length > 0) this.order = frame.stage_order
      this.synced = true
      this.render()
    } else if (frame.type === 'progress.update' && frame.study === this.study) {
      const entry = frame.progress
      const known = this.entries.get(entry.participant)
      if (known === undefined || known.updated_at <= entry.updated_at) {
        this.entries.set(entry.participant, entry)
        this.render(entry.participant)
      }
    }
  }

  private subscribe (): void {
    const study = this.study
    if (study === undefined || this.live.state !== 'open') return
    this.request({ type: 'study.watch', study }).catch((error: unknown) => {
      if (error instanceof LiveRefused && error.code === 'disconnected') return // resubscribed on reconnect
      if (study === this.study) this.els.error.textContent = `Live progress is unavailable: ${errorMessage(error)}`
    })
  }

  private send (frame: LiveRequest): void {
    if (this.live.state === 'open') this.request(frame).catch(() => { /* best effort */ })
  }

  private move (participant: string, stage: Stage, select: HTMLSelectElement): void {
    const study = this.study
    if (study === undefined) return
    this.els.error.textContent = ''
    select.disabled = true
    api.moveTo(study, participant, stage)
      .then((progress) => {
        const known = this.entries.get(participant)
        const updatedAt = Date.parse(progress.updated_at)
        if (study === this.study && known !== undefined && known.updated_at <= updatedAt) {
          this.entries.set(participant, { ...known, stage: progress.stage, updated_at: updatedAt })
        }
      })
      .catch((error: unknown) => { this.els.error.textContent = errorMessage(error) })
      .finally(() => {
        select.disabled = false
        this.render()
      })
  }

  // -- rendering ---------------------------------------------------------------------------------

  private sortedEntries (): ParticipantProgress[] {
    const groupName = (id: string): string => this.groupNames.get(id) ?? ''
    return [...this.entries.values()].sort((a, b) =>
      groupName(a.group).localeCompare(groupName(b.group)) ||
      a.display_name.localeCompare(b.display_name) || a.participant.localeCompare(b.participant))
  }

  private render (changed?: string): void {
    const entries = this.sortedEntries()
    for (const entry of entries) {
      const row = this.rows.get(entry.participant) ?? this.createRow(entry.participant)
      this.fillRow(row, entry)
      if (entry.participant === changed) {
        row.tr.classList.remove('just-changed')
        void row.tr.offsetWidth // restart the highlight animation
        row.tr.classList.add('just-changed')
      }
    }
    const wanted = entries.map((e) => this.rows.get(e.participant)?.tr)
    const current = [...this.els.rows.children]
    if (wanted.length !== current.length || wanted.some((tr, i) => tr !== current[i])) {
      for (const tr of wanted) if (tr !== undefined) this.els.rows.append(tr)
    }
    this.els.empty.hidden = entries.length > 0 || !this.synced
    this.els.table.hidden = entries.length === 0
    this.renderCounts(entries)
    this.renderStatus()
  }

  private createRow (participant: string): Row {
    const tr = element('tr', { 'data-testid': 'progress-row', 'data-participant-id': participant })
    tr.addEventListener('animationend', () => { tr.classList.remove('just-changed') })
    const name = element('th', { scope: 'row', 'data-testid': 'progress-name' })
    const group = element('td', { 'data-testid': 'progress-group' })
    const stageCell = element('td')
    const stageBox = element('div', { class: 'stage-cell' })
    const stage = element('span', { class: 'stage-name', 'data-testid': 'progress-stage' })
    const stepper = element('ol', { class: 'stepper', 'aria-hidden': 'true' })
    stageBox.append(stage, stepper)
    stageCell.append(stageBox)
    const moveCell = element('td')
    const selectId = `move-${participant}`
    const moveLabel = element('label', { for: selectId, class: 'visually-hidden' })
    const move = element('select', { id: selectId, 'data-testid': 'progress-move' })
    move.addEventListener('change', () => {
      const stage = move.value
      const target = this.order.find((s) => s === stage)
      if (target !== undefined) this.move(participant, target, move)
    })
    moveCell.append(moveLabel, move)
    tr.append(name, group, stageCell, moveCell)
    const row = { tr, name, group, stage, stepper, move, moveLabel }
    this.rows.set(participant, row)
    return row
  }

  private fillRow (row: Row, entry: ParticipantProgress): void {
    row.tr.dataset['stage'] = entry.stage
    row.tr.dataset['groupId'] = entry.group
    row.name.textContent = entry.display_name
    row.group.textContent = this.groupNames.get(entry.group) ?? 'Unknown group'
    row.stage.textContent = stageTitle(entry.stage)
    const at = this.order.indexOf(entry.stage)
    row.stepper.replaceChildren(...this.order.map((stage, i) =>
      element('li', { class: i < at ? 'done' : i === at ? 'current' : 'todo', title: stageTitle(stage) })))
    row.moveLabel.textContent = `Move ${entry.display_name} to`
    if (row.move.options.length !== this.order.length ||
        [...row.move.options].some((option, i) => option.value !== this.order[i])) {
      row.move.replaceChildren(...this.order.map((stage) => element('option', { value: stage }, stageTitle(stage))))
    }
    if (document.activeElement !== row.move) row.move.value = entry.stage
  }

  private renderCounts (entries: readonly ParticipantProgress[]): void {
    this.els.counts.replaceChildren(...this.order.map((stage) => {
      const count = entries.filter((e) => e.stage === stage).length
      const item = element('li', { 'data-testid': 'stage-count', 'data-stage': stage, class: 'stage-count' })
      item.append(element('span', { class: 'count' }, String(count)), element('span', {}, stageTitle(stage)))
      return item
    }))
  }

  private renderStatus (): void {
    const { state, message } = this.live
    const shown = state === 'open' && !this.synced && this.study !== undefined ? 'Syncing…' : message
    this.els.status.dataset['state'] = state === 'open' && this.synced ? 'live' : state
    this.els.status.textContent = shown
  }
}
