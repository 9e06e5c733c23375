/**
 * Reflect in the console's study view, one section: everyone's coding progress (with their
 * exports), the two settings (release the groups' codes; the shared sample) and each group's codes
 * (a preview until they are released). It loads with the study, again on Refresh, after a setting
 * changes and a moment after the live progress says someone joined or moved. Coding itself is not
 * pushed to the console: Refresh reads it again.
 */
import { errorMessage, type Group, type Study } from '../api'
import { element, whileBusy } from '../dom'
import type { ServerFrame } from '../generated/control'
import { GroupCodesPanel } from './groupCodes'
import { reflectConsoleApi, type GroupCodes, type ReflectParticipantProgress, type ReflectSettings, type ReflectSettingsPatch } from './reflectApi'
import { ReflectProgressTable } from './reflectProgress'
import { ReflectSettingsPanel } from './reflectSettings'
import './reflect.css'

const LIVE_REFRESH_DELAY_MS = 400

interface Loaded {
  readonly progress: readonly ReflectParticipantProgress[]
  readonly settings: ReflectSettings
  readonly codes: ReadonlyMap<string, GroupCodes>
  readonly codeErrors: ReadonlyMap<string, string>
}

export class ReflectArea {
  readonly section: HTMLElement
  private readonly table = new ReflectProgressTable()
  private readonly settings: ReflectSettingsPanel
  private readonly groupCodes = new GroupCodesPanel()
  private readonly refreshButton = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'refresh-reflect' }, 'Refresh')
  private readonly refreshed = element('p', { class: 'muted small-text refreshed', 'data-testid': 'reflect-refreshed', role: 'status', 'aria-live': 'polite' })
  private readonly error = element('p', { class: 'error', role: 'alert', 'data-testid': 'reflect-error' })
  private study: string | undefined
  private groups: readonly Group[] = []
  private latest: Loaded | undefined
  private loads = 0
  private timer: number | undefined

  constructor () {
    this.section = element('section', { id: 'reflect-section', class: 'card', 'data-testid': 'reflect-section', 'aria-labelledby': 'reflect-title' })
    const head = element('div', { class: 'section-head' })
    const tools = element('div', { class: 'section-tools' })
    tools.append(this.refreshed, this.refreshButton)
    head.append(element('h3', { id: 'reflect-title' }, 'Reflect'), tools)
    this.settings = new ReflectSettingsPanel(async (patch) => await this.save(patch))
    this.section.append(
      head,
      element('p', { class: 'hint' },
        'Each participant codes the baseline responses and the model’s replies in their own conversations. ' +
        '“Responses” counts those replies (and, with the shared sample, replies others shared). Codes and ' +
        'clusters are their own until you release the group’s codes.'),
      this.table.el,
      this.error,
      element('h4', { class: 'rc-subhead' }, 'Settings'),
      this.settings.el,
      element('h4', { class: 'rc-subhead' }, 'Group codes'),
      element('p', { class: 'hint' }, 'Per group, the codes its participants used, most used first: how often, by how many people, and each code’s share of all the group’s uses.'),
      this.groupCodes.el,
    )
    this.refreshButton.addEventListener('click', () => { void this.refresh(true) })
  }

  /** Put the section in the study view after `after`, with a link in the study's `nav`. */
  mount (after: Element, nav: Element | null): void {
    after.after(this.section)
    if (nav === null) return
    const link = element('a', { href: '#reflect-section' }, 'Reflect')
    nav.insertBefore(link, nav.querySelector('a[href="#context-section"]'))
  }

  show (study: Study, groups: readonly Group[]): void {
    this.study = study.id
    this.groups = groups
    this.latest = undefined
    window.clearTimeout(this.timer)
    this.table.clear()
    this.settings.clear()
    this.groupCodes.clear()
    this.refreshed.textContent = ''
    this.error.textContent = ''
    void this.refresh(false)
  }

  groupsChanged (groups: readonly Group[]): void {
    this.groups = groups
    void this.refresh(false) // a new group has codes (none yet) to show
  }

  /** A live progress frame about the study on show: read again in a moment (once for a burst). */
  progressFrame (frame: ServerFrame): void {
    if ((frame.type !== 'progress.update' && frame.type !== 'progress.state') || frame.study !== this.study) return
    window.clearTimeout(this.timer)
    this.timer = window.setTimeout(() => { void this.refresh(false) }, LIVE_REFRESH_DELAY_MS)
  }

  private async load (study: string, groups: readonly Group[]): Promise<Loaded> {
    const codes = new Map<string, GroupCodes>()
    const codeErrors = new Map<string, string>()
    const [progress, settings] = await Promise.all([
      reflectConsoleApi.progress(study),
      reflectConsoleApi.settings(study),
      Promise.all(groups.map(async (group) => {
        try {
          codes.set(group.id, await reflectConsoleApi.groupCodes(study, group.id))
        } catch (error) {
          codeErrors.set(group.id, `The codes could not be loaded: ${errorMessage(error)}`)
        }
      })),
    ])
    return { progress, settings, codes, codeErrors }
  }

  private async refresh (byButton: boolean): Promise<void> {
    const study = this.study
    if (study === undefined) return
    const load = ++this.loads
    const groups = this.groups
    try {
      const loaded = byButton
        ? await whileBusy(this.refreshButton, 'Refreshing…', async () => await this.load(study, groups))
        : await this.load(study, groups)
      if (load !== this.loads || study !== this.study) return
      this.latest = loaded
      this.error.textContent = ''
      this.render(groups)
    } catch (error) {
      if (load !== this.loads || study !== this.study) return
      this.error.textContent = `Reflect could not be loaded: ${errorMessage(error)}`
    }
  }

  private render (groups: readonly Group[]): void {
    const study = this.study
    const latest = this.latest
    if (study === undefined || latest === undefined) return
    this.table.render(study, latest.progress, groups)
    this.settings.render(latest.settings)
    this.groupCodes.render(groups, latest.codes, latest.codeErrors)
    this.refreshed.textContent = `Updated ${new Date().toLocaleTimeString(undefined, { timeStyle: 'short' })}`
  }

  private async save (patch: ReflectSettingsPatch): Promise<ReflectSettings | undefined> {
    const study = this.study
    if (study === undefined) throw new Error('no study is shown')
    const settings = await reflectConsoleApi.setSettings(study, patch)
    if (study !== this.study) return undefined
    await this.refresh(false) // the group codes say whether they are released; the sample changes who codes what
    return settings
  }
}
