/**
 * The Familiarize page, /familiarize/: stage 1 of a CALMA study. The participant reads the
 * orientation (the deployment context), learns grounded-theory coding on an unrelated training
 * context (the lesson and worked examples), practises (their codes first, then the facilitator's),
 * and takes a short check; done, they go on to Interact. The steps are listed at the top with the
 * overall progress; after a reload the page resumes where the server's progress says they are.
 * When Familiarize is closed for them (stage gating), the page says so.
 *
 * Only the orientation and lesson pages — HTML the server sanitized — are inserted as HTML
 * (pager.ts `htmlPage`); everything else is text.
 */
import '../style.css'
import '../pages.css'
import { api, errorMessage, type Me } from '../api'
import { byId } from '../dom'
import { stageReasonText } from '../stages'
import { CheckStep } from './check'
import { DoneStep } from './done'
import { LessonStep } from './lesson'
import { OrientationStep } from './orientation'
import type { StepContext, StepPanel } from './panel'
import { PracticeStep } from './practice'
import { familiarizeApi, type FamiliarizeView } from './rest'
import { StepNav, reachable, resumeStep, stepTitle, stepsOf, type StepId } from './steps'

interface PageElements {
  readonly loading: HTMLElement
  readonly pageError: HTMLElement
  readonly signedOut: HTMLElement
  readonly notParticipant: HTMLElement
  readonly notParticipantText: HTMLElement
  readonly closed: HTMLElement
  readonly closedText: HTMLElement
  readonly page: HTMLElement
  readonly nav: HTMLElement
  readonly panels: HTMLElement
  readonly trainingNote: HTMLElement
}

function pageElements (): PageElements {
  return {
    loading: byId('page-loading', HTMLElement),
    pageError: byId('page-error', HTMLElement),
    signedOut: byId('signed-out', HTMLElement),
    notParticipant: byId('not-participant', HTMLElement),
    notParticipantText: byId('not-participant-text', HTMLElement),
    closed: byId('familiarize-closed', HTMLElement),
    closedText: byId('familiarize-closed-text', HTMLElement),
    page: byId('familiarize', HTMLElement),
    nav: byId('step-nav', HTMLElement),
    panels: byId('step-panels', HTMLElement),
    trainingNote: byId('training-note', HTMLElement),
  }
}

/** Who may not take part here, and what to do instead; undefined for a participant. */
function notParticipantText (me: Me): string | undefined {
  if (me.role === 'participant' && me.study_id !== null && me.participant_id !== null) return undefined
  if (me.role === 'observer') {
    return 'As an observer you follow your group\'s live Discuss session; Familiarize is for participants.'
  }
  return 'You are signed in as a facilitator. You edit Familiarize in the study, in the console.'
}

/** The steps, the one on show, and the server's view they are drawn from. */
class FamiliarizePage {
  private view: FamiliarizeView
  private step: StepId
  private readonly nav: StepNav
  private readonly panels: Map<StepId, StepPanel>

  constructor (private readonly els: PageElements, study: string, participant: string, view: FamiliarizeView) {
    this.view = view
    const ctx: StepContext = {
      study,
      onView: (next) => { this.update(next) },
      next: (from) => { this.next(from) },
    }
    this.nav = new StepNav((step) => { this.show(step, true) })
    els.nav.replaceChildren(this.nav.el)
    this.panels = new Map<StepId, StepPanel>([
      ['orientation', new OrientationStep(ctx, view)],
      ['lesson', new LessonStep(ctx, view)],
      ['practice', new PracticeStep(ctx, view)],
      ['check', new CheckStep(ctx, view)],
      ['done', new DoneStep(study, participant, view)],
    ])
    els.panels.replaceChildren(...[...this.panels.values()].map((p) => p.el))
    this.step = resumeStep(stepsOf(view))
    this.show(this.step, false)
  }

  /** The server's latest view: every step catches up, and the list of steps with it. */
  update (view: FamiliarizeView): void {
    this.view = view
    for (const panel of this.panels.values()) panel.update(view)
    this.render()
  }

  show (step: StepId, focus: boolean): void {
    const steps = stepsOf(this.view)
    const target = steps.some((s) => s.id === step) && reachable(steps, step, this.view) ? step : resumeStep(steps)
    this.step = target
    for (const [id, panel] of this.panels) panel.el.hidden = id !== target
    this.panels.get(target)?.opened(this.view)
    this.els.page.dataset['step'] = target
    document.title = `${stepTitle(target)} · Familiarize · CALMA Studio`
    this.render()
    if (focus) {
      const heading = this.panels.get(target)?.el.querySelector<HTMLElement>('h2')
      heading?.focus({ preventScroll: true })
      this.els.nav.scrollIntoView({ block: 'start', behavior: 'instant' })
    }
  }

  private next (from: StepId): void {
    const steps = stepsOf(this.view)
    const at = steps.findIndex((s) => s.id === from)
    this.show(steps[at + 1]?.id ?? 'done', true)
  }

  private render (): void {
    this.nav.render(stepsOf(this.view), this.step, this.view)
    this.showTraining(this.view)
  }

  private showTraining (view: FamiliarizeView): void {
    const inTraining = this.step === 'lesson' || this.step === 'practice' || this.step === 'check'
    const name = view.training_context
    this.els.trainingNote.hidden = !inTraining || name === ''
    this.els.trainingNote.textContent = name === ''
      ? ''
      : `The examples here come from a ${name}: a different setting on purpose, so that practising does not ` +
        'shape what you later notice in this study\'s own context.'
  }
}

/** Whether Familiarize is open for the participant; if not, the words for why. */
function closedReason (view: FamiliarizeView): string | undefined {
  const stage = view.stages.find((s) => s.stage === 'familiarize')
  if (stage === undefined || stage.state === 'open') return undefined
  return `Familiarize is closed for you. ${stageReasonText(stage, undefined)}`
}

async function main (): Promise<void> {
  const els = pageElements()
  const fail = (error: unknown): void => {
    els.loading.hidden = true
    els.pageError.textContent = `Familiarize could not be loaded: ${errorMessage(error)}`
    els.pageError.hidden = false
  }
  try {
    const { me } = await api.sessionState()
    if (me === null) {
      els.loading.hidden = true
      els.signedOut.hidden = false
      return
    }
    const refused = notParticipantText(me)
    if (refused !== undefined || me.study_id === null || me.participant_id === null) {
      els.loading.hidden = true
      els.notParticipantText.textContent = refused ?? ''
      els.notParticipant.hidden = false
      return
    }
    const study = me.study_id
    const participant = me.participant_id
    let page: FamiliarizePage | undefined
    /** Show the view: the steps, or why Familiarize is closed. */
    const show = (view: FamiliarizeView): void => {
      const closed = closedReason(view)
      els.closedText.textContent = closed ?? ''
      els.closed.hidden = closed === undefined
      els.page.hidden = closed !== undefined
      if (closed !== undefined) return
      if (page === undefined) page = new FamiliarizePage(els, study, participant, view)
      else page.update(view)
    }
    show(await familiarizeApi.view(study))
    els.loading.hidden = true
    // Back to the tab: the facilitator may have changed the study, or closed or opened the stage, meanwhile.
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState !== 'visible') return
      familiarizeApi.view(study).then(show).catch(() => { /* the next step's answer says what is wrong */ })
    })
  } catch (error) {
    fail(error)
  }
}

void main()
