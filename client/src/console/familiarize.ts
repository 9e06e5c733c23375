/**
 * Familiarize in the console's study view: stage access for groups, everyone's results (with
 * stage access per person) and the editor. Results and overrides load with the study, again on
 * Refresh, after every change of access, and a moment after the live progress says someone
 * joined or moved.
 */
import type { Group, Study } from '../api'
import { whileBusy } from '../dom'
import type { ServerFrame, Stage } from '../generated/control'
import { STAGES } from '../stages'
import { editable, familiarizeApi, type FamiliarizeResults, type OverrideState, type OverrideTarget } from './familiarizeApi'
import { FamiliarizeEditor } from './familiarizeEditor'
import { ResultsPanel } from './familiarizeResults'
import { Overrides } from './gates'
import { StageAccessPanel } from './stageAccess'
import './familiarize.css'

const LIVE_REFRESH_DELAY_MS = 400
const LIVE_REFRESH_PATIENCE = 10 // delays of LIVE_REFRESH_DELAY_MS

export class FamiliarizeArea {
  readonly editor = new FamiliarizeEditor()
  readonly access: StageAccessPanel
  readonly results: ResultsPanel
  private study: string | undefined
  private order: readonly Stage[] = STAGES
  private groups: readonly Group[] = []
  private readonly overrides = new Overrides()
  private latest: FamiliarizeResults | undefined
  private loads = 0
  private timer: number | undefined

  constructor () {
    const set = async (target: OverrideTarget, stage: Stage, state: OverrideState): Promise<void> => {
      await this.set(target, stage, state)
    }
    this.access = new StageAccessPanel(set)
    this.results = new ResultsPanel(set)
    this.results.refreshButton.addEventListener('click', () => { void this.refresh(true) })
  }

  /** Put the sections in the study view after `after`, with links in the study's `nav`. */
  mount (after: Element, nav: Element | null): void {
    after.after(this.access.section, this.results.section, this.editor.section)
    if (nav === null) return
    const links = [['access-section', 'Stage access'], ['results-section', 'Familiarize results'], ['familiarize-section', 'Familiarize']]
    const before = nav.querySelector('a[href="#context-section"]')
    for (const [id, text] of links) {
      const link = document.createElement('a')
      link.href = `#${id ?? ''}`
      link.textContent = text ?? ''
      nav.insertBefore(link, before)
    }
  }

  show (study: Study, groups: readonly Group[]): void {
    this.study = study.id
    this.order = study.stage_order
    this.groups = groups
    this.latest = undefined
    this.overrides.set([])
    try {
      this.editor.show(editable(study))
    } catch (error) {
      this.editor.unavailable(error)
    }
    this.access.clear()
    this.results.clear()
    this.render()
    void this.refresh(false)
  }

  groupsChanged (groups: readonly Group[]): void {
    this.groups = groups
    this.render()
  }

  /** A live progress frame: when it is about the study on show, the results follow shortly. */
  progressFrame (frame: ServerFrame): void {
    if ((frame.type !== 'progress.update' && frame.type !== 'progress.state') || frame.study !== this.study) return
    this.refreshSoon()
  }

  /**
   * Refresh in a moment (once for a burst of frames); while the facilitator may be choosing in one
   * of the selects it waits a little longer (a re-render would close an open select), but not forever.
   */
  private refreshSoon (waited = 0): void {
    window.clearTimeout(this.timer)
    this.timer = window.setTimeout(() => {
      const active = document.activeElement
      const choosing = active instanceof HTMLSelectElement && !active.disabled &&
        (this.results.section.contains(active) || this.access.section.contains(active))
      if (choosing && waited < LIVE_REFRESH_PATIENCE) this.refreshSoon(waited + 1)
      else void this.refresh(false)
    }, LIVE_REFRESH_DELAY_MS)
  }

  private render (): void {
    this.access.render(this.groups, this.order, this.overrides)
    if (this.latest !== undefined) this.results.render(this.latest, this.groups, this.order, this.overrides)
  }

  private async refresh (byButton: boolean): Promise<void> {
    const study = this.study
    if (study === undefined) return
    const load = ++this.loads
    const fetchBoth = async (): Promise<[FamiliarizeResults, Awaited<ReturnType<typeof familiarizeApi.overrides>>]> =>
      await Promise.all([familiarizeApi.results(study), familiarizeApi.overrides(study)])
    try {
      const [results, overrides] = byButton ? await whileBusy(this.results.refreshButton, 'Refreshing…', fetchBoth) : await fetchBoth()
      if (load !== this.loads || study !== this.study) return
      this.latest = results
      this.overrides.set(overrides)
      this.render()
    } catch (error) {
      if (load === this.loads && study === this.study) this.results.failed(error)
    }
  }

  private async set (target: OverrideTarget, stage: Stage, state: OverrideState): Promise<void> {
    const study = this.study
    if (study === undefined) throw new Error('no study is shown')
    const overrides = await familiarizeApi.setOverride(study, target, stage, state)
    if (study !== this.study) return
    this.overrides.set(overrides)
    await this.refresh(false) // who has which stage open changed
  }
}
