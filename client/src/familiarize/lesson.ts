/**
 * The coding lesson: the lesson's pages one at a time, then the worked examples, which set value
 * codes ("assumes a Western kitchen", "safety-conscious") beside labels that only describe the
 * answer's structure ("summary", "list"), with the facilitator's notes. Finishing records that the
 * lesson was read (PUT …/familiarize/lesson).
 */
import { element } from '../dom'
import { chipList } from './chips'
import { Pager, htmlPage } from './pager'
import { panel, type StepContext, type StepPanel } from './panel'
import { familiarizeApi, type FamiliarizeView, type WorkedExample } from './rest'

function workedExample (example: WorkedExample, index: number, total: number): HTMLElement {
  const card = element('article', { class: 'worked-example', 'data-testid': 'worked-example', 'data-example-id': example.id })
  card.append(
    element('p', { class: 'eyebrow' }, `Example ${index + 1} of ${total}`),
    element('p', { class: 'qa-label' }, 'Someone asked'),
    element('p', { class: 'qa-prompt' }, example.prompt),
    element('p', { class: 'qa-label' }, 'The assistant answered'),
    element('blockquote', { class: 'qa-response' }, example.response),
  )
  const contrast = element('div', { class: 'contrast' })
  const values = element('div', { class: 'contrast-col contrast-values' })
  values.append(element('h4', {}, 'Values it shows'), chipList(example.value_codes, 'value', 'value-codes'))
  const structure = element('div', { class: 'contrast-col contrast-structure' })
  structure.append(element('h4', {}, 'Not values: structure'), chipList(example.structural_codes, 'structure', 'structural-codes'))
  contrast.append(values, structure)
  card.append(contrast)
  if (example.notes !== '') card.append(element('p', { class: 'example-notes', 'data-testid': 'example-notes' }, example.notes))
  return card
}

function examplesPage (view: FamiliarizeView): HTMLElement {
  const page = element('div', { class: 'worked-examples', 'data-testid': 'worked-examples' })
  const context = view.training_context !== '' ? ` from a ${view.training_context}` : ''
  page.append(
    element('h2', {}, 'Worked examples'),
    element('p', {}, `Answers${context}, coded. The codes on the left name values: what the answer treats as ` +
      'important, or who it assumes you are. The labels on the right only describe how the answer is built: ' +
      'they are not values, and are not what you are looking for.'),
    ...view.worked_examples.map((e, i) => workedExample(e, i, view.worked_examples.length)),
  )
  return page
}

export class LessonStep implements StepPanel {
  readonly el: HTMLElement
  private readonly pager: Pager
  private view: FamiliarizeView
  private shown = ''

  constructor (ctx: StepContext, view: FamiliarizeView) {
    this.view = view
    this.el = panel('lesson', 'Coding lesson', 'How to note the values you see in an AI assistant\'s answers.')
    this.pager = new Pager({
      name: 'lesson',
      label: 'Coding lesson',
      finishText: 'I have read the lesson',
      onFinish: async () => {
        if (!this.view.progress.lesson_done) ctx.onView(await familiarizeApi.readLesson(ctx.study))
        ctx.next('lesson')
      },
    })
    this.el.append(this.pager.el)
    this.update(view)
  }

  update (view: FamiliarizeView): void {
    this.view = view
    const key = JSON.stringify([view.lesson_pages, view.worked_examples])
    if (key === this.shown) return
    this.shown = key
    const pages: Node[] = view.lesson_pages.map(htmlPage)
    if (view.worked_examples.length > 0) pages.push(examplesPage(view))
    this.pager.setPages(pages)
  }

  opened (): void {
    this.pager.show(0, false)
  }
}
