/**
 * The facilitator console (/console/): sign in and out; the studies list; one study at a time
 * (`?study=<id>` in the URL) with its live progress, groups, invite links, stage access, Familiarize
 * (results and editor), Reflect (progress, settings, group codes), Discuss, Outputs and context. One /live connection per page carries the progress of the
 * study on show.
 */
import '../style.css'
import '../pages.css'
import { api, call, errorMessage, type Me } from '../api'
import { byId, element, whileBusy } from '../dom'
import { LiveConnection, liveUrl } from '../live'
import { ContextPanel } from './context'
import { FamiliarizeArea } from './familiarize'
import { GroupsPanel } from './groups'
import { InvitesPanel } from './invites'
import { ProgressPanel } from './progress'
import { DiscussArea } from './discuss'
import { OutputsArea } from './outputs'
import { ReflectArea } from './reflect'
import { StudiesPanel, studyHref } from './studies'
import { StudyPane } from './study'

function studyInUrl (): string | undefined {
  const id = new URL(window.location.href).searchParams.get('study')
  return id === null || id === '' ? undefined : id
}

function showOnly (visible: HTMLElement): void {
  for (const id of ['page-loading', 'signin', 'not-facilitator', 'dashboard']) {
    const el = byId(id, HTMLElement)
    el.hidden = el !== visible
  }
}

function showWho (me: Me): void {
  byId('signed-in-as', HTMLElement).textContent = me.email !== null ? `${me.name} (${me.email})` : me.name
  const signOut = byId('sign-out', HTMLButtonElement)
  signOut.onclick = () => {
    whileBusy(signOut, 'Signing out…', api.signOut)
      .then(() => { window.location.replace('/console/') })
      .catch((error: unknown) => { pageError(`Signing out failed: ${errorMessage(error)}`) })
  }
  signOutEverywhereButton(signOut).onclick = (event) => {
    const button = event.currentTarget as HTMLButtonElement
    whileBusy(button, 'Signing out everywhere…', async () => await call('POST', '/session/revoke-all'))
      .then(() => { window.location.replace('/console/') })
      .catch((error: unknown) => { pageError(`Signing out everywhere failed: ${errorMessage(error)}`) })
  }
  byId('who', HTMLElement).hidden = false
}

/** 'Sign out everywhere' (every session of this account, on every device), next to 'Sign out'. */
function signOutEverywhereButton (signOut: HTMLButtonElement): HTMLButtonElement {
  const existing = document.getElementById('sign-out-everywhere')
  if (existing instanceof HTMLButtonElement) return existing
  const button = element('button', {
    id: 'sign-out-everywhere', 'data-testid': 'sign-out-everywhere', class: 'secondary small', type: 'button',
    title: 'End every session of this account, on every device and browser (a lost laptop, a shared computer)',
  }, 'Sign out everywhere')
  signOut.after(button)
  return button
}

function pageError (message: string): void {
  const el = byId('page-error', HTMLElement)
  el.textContent = message
  el.hidden = false
}

function showSignIn (): void {
  showOnly(byId('signin', HTMLElement))
  const form = byId('signin-form', HTMLFormElement)
  const email = byId('signin-email', HTMLInputElement)
  const password = byId('signin-password', HTMLInputElement)
  const button = byId('signin-button', HTMLButtonElement)
  const error = byId('signin-error', HTMLElement)
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    if (email.value.trim() === '' || password.value === '') {
      error.textContent = 'Enter your email and password.'
      return
    }
    error.textContent = ''
    whileBusy(button, 'Signing in…', async () => await api.signIn(email.value.trim(), password.value))
      .then(async (me) => {
        password.value = ''
        if (me.role === 'facilitator') await startDashboard(me)
        else showNotFacilitator(me)
      })
      .catch((failure: unknown) => {
        error.textContent = errorMessage(failure)
        password.select()
      })
  })
  email.focus()
}

function showNotFacilitator (me: Me): void {
  byId('not-facilitator-name', HTMLElement).textContent = me.name
  showWho(me)
  showOnly(byId('not-facilitator', HTMLElement))
}

async function startDashboard (me: Me): Promise<void> {
  showWho(me)
  const progress = new ProgressPanel({
    status: byId('live-status', HTMLElement),
    counts: byId('stage-counts', HTMLElement),
    table: byId('progress-table', HTMLElement),
    rows: byId('progress-rows', HTMLElement),
    empty: byId('progress-empty', HTMLElement),
    error: byId('progress-error', HTMLElement),
  }, async (frame) => { await live.request(frame) })
  const live = new LiveConnection(liveUrl(window.location), {
    onStatus: (status) => { progress.setStatus(status) },
    onOpen: () => { progress.reopened() },
    onFrame: (frame) => {
      progress.receive(frame)
      familiarize.progressFrame(frame)
      reflect.progressFrame(frame)
    },
  })
  const familiarize = new FamiliarizeArea()
  familiarize.mount(byId('study', HTMLElement).querySelector('.two-up') ?? byId('progress-section', HTMLElement),
    document.querySelector('#study .jump'))
  const reflect = new ReflectArea()
  reflect.mount(familiarize.editor.section, document.querySelector('#study .jump'))
  const discuss = new DiscussArea()
  discuss.mount(reflect.section, document.querySelector('#study .jump'))
  const outputs = new OutputsArea()
  outputs.mount(discuss.section, document.querySelector('#study .jump'))

  const navigate = (study: string): void => {
    window.history.pushState(null, '', studyHref(study))
    void route()
  }
  const studies = new StudiesPanel({
    list: byId('study-list', HTMLElement),
    form: byId('new-study-form', HTMLFormElement),
    name: byId('new-study-name', HTMLInputElement),
    button: byId('create-study', HTMLButtonElement),
    error: byId('new-study-error', HTMLElement),
  }, navigate)
  const context = new ContextPanel({
    form: byId('context-form', HTMLFormElement),
    studyName: byId('study-name', HTMLInputElement),
    contextName: byId('context-name', HTMLInputElement),
    description: byId('context-description', HTMLTextAreaElement),
    systemPrompt: byId('system-prompt', HTMLTextAreaElement),
    models: byId('context-models', HTMLElement),
    button: byId('save-context', HTMLButtonElement),
    status: byId('context-status', HTMLElement),
    error: byId('context-error', HTMLElement),
  }, (study) => {
    pane.heading(study)
    studies.renamed(study)
  })
  const groups = new GroupsPanel({
    list: byId('group-list', HTMLElement),
    form: byId('group-form', HTMLFormElement),
    name: byId('group-name', HTMLInputElement),
    button: byId('create-group', HTMLButtonElement),
    error: byId('group-error', HTMLElement),
  }, (list) => { pane.groupsChanged(list) })
  const invites = new InvitesPanel({
    form: byId('invite-form', HTMLFormElement),
    group: byId('invite-group', HTMLSelectElement),
    role: byId('invite-role', HTMLSelectElement),
    expiry: byId('invite-expiry', HTMLSelectElement),
    button: byId('create-invite', HTMLButtonElement),
    hint: byId('invite-hint', HTMLElement),
    error: byId('invite-error', HTMLElement),
    list: byId('invite-list', HTMLElement),
  })
  const pane = new StudyPane({
    none: byId('no-study', HTMLElement),
    loading: byId('study-loading', HTMLElement),
    error: byId('study-error', HTMLElement),
    article: byId('study', HTMLElement),
    title: byId('study-title', HTMLElement),
    subtitle: byId('study-subtitle', HTMLElement),
  }, { progress, groups, invites, context, familiarize, reflect, discuss, outputs })

  const route = async (): Promise<void> => {
    const study = studyInUrl()
    studies.select(study)
    await pane.show(study)
  }
  window.addEventListener('popstate', () => { void route() })

  await studies.load()
  showOnly(byId('dashboard', HTMLElement))
  live.start()
  await route()
}

async function main (): Promise<void> {
  try {
    const { me } = await api.sessionState()
    if (me === null) showSignIn()
    else if (me.role !== 'facilitator') showNotFacilitator(me)
    else await startDashboard(me)
  } catch (error) {
    showOnly(byId('page-error', HTMLElement))
    pageError(`The console could not start: ${errorMessage(error)}`)
  }
}

void main()
