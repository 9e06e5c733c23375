/**
 * Segment 1, the individual top three: a participant names and defines up to three attributes,
 * best first, privately (PUT …/discuss/top3). Once submitted the page says so and shows their own
 * entries (they may change them until the reveal). Nobody else's entries reach the page before the
 * facilitator reveals them; then everyone's are shown (`peopleTop3`, also used by Presentations).
 */
import { errorMessage } from '../api'
import { element, whileBusy } from '../dom'
import type { DiscussApi, DiscussState, PersonTop3, TopEntry } from './rest'

const ROWS = 3
const NAME_MAX = 120
const DEFINITION_MAX = 2000

/** Everyone's top three as cards; `speaker`'s is highlighted, `me`'s marked as yours. */
export function peopleTop3 (people: readonly PersonTop3[], speaker: string | null, me: string | null): HTMLElement {
  const list = element('ul', { class: 'ds-people', 'data-testid': 'everyone-top3' })
  for (const person of people) {
    const spotlit = person.participant_id === speaker
    const item = element('li', {
      class: spotlit ? 'card ds-person ds-spotlit' : 'card ds-person',
      'data-testid': 'person-top3',
      'data-participant-id': person.participant_id,
      'data-speaker': String(spotlit),
    })
    const head = element('h3', { class: 'ds-person-name', 'data-testid': 'person-name' }, person.display_name)
    if (person.participant_id === me) head.append(element('span', { class: 'badge badge-open' }, 'you'))
    if (spotlit) head.append(element('span', { class: 'badge badge-current', 'data-testid': 'speaking-badge' }, 'speaking'))
    const entries = element('ol', { class: 'ds-entries' })
    for (const entry of person.entries) entries.append(entryItem(entry))
    item.append(head, entries)
    list.append(item)
  }
  if (people.length === 0) list.append(element('li', { class: 'empty' }, 'Nobody gave a top three.'))
  return list
}

function entryItem (entry: TopEntry): HTMLElement {
  const li = element('li', { class: 'ds-entry', 'data-testid': 'top3-entry' })
  li.append(element('strong', { 'data-testid': 'entry-name' }, entry.name))
  if (entry.definition !== '') li.append(element('span', { class: 'ds-entry-definition', 'data-testid': 'entry-definition' }, entry.definition))
  return li
}

interface Row {
  readonly name: HTMLInputElement
  readonly definition: HTMLTextAreaElement
}

export class Top3Panel {
  readonly el = element('div', { class: 'ds-top3', 'data-testid': 'top3' })
  private readonly form = element('form', { class: 'card ds-top3-form', 'data-testid': 'top3-form', novalidate: '' })
  private readonly rows: Row[] = []
  private readonly submit = element('button', { type: 'submit', 'data-testid': 'top3-submit' }, 'Submit my top three')
  private readonly error = element('p', { class: 'error', role: 'alert', 'data-testid': 'top3-error' })
  private readonly submitted = element('section', { class: 'card ds-submitted', 'data-testid': 'top3-submitted' })
  private readonly count = element('p', { class: 'ds-count', 'data-testid': 'top3-count', role: 'status', 'aria-live': 'polite' })
  private readonly revealed = element('section', { class: 'ds-revealed', 'data-testid': 'top3-revealed' })
  private editing = false
  private formShown = false
  private state: DiscussState | undefined

  constructor (private readonly api: DiscussApi, private readonly me: string | null, private readonly onSaved: () => void) {
    const fields = element('ol', { class: 'ds-top3-rows' })
    for (let i = 0; i < ROWS; i += 1) {
      const name = element('input', {
        id: `top3-name-${i}`, maxlength: String(NAME_MAX), autocomplete: 'off', 'data-testid': 'top3-name',
        placeholder: i === 0 ? 'e.g. Historical accuracy' : '',
      })
      const definition = element('textarea', {
        id: `top3-definition-${i}`, rows: '2', maxlength: String(DEFINITION_MAX), 'data-testid': 'top3-definition',
        placeholder: 'What it means, in a sentence or two',
      })
      const li = element('li', { class: 'ds-top3-row' })
      li.append(element('label', { for: `top3-name-${i}` }, `${i + 1}. Attribute`), name,
        element('label', { for: `top3-definition-${i}` }, 'Definition'), definition)
      fields.append(li)
      this.rows.push({ name, definition })
    }
    this.form.append(element('h3', {}, 'Your top three'),
      element('p', { class: 'hint' }, 'Best first. Only you see these until your facilitator reveals everyone’s at once.'),
      fields, this.submit, this.error)
    this.form.addEventListener('submit', (event) => {
      event.preventDefault()
      void whileBusy(this.submit, 'Submitting…', async () => { await this.save() })
    })
    this.el.append(this.count, this.form, this.submitted, this.revealed)
  }

  update (state: DiscussState): void {
    this.state = state
    const participant = state.role === 'participant'
    const revealed = state.top3 !== null
    const mine = state.mine?.top3 ?? null
    this.count.textContent = `${state.top3_submitted} of ${state.participants} ${state.participants === 1 ? 'participant has' : 'participants have'} submitted.`
    this.count.hidden = revealed
    const canEdit = participant && state.can_write && state.segment === 'top3' && !revealed
    const showForm = canEdit && (mine === null || this.editing)
    if (showForm && !this.formShown) this.fill(mine)
    this.formShown = showForm
    this.form.hidden = !showForm
    this.el.dataset['state'] = revealed ? 'revealed' : mine !== null ? 'submitted' : participant ? 'open' : 'waiting'
    this.renderSubmitted(mine, canEdit && !showForm, revealed)
    this.revealed.hidden = !revealed
    if (revealed) {
      this.revealed.replaceChildren(element('h3', {}, 'Everyone’s top three'), peopleTop3(state.top3 ?? [], null, this.me))
    } else {
      this.revealed.replaceChildren()
    }
  }

  private fill (mine: readonly TopEntry[] | null): void {
    this.rows.forEach((row, i) => {
      row.name.value = mine?.[i]?.name ?? row.name.value
      row.definition.value = mine?.[i]?.definition ?? row.definition.value
    })
  }

  private renderSubmitted (mine: readonly TopEntry[] | null, canChange: boolean, revealed: boolean): void {
    this.submitted.hidden = mine === null || revealed
    if (mine === null) return
    const entries = element('ol', { class: 'ds-entries', 'data-testid': 'my-top3' })
    for (const entry of mine) entries.append(entryItem(entry))
    const parts: Array<HTMLElement | string> = [
      element('h3', {}, 'Submitted'),
      element('p', { class: 'hint' }, 'Your top three is in. Nobody sees it until the reveal.'),
      entries,
    ]
    if (canChange) {
      const change = element('button', { type: 'button', class: 'secondary small', 'data-testid': 'top3-change' }, 'Change')
      change.addEventListener('click', () => {
        this.editing = true
        if (this.state !== undefined) this.update(this.state)
        this.rows[0]?.name.focus()
      })
      parts.push(change)
    }
    this.submitted.replaceChildren(...parts)
  }

  private async save (): Promise<void> {
    const entries: TopEntry[] = []
    for (const row of this.rows) {
      const name = row.name.value.trim()
      const definition = row.definition.value.trim()
      if (name === '' && definition !== '') {
        this.error.textContent = 'Give each definition a name.'
        row.name.focus()
        return
      }
      if (name !== '') entries.push({ name, definition })
    }
    if (entries.length === 0) {
      this.error.textContent = 'Name at least one attribute.'
      this.rows[0]?.name.focus()
      return
    }
    const names = entries.map((e) => e.name.toLocaleLowerCase())
    if (new Set(names).size !== names.length) {
      this.error.textContent = 'Name different attributes.'
      return
    }
    try {
      await this.api.putTop3(entries)
      this.error.textContent = ''
      this.editing = false
      this.onSaved()
    } catch (error) {
      this.error.textContent = errorMessage(error)
    }
  }
}
