/**
 * Orientation: the study's pages about its deployment context, one at a time. Each Next records
 * how many pages the participant has read (PUT …/familiarize/orientation), so a reload resumes at
 * the first page not read; the last page's button finishes the step.
 */
import { Pager, htmlPage } from './pager'
import { panel, type StepContext, type StepPanel } from './panel'
import { familiarizeApi, type FamiliarizeView } from './rest'

export class OrientationStep implements StepPanel {
  readonly el: HTMLElement
  private readonly pager: Pager
  private view: FamiliarizeView
  private shownPages = ''

  constructor (ctx: StepContext, view: FamiliarizeView) {
    this.view = view
    this.el = panel('orientation', 'Orientation', 'The setting this study is about: read each page, then go on.')
    const record = async (pagesSeen: number): Promise<void> => {
      const progress = this.view.progress
      const finishes = pagesSeen >= this.view.orientation_pages.length
      if (pagesSeen <= progress.orientation_pages_seen && (progress.orientation_done || !finishes)) return
      ctx.onView(await familiarizeApi.sawOrientation(ctx.study, pagesSeen))
    }
    this.pager = new Pager({
      name: 'orientation',
      label: 'Orientation',
      finishText: 'Continue',
      onNext: async (from) => { await record(from + 1) },
      onFinish: async () => {
        await record(this.view.orientation_pages.length)
        ctx.next('orientation')
      },
    })
    this.el.append(this.pager.el)
    this.update(view)
  }

  update (view: FamiliarizeView): void {
    this.view = view
    const key = JSON.stringify(view.orientation_pages)
    if (key === this.shownPages) return
    this.shownPages = key
    this.pager.setPages(view.orientation_pages.map(htmlPage))
  }

  opened (view: FamiliarizeView): void {
    const { orientation_done: done, orientation_pages_seen: seen } = view.progress
    // Pick up at the first page not read yet; from the start once all were read.
    this.pager.show(done ? 0 : Math.min(seen, view.orientation_pages.length - 1), false)
  }
}
