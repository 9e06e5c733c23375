/**
 * The two Reflect settings of a study, as switches: release the groups' codes (each participant
 * then sees the codes of their group with counts; when, is shown) and the shared sample (each
 * participant also codes up to 5 replies from others in their group who agreed to share). A switch
 * is saved at once; while the server answers it is disabled, and on failure it goes back.
 */
import { errorMessage } from '../api'
import { element, formatDateTime } from '../dom'
import type { ReflectSettings, ReflectSettingsPatch } from './reflectApi'

interface Switch {
  readonly row: HTMLElement
  readonly input: HTMLInputElement
  readonly note: HTMLElement
}

function makeSwitch (id: string, testid: string, title: string, explanation: string): Switch {
  const row = element('div', { class: 'rc-setting' })
  const input = element('input', { id, type: 'checkbox', role: 'switch', 'data-testid': testid, 'aria-describedby': `${id}-hint ${id}-note` })
  const label = element('label', { for: id, class: 'rc-switch' })
  label.append(input, element('span', { class: 'rc-switch-title' }, title))
  const note = element('p', { id: `${id}-note`, class: 'rc-setting-note', 'data-testid': `${testid}-note`, role: 'status', 'aria-live': 'polite' })
  row.append(label, element('p', { id: `${id}-hint`, class: 'hint' }, explanation), note)
  return { row, input, note }
}

/** Show a switch's state, unless it is being saved (the answer to that save shows it). */
function show (s: Switch, on: boolean, note: string): void {
  if (s.input.getAttribute('aria-busy') === 'true') return
  s.input.checked = on
  s.input.disabled = false
  s.row.dataset['on'] = String(on)
  s.note.textContent = note
}

export class ReflectSettingsPanel {
  readonly el: HTMLElement
  private readonly release: Switch
  private readonly share: Switch
  private readonly error = element('p', { class: 'error', role: 'alert', 'data-testid': 'settings-error' })
  private current: ReflectSettings | undefined

  /**
   * `save` sets what changed and answers with the settings as they are now (undefined when another
   * study is on show by then).
   */
  constructor (private readonly save: (patch: ReflectSettingsPatch) => Promise<ReflectSettings | undefined>) {
    this.el = element('div', { class: 'rc-settings', 'data-testid': 'reflect-settings' })
    this.release = makeSwitch('release-codes', 'release-codes', 'Release the group’s codes',
      'Each participant then sees their group’s codes with counts: how often each was used and by how many ' +
      'people (never who). Before the release only you see them, in the preview below. You can withdraw it.')
    this.share = makeSwitch('share-sample', 'share-sample', 'Shared sample',
      'Participants also code up to 5 replies from others in their group who agreed to share (each person ' +
      'decides on their Reflect page). They see the prompt and the model’s reply, never whose conversation it was.')
    this.el.append(this.release.row, this.share.row, this.error)
    this.release.input.addEventListener('change', () => { this.set(this.release, { codes_released: this.release.input.checked }) })
    this.share.input.addEventListener('change', () => { this.set(this.share, { share_sample: this.share.input.checked }) })
    this.clear()
  }

  clear (): void {
    this.current = undefined
    for (const s of [this.release, this.share]) {
      s.input.checked = false
      s.input.disabled = true
      s.note.textContent = ''
    }
    this.error.textContent = ''
  }

  render (settings: ReflectSettings): void {
    this.current = settings
    show(this.release, settings.codes_released, settings.codes_released_at !== null
      ? `Released ${formatDateTime(settings.codes_released_at)}: participants see their group’s codes.`
      : 'Not released: participants do not see their group’s codes.')
    show(this.share, settings.share_sample, settings.share_sample
      ? 'On: participants code a sample of what others in their group shared.'
      : 'Off: participants code the baseline and their own conversations only.')
  }

  private set (which: Switch, patch: ReflectSettingsPatch): void {
    this.error.textContent = ''
    which.input.disabled = true
    which.input.setAttribute('aria-busy', 'true')
    const done = (): void => {
      which.input.removeAttribute('aria-busy')
      which.input.disabled = this.current === undefined
    }
    this.save(patch)
      .then((settings) => {
        done()
        const now = settings ?? this.current // undefined settings: another study is on show
        if (now !== undefined) this.render(now)
      })
      .catch((error: unknown) => {
        done()
        if (this.current !== undefined) this.render(this.current)
        this.error.textContent = `Not saved: ${errorMessage(error)}`
      })
  }
}
