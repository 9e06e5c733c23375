/**
 * Invite links of the study: create one for a group (participant or observer, with an expiry),
 * copy it, revoke it, re-issue it. A link is personal by default (one person: opening it again on
 * any device resumes them) or, chosen explicitly, a group link with a maximum number of people,
 * shown as "uses so far / maximum". Re-issuing revokes the old token and makes a new one for the
 * same person or group. Tokens from `calma admin token` are not listed here.
 */
import { api, errorMessage, type Group, type Invite, type InviteKind, type InviteRole } from '../api'
import { element, formatDateTime, whileBusy } from '../dom'

export interface InvitesElements {
  readonly form: HTMLFormElement
  readonly group: HTMLSelectElement
  readonly role: HTMLSelectElement
  readonly expiry: HTMLSelectElement
  readonly button: HTMLButtonElement
  readonly hint: HTMLElement
  readonly error: HTMLElement
  readonly list: HTMLElement
}

const STATUS_TEXT = { active: 'Active', expired: 'Expired', revoked: 'Revoked', 'used-up': 'Used up' } as const
const MAX_GROUP_USES = 10000
const ROLE_TEXT = { participant: 'Participant', observer: 'Observer', facilitator: 'Facilitator' } as const

/** The full URL of an invite's link (the API gives the path). */
export function inviteUrl (invite: Invite): string {
  return new URL(invite.link, window.location.origin).href
}

function whenText (invite: Invite): string {
  if (invite.revoked_at !== null) return `on ${formatDateTime(invite.revoked_at)}`
  return `${invite.status === 'expired' ? 'expired' : 'expires'} ${formatDateTime(invite.expires_at)}`
}

function isInviteLink (invite: Invite): boolean {
  return invite.role !== 'facilitator' && invite.created_by !== null
}

/** Who the link is for, and how far it has been used. */
function usesText (invite: Invite): string {
  if (invite.kind === 'group') {
    return `Group link · ${invite.uses} / ${invite.max_uses ?? '∞'} ${invite.role === 'observer' ? 'opened' : 'joined'}`
  }
  const who = invite.label === '' ? 'One person' : `For ${invite.label}`
  if (invite.role === 'observer') return who
  return `${who} · ${invite.participant_id === null ? 'not opened yet' : 'joined'}`
}

function formControl<T extends HTMLElement> (form: HTMLFormElement, id: string, kind: new () => T): T {
  const found = form.querySelector(`#${id}`)
  if (!(found instanceof kind)) throw new Error(`the invite form has no #${id}`)
  return found
}

async function copyText (text: string, input: HTMLInputElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    input.select() // the person can copy it themselves
    return false
  }
}

export class InvitesPanel {
  private study = ''
  private groups: readonly Group[] = []
  private invites: Invite[] = []
  private fresh: string | undefined
  private readonly kind: HTMLSelectElement
  private readonly label: HTMLInputElement
  private readonly maxUses: HTMLInputElement

  constructor (private readonly els: InvitesElements) {
    this.kind = formControl(els.form, 'invite-kind', HTMLSelectElement)
    this.label = formControl(els.form, 'invite-label', HTMLInputElement)
    this.maxUses = formControl(els.form, 'invite-max-uses', HTMLInputElement)
    this.kind.addEventListener('change', () => { this.showMaxUses() })
    this.showMaxUses()
    els.form.addEventListener('submit', (event) => {
      event.preventDefault()
      this.create()
    })
  }

  private chosenKind (): InviteKind {
    return this.kind.value === 'group' ? 'group' : 'personal'
  }

  private showMaxUses (): void {
    const field = this.maxUses.closest('.field')
    if (field instanceof HTMLElement) field.hidden = this.chosenKind() !== 'group'
  }

  show (study: string, groups: readonly Group[], invites: readonly Invite[]): void {
    this.study = study
    this.invites = invites.filter(isInviteLink)
    this.fresh = undefined
    this.els.error.textContent = ''
    this.setGroups(groups)
  }

  setGroups (groups: readonly Group[]): void {
    this.groups = groups
    const chosen = this.els.group.value
    this.els.group.replaceChildren(...groups.map((g) => element('option', { value: g.id }, g.name)))
    if (groups.some((g) => g.id === chosen)) this.els.group.value = chosen
    const none = groups.length === 0
    this.els.hint.hidden = !none
    this.els.button.disabled = none
    this.els.group.disabled = none
    this.render()
  }

  private create (): void {
    const study = this.study
    const group = this.els.group.value
    const role: InviteRole = this.els.role.value === 'observer' ? 'observer' : 'participant'
    const ttl = Number(this.els.expiry.value)
    const kind = this.chosenKind()
    const maxUses = Number(this.maxUses.value)
    if (group === '') {
      this.els.error.textContent = 'Choose a group for the link.'
      return
    }
    if (kind === 'group' && !(Number.isInteger(maxUses) && maxUses >= 1 && maxUses <= MAX_GROUP_USES)) {
      this.els.error.textContent = `A group link admits between 1 and ${MAX_GROUP_USES} people: say how many.`
      return
    }
    const request = {
      group_id: group, role, ttl_seconds: ttl, kind, label: this.label.value.trim(),
      ...(kind === 'group' ? { max_uses: maxUses } : {}),
    }
    this.els.error.textContent = ''
    whileBusy(this.els.button, 'Creating…', async () => await api.createInvite(study, request))
      .then((invite) => {
        if (study !== this.study) return
        this.invites = [invite, ...this.invites.filter((i) => i.id !== invite.id)]
        this.fresh = invite.id
        this.label.value = ''
        this.render()
      })
      .catch((error: unknown) => { this.els.error.textContent = errorMessage(error) })
  }

  /** A new token for the same person or group; the old one stops working (its holders are signed out). */
  private reissue (invite: Invite, button: HTMLButtonElement): void {
    const study = this.study
    this.els.error.textContent = ''
    whileBusy(button, 'Re-issuing…', async () => {
      const fresh = await api.reissueInvite(study, invite.id)
      return { fresh, old: await api.invites(study) }
    })
      .then(({ fresh, old }) => {
        if (study !== this.study) return
        this.invites = old.filter(isInviteLink)
        this.fresh = fresh.id
        this.render()
      })
      .catch((error: unknown) => { this.els.error.textContent = errorMessage(error) })
  }

  private revoke (invite: Invite, button: HTMLButtonElement): void {
    const study = this.study
    this.els.error.textContent = ''
    whileBusy(button, 'Revoking…', async () => await api.revokeInvite(study, invite.id))
      .then((revoked) => {
        if (study !== this.study) return
        this.invites = this.invites.map((i) => (i.id === revoked.id ? revoked : i))
        this.render()
      })
      .catch((error: unknown) => { this.els.error.textContent = errorMessage(error) })
  }

  private render (): void {
    if (this.invites.length === 0) {
      this.els.list.replaceChildren(element('li', { class: 'empty' }, 'No invite links yet.'))
      return
    }
    this.els.list.replaceChildren(...this.invites.map((invite) => this.item(invite)))
  }

  private item (invite: Invite): HTMLLIElement {
    const item = element('li', {
      class: 'invite', 'data-testid': 'invite-item', 'data-invite-id': invite.id, 'data-status': invite.status,
    })
    if (invite.id === this.fresh) item.classList.add('fresh')
    const group = this.groups.find((g) => g.id === invite.group_id)?.name ?? 'Unknown group'
    const meta = element('div', { class: 'invite-meta' })
    meta.append(
      element('span', { class: `badge badge-${invite.status}`, 'data-testid': 'invite-status' }, STATUS_TEXT[invite.status]),
      element('span', { class: 'invite-what' }, `${ROLE_TEXT[invite.role]} · ${group}`),
      element('span', { class: 'muted small-text' }, whenText(invite)),
    )
    const uses = element('p', { class: 'invite-uses small-text', 'data-testid': 'invite-uses' }, usesText(invite))
    const reissue = element('button', {
      type: 'button', class: 'secondary small', 'data-testid': 'reissue-invite',
      title: 'A new link for the same person or group; this one stops working',
    }, 'Re-issue')
    reissue.addEventListener('click', () => { this.reissue(invite, reissue) })
    item.append(meta, uses)
    if (invite.status !== 'active') {
      if (invite.status !== 'revoked' || invite.kind === 'personal') item.append(reissue)
      return item
    }

    const url = inviteUrl(invite)
    const inputId = `invite-link-${invite.id}`
    const row = element('div', { class: 'invite-link-row' })
    const label = element('label', { for: inputId, class: 'visually-hidden' }, `Invite link for ${group}`)
    const input = element('input', { id: inputId, 'data-testid': 'invite-link', readonly: '', value: url })
    input.addEventListener('focus', () => { input.select() })
    const copy = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'copy-invite' }, 'Copy')
    const revoke = element('button', { type: 'button', class: 'secondary small danger', 'data-testid': 'revoke-invite' }, 'Revoke')
    const feedback = element('p', { class: 'copy-feedback', 'data-testid': 'copy-feedback', role: 'status', 'aria-live': 'polite' })
    copy.addEventListener('click', () => {
      void copyText(url, input).then((copied) => {
        feedback.textContent = copied ? 'Copied to the clipboard.' : 'Selected: press Ctrl+C (⌘C) to copy.'
      })
    })
    revoke.addEventListener('click', () => { this.revoke(invite, revoke) })
    const buttons = element('div', { class: 'invite-buttons' })
    buttons.append(copy, reissue, revoke)
    row.append(label, input, buttons)
    item.append(row, feedback)
    return item
  }
}
