/**
 * The participant's A/B page, /ab/: the open A/B tests of their group (one picked), a prompt; while
 * both versions write their replies the page says so; then the two replies side by side, labelled only
 * "Left" and "Right" (the server sends nothing more), and per axis a three-way choice (left, about the
 * same, right). Submit needs a choice on every axis; the answer reveals which version wrote which
 * side ("Left was A, Right was B"), and "Try another prompt" starts again.
 */
import '../style.css'
import '../pages.css'
import './ab.css'
import { api, errorMessage, type Me } from '../api'
import { byId, element, whileBusy } from '../dom'
import { abApi, type Choice, type OpenTest, type Trial } from './rest'

type PageState = 'idle' | 'generating' | 'choosing' | 'revealed'

const CHOICES: ReadonlyArray<{ readonly value: Choice, readonly text: string }> = [
  { value: 'left', text: 'Left is better' },
  { value: 'tie', text: 'About the same' },
  { value: 'right', text: 'Right is better' },
]

function notParticipantText (me: Me): string | undefined {
  if (me.role === 'participant' && me.study_id !== null && me.participant_id !== null) return undefined
  if (me.role === 'observer') return 'As an observer you follow your group’s sessions; comparing replies is for participants.'
  return 'You are signed in as a facilitator. Set up A/B tests and read their results in the console’s Outputs section.'
}

class ABPage {
  private readonly root = byId('ab', HTMLElement)
  private readonly picker = byId('test-picker', HTMLFieldSetElement)
  private readonly testList = byId('test-list', HTMLElement)
  private readonly testName = byId('test-name', HTMLElement)
  private readonly noTests = byId('no-tests', HTMLElement)
  private readonly checkTests = byId('check-tests', HTMLButtonElement)
  private readonly testsError = byId('tests-error', HTMLElement)
  private readonly promptCard = byId('prompt-card', HTMLElement)
  private readonly trialForm = byId('trial-form', HTMLFormElement)
  private readonly prompt = byId('trial-prompt', HTMLTextAreaElement)
  private readonly submit = byId('trial-submit', HTMLButtonElement)
  private readonly busy = byId('trial-busy', HTMLElement)
  private readonly trialError = byId('trial-error', HTMLElement)
  private readonly trialCard = byId('trial', HTMLElement)
  private readonly trialPrompt = byId('trial-prompt-text', HTMLElement)
  private readonly left = byId('reply-left', HTMLElement)
  private readonly right = byId('reply-right', HTMLElement)
  private readonly choiceForm = byId('choice-form', HTMLFormElement)
  private readonly choiceAxes = byId('choice-axes', HTMLElement)
  private readonly choiceSubmit = byId('choice-submit', HTMLButtonElement)
  private readonly choiceError = byId('choice-error', HTMLElement)
  private readonly reveal = byId('reveal', HTMLElement)
  private readonly revealText = byId('reveal-text', HTMLElement)
  private readonly another = byId('another-trial', HTMLButtonElement)
  private tests: OpenTest[] = []
  private selected: string | undefined
  private trial: Trial | undefined

  constructor (private readonly study: string) {
    this.checkTests.addEventListener('click', () => {
      void whileBusy(this.checkTests, 'Checking…', async () => { await this.loadTests() })
    })
    this.trialForm.addEventListener('submit', (event) => {
      event.preventDefault()
      void this.runTrial()
    })
    this.prompt.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) this.trialForm.requestSubmit()
    })
    this.choiceForm.addEventListener('submit', (event) => {
      event.preventDefault()
      void this.choose()
    })
    this.another.addEventListener('click', () => {
      this.trial = undefined
      this.trialCard.hidden = true
      this.prompt.value = ''
      this.setState('idle')
      this.prompt.focus()
    })
  }

  async loadTests (): Promise<void> {
    try {
      this.tests = await abApi.tests(this.study)
      this.testsError.textContent = ''
    } catch (error) {
      this.testsError.textContent = `The comparisons could not be loaded: ${errorMessage(error)}`
      return
    }
    if (this.selected === undefined || !this.tests.some((t) => t.id === this.selected)) this.selected = this.tests[0]?.id
    this.renderTests()
  }

  private renderTests (): void {
    const none = this.tests.length === 0
    this.noTests.hidden = !none
    this.promptCard.hidden = none || this.trial !== undefined
    this.picker.hidden = this.tests.length < 2
    this.testList.replaceChildren(...this.tests.map((test) => {
      const label = element('label', { class: 'ab-test-option', 'data-testid': 'ab-test-option', 'data-ab-id': test.id })
      const radio = element('input', { type: 'radio', name: 'ab-test', value: test.id })
      radio.checked = test.id === this.selected
      radio.addEventListener('change', () => {
        if (!radio.checked) return
        this.selected = test.id
        this.renderTests()
      })
      label.append(radio, ` ${test.name}`)
      return label
    }))
    const current = this.tests.find((t) => t.id === this.selected)
    this.testName.textContent = current === undefined ? '' : `${current.name}: judged along ${current.axes.map((a) => a.name).join(', ')}.`
    this.testName.hidden = current === undefined
  }

  private setState (state: PageState): void {
    this.root.dataset['state'] = state
    const generating = state === 'generating'
    this.busy.hidden = !generating
    this.prompt.disabled = generating
    this.submit.disabled = generating
    this.trialForm.setAttribute('aria-busy', String(generating))
    for (const input of this.testList.querySelectorAll('input')) input.disabled = generating || state === 'choosing'
    this.promptCard.hidden = this.tests.length === 0 || state === 'choosing' || state === 'revealed'
  }

  private async runTrial (): Promise<void> {
    const test = this.selected
    const prompt = this.prompt.value.trim()
    if (test === undefined) return
    if (prompt === '') {
      this.trialError.textContent = 'Write a prompt first.'
      this.prompt.focus()
      return
    }
    this.trialError.textContent = ''
    this.setState('generating')
    try {
      const trial = await abApi.trial(this.study, test, prompt)
      this.showTrial(trial)
    } catch (error) {
      this.setState('idle')
      this.trialError.textContent = `No replies: ${errorMessage(error)}`
      void this.loadTests() // the comparison may have been closed meanwhile
    }
  }

  private showTrial (trial: Trial): void {
    this.trial = trial
    this.trialCard.dataset['trialId'] = trial.id
    this.trialPrompt.textContent = trial.prompt
    this.left.textContent = trial.left
    this.right.textContent = trial.right
    for (const arm of this.trialCard.querySelectorAll('[data-testid="reply-arm"]')) arm.remove()
    this.choiceAxes.replaceChildren(...trial.axes.map((axis, index) => {
      const box = element('fieldset', { class: 'ab-choice', 'data-testid': 'choice-axis', 'data-axis-id': axis.id })
      box.append(element('legend', { 'data-testid': 'choice-axis-name' }, axis.name))
      const options = element('div', { class: 'ab-choice-options' })
      for (const choice of CHOICES) {
        const label = element('label', { class: 'ab-choice-option' })
        const radio = element('input', {
          type: 'radio', name: `axis-${index}`, value: choice.value, 'data-testid': 'choice-option', 'data-value': choice.value,
        })
        radio.addEventListener('change', () => { delete box.dataset['missing'] })
        label.append(radio, ` ${choice.text}`)
        options.append(label)
      }
      box.append(options)
      return box
    }))
    this.choiceForm.hidden = false
    this.choiceSubmit.disabled = false
    this.choiceSubmit.hidden = false
    this.choiceError.textContent = ''
    this.reveal.hidden = true
    this.trialCard.hidden = false
    this.setState('choosing')
    this.trialCard.scrollIntoView({ block: 'start' })
  }

  private async choose (): Promise<void> {
    const trial = this.trial
    const test = this.selected
    if (trial === undefined || test === undefined) return
    const choices: Record<string, Choice> = {}
    let missing = 0
    let first: HTMLElement | undefined
    for (const box of this.choiceAxes.querySelectorAll<HTMLFieldSetElement>('[data-testid="choice-axis"]')) {
      const picked = box.querySelector<HTMLInputElement>('input:checked')
      const axis = box.dataset['axisId']
      if (axis === undefined) continue
      if (picked === null) {
        missing++
        box.dataset['missing'] = 'true'
        first ??= box
        continue
      }
      choices[axis] = picked.value as Choice
    }
    if (missing > 0) {
      this.choiceError.textContent = `Choose on every quality: ${missing} still without a choice.`
      first?.querySelector('input')?.focus()
      return
    }
    this.choiceError.textContent = ''
    await whileBusy(this.choiceSubmit, 'Submitting…', async () => {
      try {
        this.showReveal(await abApi.choose(this.study, test, trial.id, choices))
      } catch (error) {
        this.choiceError.textContent = `Your choices were not saved: ${errorMessage(error)}`
      }
    })
  }

  private showReveal (trial: Trial): void {
    this.trial = trial
    const revealed = trial.revealed
    if (revealed === null) return
    for (const input of this.choiceForm.querySelectorAll('input')) input.disabled = true
    this.choiceSubmit.hidden = true
    const name = (arm: 'a' | 'b'): string => arm.toUpperCase()
    this.revealText.textContent = `Left was ${name(revealed.left)}, Right was ${name(revealed.right)}. Thank you: your choices are saved.`
    for (const side of ['left', 'right'] as const) {
      const label = this.trialCard.querySelector(`[data-side="${side}"] [data-testid="reply-label"]`)
      label?.append(element('span', { class: 'muted ab-arm', 'data-testid': 'reply-arm' }, ` (${name(revealed[side])})`))
    }
    this.reveal.hidden = false
    this.root.dataset['state'] = 'revealed'
    this.another.focus()
  }
}

async function main (): Promise<void> {
  const loading = byId('page-loading', HTMLElement)
  const pageError = byId('page-error', HTMLElement)
  try {
    const { me } = await api.sessionState()
    loading.hidden = true
    if (me === null) {
      byId('signed-out', HTMLElement).hidden = false
      return
    }
    const refusal = notParticipantText(me)
    if (refusal !== undefined || me.study_id === null) {
      byId('not-participant-text', HTMLElement).textContent = refusal ?? ''
      byId('not-participant', HTMLElement).hidden = false
      return
    }
    const page = new ABPage(me.study_id)
    await page.loadTests()
    byId('ab', HTMLElement).hidden = false
  } catch (error) {
    loading.hidden = true
    pageError.textContent = `The page could not start: ${errorMessage(error)}`
    pageError.hidden = false
  }
}

void main()
