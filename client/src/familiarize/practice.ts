/**
 * The practice round: for each answer the participant writes their own codes first (as chips) and
 * submits them (PUT …/familiarize/practice/{item}); only then does the server send the
 * facilitator's example codes and explanation, shown beside theirs. An answered item stays
 * revealed (the server keeps the first answer: a second one would be primed).
 */
import { errorMessage } from '../api'
import { element, whileBusy } from '../dom'
import { ChipInput, chipList } from './chips'
import { panel, type StepContext, type StepPanel } from './panel'
import { familiarizeApi, type FamiliarizeView, type PracticeItem } from './rest'

class PracticeCard {
  readonly el: HTMLElement
  private readonly answer: HTMLElement
  private revealed = false
  private input: ChipInput | undefined

  constructor (private readonly ctx: StepContext, item: PracticeItem, index: number, total: number) {
    this.el = element('article', { class: 'practice-item', 'data-testid': 'practice-item', 'data-item-id': item.id })
    this.el.append(
      element('p', { class: 'eyebrow' }, `Answer ${index + 1} of ${total}`),
      element('p', { class: 'qa-label' }, 'Someone asked'),
      element('p', { class: 'qa-prompt' }, item.prompt),
      element('p', { class: 'qa-label' }, 'The assistant answered'),
      element('blockquote', { class: 'qa-response', 'data-testid': 'practice-response' }, item.response),
    )
    this.answer = element('div', { class: 'practice-answer' })
    this.el.append(this.answer)
    this.update(item)
  }

  update (item: PracticeItem): void {
    const answered = item.my_codes !== null
    this.el.dataset['answered'] = String(answered)
    if (answered && !this.revealed) this.reveal(item)
    else if (!answered && this.input === undefined) this.ask(item)
  }

  private ask (item: PracticeItem): void {
    const submit = element('button', { type: 'button', 'data-testid': 'practice-submit' }, 'Submit my codes')
    const error = element('p', { class: 'error', role: 'alert', 'data-testid': 'practice-error' })
    const input = new ChipInput('Your codes: which values does this answer show?', () => {
      submit.disabled = !input.ready
      error.textContent = ''
    })
    this.input = input
    submit.disabled = true
    submit.addEventListener('click', () => {
      const codes = input.value()
      if (codes.length === 0) {
        error.textContent = 'Write at least one code first.'
        return
      }
      error.textContent = ''
      input.disabled = true
      whileBusy(submit, 'Submitting…', async () => {
        this.ctx.onView(await familiarizeApi.codePractice(this.ctx.study, item.id, codes))
      }).catch((e: unknown) => {
        input.disabled = false
        error.textContent = errorMessage(e)
      })
    })
    const actions = element('div', { class: 'form-actions' })
    actions.append(submit, element('span', { class: 'hint' }, 'You see the facilitator\'s example codes once you submit yours.'))
    this.answer.replaceChildren(input.el, actions, error)
  }

  private reveal (item: PracticeItem): void {
    this.revealed = true
    this.input = undefined
    const compare = element('div', { class: 'compare', 'data-testid': 'practice-compare' })
    const mine = element('div', { class: 'compare-col' })
    mine.append(element('h4', {}, 'Your codes'), chipList(item.my_codes ?? [], 'mine', 'my-codes'))
    const example = element('div', { class: 'compare-col' })
    example.append(element('h4', {}, 'The facilitator\'s example codes'), chipList(item.example_codes ?? [], 'example', 'example-codes'))
    compare.append(mine, example)
    this.answer.replaceChildren(compare)
    if (item.explanation !== null && item.explanation !== '') {
      this.answer.append(element('p', { class: 'explanation', 'data-testid': 'practice-explanation' }, item.explanation))
    }
    this.answer.append(element('p', { class: 'hint' },
      'There is no single right answer: compare, and notice where you wrote about values and where about structure.'))
  }
}

export class PracticeStep implements StepPanel {
  readonly el: HTMLElement
  private readonly list: HTMLElement
  private readonly cards = new Map<string, PracticeCard>()
  private readonly footer: HTMLElement
  private readonly next: HTMLButtonElement
  private readonly left: HTMLElement
  private items = ''

  constructor (private readonly ctx: StepContext, view: FamiliarizeView) {
    this.el = panel('practice', 'Practice',
      `Code these answers from a ${view.training_context !== '' ? view.training_context : 'different setting'} ` +
      'yourself: note the values each one shows, in your own words, then compare with the facilitator\'s codes.')
    this.list = element('div', { class: 'practice-list' })
    this.next = element('button', { type: 'button', 'data-testid': 'practice-continue' }, 'Continue to the check')
    this.next.addEventListener('click', () => { this.ctx.next('practice') })
    this.left = element('p', { class: 'hint', 'data-testid': 'practice-left' })
    this.footer = element('div', { class: 'form-actions step-footer' })
    this.footer.append(this.next, this.left)
    this.el.append(this.list, this.footer)
    this.update(view)
  }

  update (view: FamiliarizeView): void {
    const ids = view.practice.map((p) => p.id).join('\n')
    if (ids !== this.items) {
      this.items = ids
      this.cards.clear()
      this.list.replaceChildren(...view.practice.map((item, i) => {
        const card = new PracticeCard(this.ctx, item, i, view.practice.length)
        this.cards.set(item.id, card)
        return card.el
      }))
    } else {
      for (const item of view.practice) this.cards.get(item.id)?.update(item)
    }
    const left = view.practice.filter((p) => p.my_codes === null).length
    this.next.disabled = left > 0
    this.next.textContent = view.check.items.length > 0 ? 'Continue to the check' : 'Continue'
    this.left.textContent = left === 0 ? '' : `${left} of ${view.practice.length} still to code.`
  }

  opened (): void {}
}
