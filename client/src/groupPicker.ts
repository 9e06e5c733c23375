/**
 * A facilitator's page about one group (the canvas, the Discuss session) reads `?study=&group=`; without
 * them it says where to find the links, or lists the study's groups to pick from (in the page's
 * `pick-group` block: `pick-group-text`, `group-links`).
 */
import { api } from './api'
import { byId, element } from './dom'

export interface StudyGroup {
  readonly study: string
  readonly group: string
}

/** The study and group of the URL, or undefined after showing the picker. `page` is '/canvas/' or '/discuss/'. */
export async function groupFromUrl (url: URL, page: string, what: string): Promise<StudyGroup | undefined> {
  const study = url.searchParams.get('study') ?? ''
  const group = url.searchParams.get('group') ?? ''
  if (study !== '' && group !== '') return { study, group }
  const text = byId('pick-group-text', HTMLElement)
  if (study === '') {
    text.replaceChildren('Open a study in the ', element('a', { href: '/console/' }, 'console'),
      ` first: each group's ${what} is at ${page}?study=…&group=….`)
  } else {
    const groups = await api.groups(study)
    text.textContent = groups.length === 0 ? 'This study has no groups yet.' : 'Pick a group:'
    byId('group-links', HTMLElement).replaceChildren(...groups.map((g) => {
      const li = element('li')
      const href = `${page}?study=${encodeURIComponent(study)}&group=${encodeURIComponent(g.id)}`
      li.append(element('a', { href, 'data-testid': 'group-link' }, g.name))
      return li
    }))
  }
  byId('pick-group', HTMLElement).hidden = false
  return undefined
}
