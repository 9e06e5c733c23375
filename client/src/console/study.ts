/** One study in the console: loads it with its groups and invites and hands each part to its panel (Familiarize and Reflect load their own). */
import { api, ApiError, errorMessage, type Group, type Study } from '../api'
import { formatDateTime } from '../dom'
import type { ContextPanel } from './context'
import type { FamiliarizeArea } from './familiarize'
import type { GroupsPanel } from './groups'
import type { InvitesPanel } from './invites'
import type { ProgressPanel } from './progress'
import type { DiscussArea } from './discuss'
import type { OutputsArea } from './outputs'
import type { ReflectArea } from './reflect'

export interface StudyElements {
  readonly none: HTMLElement
  readonly loading: HTMLElement
  readonly error: HTMLElement
  readonly article: HTMLElement
  readonly title: HTMLElement
  readonly subtitle: HTMLElement
}

export interface StudyPanels {
  readonly progress: ProgressPanel
  readonly groups: GroupsPanel
  readonly invites: InvitesPanel
  readonly context: ContextPanel
  readonly familiarize: FamiliarizeArea
  readonly reflect: ReflectArea
  readonly discuss: DiscussArea
  readonly outputs: OutputsArea
}

export class StudyPane {
  private shown: string | undefined
  private loads = 0

  constructor (private readonly els: StudyElements, private readonly panels: StudyPanels) {}

  /** Show a study (undefined: none chosen). A later call wins over an earlier one still loading. */
  async show (id: string | undefined): Promise<void> {
    const load = ++this.loads
    this.els.error.hidden = true
    if (id === undefined) {
      this.shown = undefined
      this.els.article.hidden = true
      this.els.none.hidden = false
      return
    }
    this.els.none.hidden = true
    this.els.loading.hidden = false
    if (id !== this.shown) this.els.article.hidden = true
    try {
      const [study, groups, invites] = await Promise.all([api.study(id), api.groups(id), api.invites(id)])
      if (load !== this.loads) return
      this.shown = id
      this.heading(study)
      this.panels.context.show(study)
      this.panels.groups.show(id, groups)
      this.panels.invites.show(id, groups, invites)
      this.panels.progress.watch(id, study.stage_order, groups)
      this.panels.familiarize.show(study, groups)
      this.panels.reflect.show(study, groups)
      this.panels.discuss.show(study, groups)
      this.panels.outputs.show(study, groups)
      this.els.article.hidden = false
    } catch (error) {
      if (load !== this.loads) return
      this.shown = undefined
      this.els.article.hidden = true
      this.els.error.textContent = error instanceof ApiError && error.status === 404
        ? 'This study does not exist, or it is not one of yours.'
        : `The study could not be loaded: ${errorMessage(error)}`
      this.els.error.hidden = false
    } finally {
      if (load === this.loads) this.els.loading.hidden = true
    }
  }

  heading (study: Study): void {
    this.els.title.textContent = study.name
    const context = study.deployment_context.name
    this.els.subtitle.textContent = `${context !== '' ? `${context} · ` : ''}created ${formatDateTime(study.created_at)}`
    document.title = `${study.name} · Console · CALMA Studio`
  }

  groupsChanged (groups: Group[]): void {
    this.panels.invites.setGroups(groups)
    this.panels.progress.setGroups(groups)
    this.panels.familiarize.groupsChanged(groups)
    this.panels.reflect.groupsChanged(groups)
    this.panels.discuss.groupsChanged(groups)
    this.panels.outputs.groupsChanged(groups)
  }
}
