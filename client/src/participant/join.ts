/**
 * The invite page, /join?token=…: what the link is for (study, context, group), what CALMA is, and
 * a display name to join with (POST /api/join, which sets the session cookie). Joined, the
 * participant goes on to their overview at /me/. A link that cannot be used says why, in the
 * words of the API's problem.
 */
import '../style.css'
import '../pages.css'
import { api, ApiError, errorMessage, type InvitePreview } from '../api'
import { byId, element, whileBusy } from '../dom'
import { STAGE_INFO } from '../stages'
import { fillAboutCalma } from './about'

const OVERVIEW_PATH = '/me/'

interface Elements {
  readonly loading: HTMLElement
  readonly problem: HTMLElement
  readonly problemTitle: HTMLElement
  readonly problemDetail: HTMLElement
  readonly problemHint: HTMLElement
  readonly invite: HTMLElement
  readonly eyebrow: HTMLElement
  readonly studyName: HTMLElement
  readonly group: HTMLElement
  readonly contextName: HTMLElement
  readonly contextDescription: HTMLElement
  readonly stagePreview: HTMLElement
  readonly alreadyJoined: HTMLElement
  readonly alreadyName: HTMLElement
  readonly form: HTMLFormElement
  readonly nameInput: HTMLInputElement
  readonly joinButton: HTMLButtonElement
  readonly joinError: HTMLElement
}

function findElements (): Elements {
  return {
    loading: byId('page-loading', HTMLElement),
    problem: byId('invite-problem', HTMLElement),
    problemTitle: byId('problem-title', HTMLElement),
    problemDetail: byId('problem-detail', HTMLElement),
    problemHint: byId('problem-hint', HTMLElement),
    invite: byId('invite', HTMLElement),
    eyebrow: byId('invite-eyebrow', HTMLElement),
    studyName: byId('study-name', HTMLElement),
    group: byId('invite-group', HTMLElement),
    contextName: byId('context-name', HTMLElement),
    contextDescription: byId('context-description', HTMLElement),
    stagePreview: byId('stage-preview', HTMLElement),
    alreadyJoined: byId('already-joined', HTMLElement),
    alreadyName: byId('already-name', HTMLElement),
    form: byId('invite-join-form', HTMLFormElement),
    nameInput: byId('display-name', HTMLInputElement),
    joinButton: byId('join-button', HTMLButtonElement),
    joinError: byId('join-error', HTMLElement),
  }
}

/** A heading for a link that cannot be used, from the problem's type. */
function problemTitle (error: unknown): string {
  if (!(error instanceof ApiError)) return 'This invite link could not be opened'
  switch (error.kind) {
    case 'token-revoked': return 'This invite link has been revoked'
    case 'token-expired': return 'This invite link has expired'
    case 'token-malformed':
    case 'token-bad-signature':
    case 'token-unknown-invite':
    case 'validation-failed': return 'This invite link is not valid'
    default: return error.status === 0 ? 'The server could not be reached' : 'This invite link could not be opened'
  }
}

function showProblem (els: Elements, error: unknown): void {
  els.loading.hidden = true
  els.invite.hidden = true
  els.problemTitle.textContent = problemTitle(error)
  const detail = errorMessage(error)
  els.problemDetail.textContent = detail
  els.problemHint.hidden = /new link/i.test(detail) // the problem already says what to do
  if (error instanceof ApiError) els.problem.dataset['problem'] = error.kind
  els.problem.hidden = false
}

function showInvite (els: Elements, preview: InvitePreview): void {
  const observing = preview.role === 'observer'
  els.eyebrow.textContent = observing ? 'You are invited to observe' : 'You are invited to take part in'
  els.studyName.textContent = preview.study_name
  els.group.textContent = preview.group_name === null ? '' : `Group: ${preview.group_name}`
  els.contextName.textContent = preview.context_name
  els.contextDescription.textContent = preview.context_description
  els.stagePreview.replaceChildren(...preview.stage_order.map((stage) => {
    const item = element('li')
    item.append(element('strong', {}, STAGE_INFO[stage].title), document.createTextNode(` — ${STAGE_INFO[stage].summary}`))
    return item
  }))
  els.joinButton.textContent = observing ? 'Start observing' : 'Join the study'
  document.title = `${preview.study_name} · CALMA Studio`
  els.loading.hidden = true
  els.invite.hidden = false
}

async function main (): Promise<void> {
  const els = findElements()
  fillAboutCalma()
  const token = new URL(window.location.href).searchParams.get('token') ?? ''
  if (token === '') {
    showProblem(els, new Error('The address has no invite token. Open the whole link you were sent.'))
    return
  }

  let preview: InvitePreview
  try {
    preview = await api.previewInvite(token)
  } catch (error) {
    showProblem(els, error)
    return
  }
  showInvite(els, preview)

  // Someone who already joined this study in this browser is offered their overview first.
  api.sessionState().then((state) => {
    const me = state.me
    if (me !== null && me.role !== 'facilitator' && me.study_id === preview.study_id) {
      els.alreadyName.textContent = me.name
      els.alreadyJoined.hidden = false
    }
  }).catch(() => { /* not knowing changes nothing: the form stays */ })

  els.form.addEventListener('submit', (event) => {
    event.preventDefault()
    const name = els.nameInput.value.trim()
    if (name === '') {
      els.joinError.textContent = 'Please enter your name.'
      els.nameInput.focus()
      return
    }
    els.joinError.textContent = ''
    whileBusy(els.joinButton, 'Joining…', async () => await api.join(token, name))
      .then(() => { window.location.replace(OVERVIEW_PATH) })
      .catch((error: unknown) => {
        els.joinError.textContent = errorMessage(error)
        els.nameInput.focus()
      })
  })
  els.nameInput.focus()
}

void main()
