/**
 * The Familiarize editor: the orientation and the coding lesson (Markdown, `---` between blank
 * lines starts a page), the worked examples, the practice round and the check with its pass mark
 * and attempts. Saved in one PATCH (the server validates it whole: a problem saves nothing and
 * comes back per field, shown under that field). "Save and preview" then shows the pages as
 * participants get them (GET …/familiarize, HTML the server sanitized).
 */
import { errorMessage } from '../api'
import { element, whileBusy } from '../dom'
import { familiarizeApi, fieldProblems, type EditableStudy, type FamiliarizePatch, type FamiliarizePreview } from './familiarizeApi'
import { ItemList } from './familiarizeItems'
import { FieldSlots, numberInput, textArea } from './formFields'

const PAGE_HINT = 'Markdown. A line holding only --- with a blank line before and after it starts a new page.'

function percent (share: number): string {
  return String(Math.round(share * 1000) / 10)
}

function timeNow (): string {
  return new Date().toLocaleTimeString(undefined, { timeStyle: 'short' })
}

function part (title: string, testid: string, open: boolean): { details: HTMLDetailsElement, summary: HTMLElement, body: HTMLElement } {
  const details = element('details', { class: 'edit-part', 'data-testid': testid })
  details.open = open
  const summary = element('summary', {}, title)
  const body = element('div', { class: 'edit-part-body' })
  details.append(summary, body)
  return { details, summary, body }
}

export class FamiliarizeEditor {
  readonly section: HTMLElement
  private study: EditableStudy | undefined
  private readonly slots = new FieldSlots()
  private readonly orientation = textArea('Orientation', { value: '', testid: 'orientation-markdown', hint: PAGE_HINT, rows: 8, maxLength: 100_000 })
  private readonly lesson = textArea('Coding lesson', { value: '', testid: 'lesson-markdown', hint: PAGE_HINT, rows: 12, maxLength: 100_000 })
  private readonly passMark = numberInput('Pass mark (%)', {
    value: '', testid: 'pass-mark', min: 0, max: 100, step: 'any',
    hint: 'The share of the check’s options a participant must judge rightly to pass and open Interact.',
  })

  private readonly maxAttempts = numberInput('Attempts allowed', {
    value: '', testid: 'max-attempts', min: 0, max: 100, step: '1', hint: '0: unlimited.',
  })

  private readonly examples: ItemList<'example'>
  private readonly practice: ItemList<'practice'>
  private readonly check: ItemList<'check'>
  private readonly trainingName = element('strong', { 'data-testid': 'training-context-name' })
  private readonly counts = { examples: element('span'), practice: element('span'), check: element('span') }
  private readonly saveButton = element('button', { type: 'submit', 'data-testid': 'save-familiarize' }, 'Save')
  private readonly previewButton = element('button', { type: 'button', class: 'secondary', 'data-testid': 'preview-familiarize' }, 'Save and preview')
  private readonly discardButton = element('button', { type: 'button', class: 'secondary', 'data-testid': 'discard-familiarize' }, 'Discard changes')
  private readonly status = element('p', { class: 'saved', role: 'status', 'aria-live': 'polite', 'data-testid': 'familiarize-status' })
  private readonly error = element('p', { class: 'error', role: 'alert', 'data-testid': 'familiarize-error' })
  private readonly preview = element('div', { class: 'fam-preview', 'data-testid': 'familiarize-preview' })

  constructor () {
    const changed = (): void => { this.changed() }
    this.examples = new ItemList('example', changed)
    this.practice = new ItemList('practice', changed)
    this.check = new ItemList('check', changed)

    this.section = element('section', { id: 'familiarize-section', class: 'card', 'data-testid': 'familiarize-section', 'aria-labelledby': 'familiarize-title' })
    const head = element('div', { class: 'section-head' })
    head.append(element('h3', { id: 'familiarize-title' }, 'Familiarize: orientation, lesson, practice and check'))
    const warning = element('p', { class: 'notice warn', 'data-testid': 'familiarize-warning' },
      'You can edit all of this during a study: participants keep their progress. Their answers are kept by ' +
      'item id (a removed item’s answer comes back if you restore the item), a read lesson stays read, and a ' +
      'passed check stays passed even if you change the check or the pass mark.')

    const form = element('form', { class: 'form fam-form', 'data-testid': 'familiarize-form', novalidate: '' })
    form.addEventListener('submit', (event) => {
      event.preventDefault()
      this.save(false)
    })
    form.addEventListener('input', changed)
    form.addEventListener('change', changed)

    const pages = part('Orientation and lesson', 'edit-pages', true)
    pages.body.append(this.orientation.wrap, this.lesson.wrap)

    const examples = part('Worked examples', 'edit-examples', false)
    examples.summary.append(' ', this.counts.examples)
    const trainingNote = element('p', { class: 'hint' })
    trainingNote.append('From the training context ', this.trainingName,
      ' (unrelated to the study, so that training does not prime participants). Each contrasts value codes with structural ones.')
    examples.body.append(trainingNote, this.examples.el)

    const practice = part('Practice round', 'edit-practice', false)
    practice.summary.append(' ', this.counts.practice)
    practice.body.append(element('p', { class: 'hint' },
      'Participants code each response in their own words, then see your example codes and explanation.'), this.practice.el)

    const check = part('Check', 'edit-check', false)
    check.summary.append(' ', this.counts.check)
    const limits = element('div', { class: 'two-fields' })
    limits.append(this.passMark.wrap, this.maxAttempts.wrap)
    check.body.append(element('p', { class: 'hint' },
      'Participants pick the options of each excerpt that describe values. Tick “describes a value” for those; ' +
      'leave structural descriptions (summary, list, conclusion…) unticked. Each item needs at least two options.'),
    limits, this.check.el)

    const actions = element('div', { class: 'form-actions' })
    this.previewButton.addEventListener('click', () => { this.save(true) })
    this.discardButton.addEventListener('click', () => {
      if (this.study !== undefined) this.show(this.study)
    })
    actions.append(this.saveButton, this.previewButton, this.discardButton, this.status)
    form.append(pages.details, examples.details, practice.details, check.details, actions, this.error)
    this.preview.hidden = true
    this.section.append(head, warning, form, this.preview)
  }

  /** Show `study`'s Familiarize as saved, dropping unsaved edits and any preview of another study. */
  show (study: EditableStudy): void {
    if (this.study?.id !== study.id) {
      this.preview.hidden = true
      this.preview.replaceChildren()
    }
    this.study = study
    const content = study.familiarize
    this.slots.clear()
    this.error.textContent = ''
    this.status.textContent = ''
    this.orientation.control.value = study.orientation
    this.lesson.control.value = content.lesson
    this.passMark.control.value = percent(content.pass_mark)
    this.maxAttempts.control.value = String(content.max_attempts)
    this.trainingName.textContent = study.training_context.name
    this.examples.show(study.training_context.examples)
    this.practice.show(content.practice)
    this.check.show(content.check)
    this.counts.examples.textContent = `(${study.training_context.examples.length})`
    this.counts.practice.textContent = `(${content.practice.length})`
    this.counts.check.textContent = `(${content.check.length}, pass mark ${percent(content.pass_mark)}%)`
  }

  /** The study's Familiarize could not be shown (the server did not send it): say so instead of a form. */
  unavailable (error: unknown): void {
    this.study = undefined
    this.preview.hidden = true
    this.error.textContent = `Familiarize cannot be edited here: ${errorMessage(error)}`
  }

  private changed (): void {
    this.status.textContent = 'Unsaved changes'
  }

  /** The patch, with every field's problem slot registered; undefined (and messages shown) when a number is missing. */
  private collect (): FamiliarizePatch | undefined {
    const slots = this.slots
    slots.add('orientation', this.orientation.error, this.orientation.control)
    slots.add('familiarize.lesson', this.lesson.error, this.lesson.control)
    slots.add('familiarize.pass_mark', this.passMark.error, this.passMark.control)
    slots.add('familiarize.max_attempts', this.maxAttempts.error, this.maxAttempts.control)
    const examples = this.examples.collect('training_context.examples', slots)
    const practice = this.practice.collect('familiarize.practice', slots)
    const check = this.check.collect('familiarize.check', slots)
    const mark = this.passMark.control.valueAsNumber
    const attempts = this.maxAttempts.control.valueAsNumber
    const missing = []
    if (Number.isNaN(mark)) missing.push({ field: 'familiarize.pass_mark', message: 'Enter the pass mark as a percentage', code: 'missing' })
    if (Number.isNaN(attempts)) missing.push({ field: 'familiarize.max_attempts', message: 'Enter a whole number (0 for unlimited)', code: 'missing' })
    if (missing.length > 0) {
      slots.show(missing)
      return undefined
    }
    return {
      orientation: this.orientation.control.value,
      training_context: { examples },
      familiarize: { lesson: this.lesson.control.value, practice, check, pass_mark: mark / 100, max_attempts: attempts },
    }
  }

  private save (andPreview: boolean): void {
    const study = this.study
    if (study === undefined) return
    this.slots.clear()
    this.error.textContent = ''
    const patch = this.collect()
    if (patch === undefined) {
      this.error.textContent = 'Not saved: fix the fields marked below.'
      return
    }
    const button = andPreview ? this.previewButton : this.saveButton
    whileBusy(button, 'Saving…', async () => {
      const saved = await familiarizeApi.save(study.id, patch)
      return { saved, preview: andPreview ? await familiarizeApi.preview(study.id) : undefined }
    }).then(({ saved, preview }) => {
      if (this.study?.id !== saved.id) return
      this.show(saved)
      this.status.textContent = `Saved at ${timeNow()}`
      if (preview !== undefined) this.showPreview(preview)
    }).catch((error: unknown) => {
      if (this.study?.id !== study.id) return
      const problems = fieldProblems(error)
      if (problems.length === 0) {
        this.error.textContent = `Not saved: ${errorMessage(error)}`
        return
      }
      const unplaced = this.slots.show(problems)
      this.error.textContent = unplaced.length === 0
        ? 'Not saved: fix the fields marked below.'
        : `Not saved: ${unplaced.map((p) => `${p.field}: ${p.message}`).join('; ')}.`
    })
  }

  private showPreview (view: FamiliarizePreview): void {
    const head = element('div', { class: 'section-head' })
    const close = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'close-preview' }, 'Close preview')
    close.addEventListener('click', () => {
      this.preview.hidden = true
      this.preview.replaceChildren()
    })
    head.append(element('h4', {}, `Preview: what participants see (as saved at ${timeNow()})`), close)
    const check = view.check
    const summary = element('p', { class: 'muted', 'data-testid': 'preview-summary' },
      `${view.orientation_pages.length} orientation ${view.orientation_pages.length === 1 ? 'page' : 'pages'} · ` +
      `${view.lesson_pages.length} lesson ${view.lesson_pages.length === 1 ? 'page' : 'pages'} · ` +
      `${view.worked_examples.length} worked examples (${view.training_context}) · ${view.practice.length} practice items · ` +
      `${check.items.length} check items, pass mark ${percent(check.pass_mark)}%, ` +
      `${check.max_attempts === 0 ? 'unlimited attempts' : `${check.max_attempts} attempts`}`)
    this.preview.replaceChildren(head, summary,
      this.pages('Orientation', 'orientation', view.orientation_pages),
      this.pages('Lesson', 'lesson', view.lesson_pages))
    this.preview.hidden = false
    this.preview.scrollIntoView({ block: 'start', behavior: 'smooth' })
  }

  private pages (title: string, partName: string, pages: readonly string[]): HTMLElement {
    const list = element('ol', { class: 'preview-pages', 'data-testid': `preview-${partName}` })
    pages.forEach((html, i) => {
      const page = element('li', { class: 'preview-page', 'data-testid': 'preview-page', 'data-part': partName, 'data-page': String(i + 1) })
      const body = element('div', { class: 'preview-page-body' })
      body.innerHTML = html // sanitized by the server (calma/familiarize/markdown.py)
      page.append(element('p', { class: 'page-label' }, `${title} · page ${i + 1} of ${pages.length}`), body)
      list.append(page)
    })
    if (pages.length === 0) list.append(element('li', { class: 'empty' }, `No ${title.toLowerCase()}: participants skip it.`))
    return list
  }
}
