/**
 * The participant's overview, /me/: their study, their group, and the stage overview (where they
 * are, and which stages are done, open or closed and why, as the server's stage gating says). The
 * session cookie keeps them signed in across reloads. Their stages are read again whenever the
 * page becomes visible, so a move made or a stage opened by the facilitator shows up when they come
 * back to the tab. Participants find the way to Familiarize (/familiarize/) and Interact
 * (/interact/, their chat with the study's model) here, once those are open for them, and the A/B
 * comparison of two replies (/ab/).
 */
import '../style.css'
import '../pages.css'
import { api, errorMessage, type Group, type Me, type ParticipantStages, type Study } from '../api'
import { byId } from '../dom'
import type { Stage } from '../generated/control'
import { STAGE_INFO } from '../stages'
import { fillAboutCalma } from './about'
import { renderStageList, whereNowText } from './stageList'

interface Elements {
  readonly loading: HTMLElement
  readonly pageError: HTMLElement
  readonly signedOut: HTMLElement
  readonly facilitatorNote: HTMLElement
  readonly overview: HTMLElement
  readonly meName: HTMLElement
  readonly studyName: HTMLElement
  readonly group: HTMLElement
  readonly contextDescription: HTMLElement
  readonly whereNow: HTMLElement
  readonly stageList: HTMLElement
  readonly advanceError: HTMLElement
}

function findElements (): Elements {
  return {
    loading: byId('page-loading', HTMLElement),
    pageError: byId('page-error', HTMLElement),
    signedOut: byId('signed-out', HTMLElement),
    facilitatorNote: byId('facilitator-note', HTMLElement),
    overview: byId('overview', HTMLElement),
    meName: byId('me-name', HTMLElement),
    studyName: byId('study-name', HTMLElement),
    group: byId('me-group', HTMLElement),
    contextDescription: byId('context-description', HTMLElement),
    whereNow: byId('where-now', HTMLElement),
    stageList: byId('stage-list', HTMLElement),
    advanceError: byId('advance-error', HTMLElement),
  }
}

/** One participant's (or observer's) overview, kept up to date. */
class Overview {
  private stages: ParticipantStages | undefined
  private shown = ''

  constructor (
    private readonly els: Elements,
    private readonly me: Me,
    private readonly study: Study,
    group: Group,
  ) {
    els.meName.textContent = me.name
    els.studyName.textContent = study.name
    els.group.textContent = me.role === 'observer' ? `Observing group ${group.name}` : `Group: ${group.name}`
    els.contextDescription.textContent = study.deployment_context.description
    byId('ab-link-row', HTMLElement).hidden = me.role !== 'participant'
    document.title = `${study.name} · CALMA Studio`
  }

  /** Show the participant's stages as the server gave them (undefined: an observer). */
  show (stages: ParticipantStages | undefined): void {
    this.stages = stages
    this.shown = JSON.stringify(stages ?? null)
    const order = stages === undefined ? this.study.stage_order : stages.stages.map((s) => s.stage)
    if (stages === undefined) {
      this.els.whereNow.textContent = 'As an observer you can follow your group\'s live Discuss session; you do not go through the stages yourself.'
      renderStageList(this.els.stageList, order, { stages: undefined })
      return
    }
    this.els.whereNow.textContent = whereNowText(order, stages.current)
    renderStageList(this.els.stageList, order, {
      stages,
      onAdvance: (next, button) => { this.advance(next, button) },
    })
  }

  /** Read the participant's stages again; redraw only if something changed. */
  async refresh (): Promise<void> {
    const participant = this.me.participant_id
    if (participant === null) return
    const stages = await api.stages(this.study.id, participant)
    if (JSON.stringify(stages) !== this.shown) this.show(stages)
  }

  private advance (next: Stage, button: HTMLButtonElement): void {
    const participant = this.me.participant_id
    if (participant === null) return
    this.els.advanceError.textContent = ''
    button.disabled = true
    button.textContent = `Moving on to ${STAGE_INFO[next].title}…`
    api.moveTo(this.study.id, participant, next)
      .then(async () => { this.show(await api.stages(this.study.id, participant)) })
      .catch((error: unknown) => {
        this.els.advanceError.textContent = errorMessage(error)
        this.show(this.stages)
        this.refresh().catch(() => { /* the error above says enough */ })
      })
  }
}

async function main (): Promise<void> {
  const els = findElements()
  fillAboutCalma()
  const fail = (error: unknown): void => {
    els.loading.hidden = true
    els.pageError.textContent = `Your study could not be loaded: ${errorMessage(error)}`
    els.pageError.hidden = false
  }
  try {
    const { me } = await api.sessionState()
    if (me === null) {
      els.loading.hidden = true
      els.signedOut.hidden = false
      return
    }
    if (me.role === 'facilitator' || me.study_id === null || me.group_id === null) {
      els.loading.hidden = true
      els.facilitatorNote.hidden = false
      return
    }
    const studyId = me.study_id
    const participant = me.participant_id
    const [study, group, stages] = await Promise.all([
      api.study(studyId),
      api.group(studyId, me.group_id),
      participant === null ? Promise.resolve(undefined) : api.stages(studyId, participant),
    ])
    const overview = new Overview(els, me, study, group)
    overview.show(stages)
    els.loading.hidden = true
    els.overview.hidden = false
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') overview.refresh().catch(fail)
    })
  } catch (error) {
    fail(error)
  }
}

void main()
