/**
 * The check: each excerpt with codes to judge — tick the ones that describe a value, leave the
 * ones that only describe structure — sent as one attempt (POST …/familiarize/check). The score
 * says how many judgements were right ("You judged 14 of 16 rightly (88%)") and whether that
 * passes; if not, the items to look at again are highlighted (the server says which items, not
 * which judgements) and Try again keeps the picks. Attempts left are shown when the study limits
 * them; once passed, each item's explanation appears.
 */
import { errorMessage } from '../api'
import { element, whileBusy } from '../dom'
import { panel, type StepContext, type StepPanel } from './panel'
import { familiarizeApi, type CheckItem, type CheckOutcome, type CheckState, type FamiliarizeView } from './rest'

const percent = (share: number): string => `${Math.round(share * 100)}%`

class CheckQuestion {
  readonly el: HTMLElement
  private readonly boxes: HTMLInputElement[] = []
  private readonly revisit: HTMLElement
  private readonly explanation: HTMLElement

  constructor (readonly item: CheckItem, index: number, total: number) {
    this.el = element('fieldset', { class: 'check-item', 'data-testid': 'check-item', 'data-item-id': item.id })
    this.el.append(
      element('legend', {}, `Excerpt ${index + 1} of ${total}`),
      element('blockquote', { class: 'qa-response', 'data-testid': 'check-excerpt' }, item.excerpt),
      element('p', { class: 'check-ask hint' }, 'Tick the codes that describe a value:'),
    )
    const options = element('div', { class: 'check-options' })
    item.options.forEach((code, i) => {
      const id = `check-${item.id}-${i}`
      const box = element('input', { type: 'checkbox', id, value: code, 'data-testid': 'check-option' })
      const label = element('label', { for: id, class: 'check-option' })
      label.append(box, element('span', {}, code))
      this.boxes.push(box)
      options.append(label)
    })
    this.revisit = element('p', { class: 'revisit-note', 'data-testid': 'revisit-note' },
      'Look at this one again: at least one of your judgements here is not right.')
    this.revisit.hidden = true
    this.explanation = element('p', { class: 'explanation', 'data-testid': 'check-explanation' })
    this.explanation.hidden = true
    this.el.append(options, this.revisit, this.explanation)
  }

  get picked (): string[] {
    return this.boxes.filter((b) => b.checked).map((b) => b.value)
  }

  set locked (locked: boolean) {
    for (const box of this.boxes) box.disabled = locked
  }

  markRevisit (revisit: boolean): void {
    this.el.dataset['revisit'] = String(revisit)
    this.revisit.hidden = !revisit
  }

  explain (text: string | null | undefined): void {
    this.explanation.textContent = text ?? ''
    this.explanation.hidden = text === null || text === undefined || text === ''
  }
}

export class CheckStep implements StepPanel {
  readonly el: HTMLElement
  private readonly form: HTMLFormElement
  private readonly questions = new Map<string, CheckQuestion>()
  private readonly rules: HTMLElement
  private readonly submit: HTMLButtonElement
  private readonly error: HTMLElement
  private readonly result: HTMLElement
  private state: CheckState
  private items = ''
  /** Set after a failed attempt, until Try again. */
  private reviewing = false
  private outcome: CheckOutcome | undefined

  constructor (private readonly ctx: StepContext, view: FamiliarizeView) {
    this.state = view.check
    this.el = panel('check', 'Check',
      'A short check of what you practised: for each excerpt, pick the codes that describe values, not structure.')
    this.rules = element('p', { class: 'check-rules', 'data-testid': 'check-rules' })
    this.form = element('form', { class: 'check-form', 'data-testid': 'check-form', novalidate: '' })
    this.submit = element('button', { type: 'submit', 'data-testid': 'check-submit' }, 'Submit my answers')
    this.error = element('p', { class: 'error', role: 'alert', 'data-testid': 'check-error' })
    this.result = element('div', { class: 'check-result', 'data-testid': 'check-result', role: 'status', 'aria-live': 'polite' })
    this.result.hidden = true
    this.el.append(this.rules, this.form, this.result)
    this.form.addEventListener('submit', (event) => {
      event.preventDefault()
      this.send()
    })
    this.update(view)
  }

  update (view: FamiliarizeView): void {
    this.state = view.check
    const ids = view.check.items.map((i) => i.id).join('\n')
    if (ids !== this.items) {
      this.items = ids
      this.questions.clear()
      const questions = view.check.items.map((item, i) => {
        const question = new CheckQuestion(item, i, view.check.items.length)
        this.questions.set(item.id, question)
        return question.el
      })
      const actions = element('div', { class: 'form-actions' })
      actions.append(this.submit)
      this.form.replaceChildren(...questions, actions, this.error)
    }
    for (const item of view.check.items) {
      const question = this.questions.get(item.id)
      if (item.explanation !== null) question?.explain(item.explanation)
    }
    this.render()
  }

  opened (): void {}

  private get outOfAttempts (): boolean {
    return !this.state.passed && this.state.attempts_left === 0
  }

  private send (): void {
    const answers: Record<string, string[]> = {}
    for (const [id, question] of this.questions) answers[id] = question.picked
    this.error.textContent = ''
    whileBusy(this.submit, 'Checking…', async () => await familiarizeApi.takeCheck(this.ctx.study, answers))
      .then(async (outcome) => {
        this.outcome = outcome
        this.state = {
          ...this.state, attempts: outcome.attempts, attempts_left: outcome.attempts_left, passed: outcome.passed,
          best_score: Math.max(outcome.score, this.state.best_score ?? 0),
        }
        const revisit = new Set(outcome.items_to_revisit)
        for (const [id, question] of this.questions) {
          question.markRevisit(!outcome.passed && revisit.has(id))
          if (outcome.passed) question.explain(outcome.explanations[id])
        }
        this.reviewing = !outcome.passed
        this.render()
        this.result.scrollIntoView({ block: 'nearest' })
        // Passing may finish Familiarize and open the next stage: the whole page catches up.
        if (outcome.passed) this.ctx.onView(await familiarizeApi.view(this.ctx.study))
      })
      .catch((e: unknown) => {
        this.error.textContent = errorMessage(e)
        this.render()
      })
  }

  private retry (): void {
    this.reviewing = false
    this.render()
    this.form.querySelector<HTMLInputElement>('input:not(:disabled)')?.focus()
  }

  private render (): void {
    const { pass_mark: mark, max_attempts: max, attempts, attempts_left: left, passed } = this.state
    const limit = max > 0 ? ` You have ${max === 1 ? 'one attempt' : `${max} attempts`}.` : ' You can try as often as you need.'
    this.rules.textContent = `Pass mark: ${percent(mark)} of your judgements right.${limit}`
    const locked = passed || this.reviewing || this.outOfAttempts
    for (const question of this.questions.values()) question.locked = locked
    this.submit.hidden = locked
    this.el.dataset['state'] = passed ? 'passed' : this.outOfAttempts ? 'out-of-attempts' : this.reviewing ? 'review' : 'answering'

    const lines: HTMLElement[] = []
    const outcome = this.outcome
    if (outcome !== undefined) {
      lines.push(element('p', { class: 'check-score', 'data-testid': 'check-score' },
        `You judged ${outcome.right} of ${outcome.total} rightly (${percent(outcome.score)}).`))
    } else if (attempts > 0 && this.state.best_score !== null) {
      lines.push(element('p', { class: 'check-score', 'data-testid': 'check-score' },
        `Your best score so far: ${percent(this.state.best_score)}.`))
    }
    if (passed) {
      lines.push(element('p', { class: 'check-verdict pass', 'data-testid': 'check-verdict' },
        'You passed the check. Read why each code is or is not a value below each excerpt.'))
      const go = element('button', { type: 'button', 'data-testid': 'check-continue' }, 'Continue')
      go.addEventListener('click', () => { this.ctx.next('check') })
      lines.push(go)
    } else if (outcome !== undefined || attempts > 0) {
      lines.push(element('p', { class: 'check-verdict fail', 'data-testid': 'check-verdict' },
        `Not passed yet: you need ${percent(mark)}.` +
        (this.reviewing ? ' The highlighted excerpts have at least one code to judge again.' : '')))
      if (left !== null) {
        lines.push(element('p', { class: 'hint', 'data-testid': 'attempts-left' }, left === 0
          ? 'You have used all your attempts. Ask your facilitator: they can open the next stage for you.'
          : `${left} ${left === 1 ? 'attempt' : 'attempts'} left.`))
      }
      if (this.reviewing && !this.outOfAttempts) {
        const again = element('button', { type: 'button', 'data-testid': 'check-retry' }, 'Try again')
        again.addEventListener('click', () => { this.retry() })
        lines.push(again)
      }
    }
    this.result.replaceChildren(...lines)
    this.result.hidden = lines.length === 0
  }
}
