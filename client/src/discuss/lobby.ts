/**
 * The lobby: the session artifacts everyone gets before the session (GET …/discuss/artifacts): a
 * participant's own interactions and codes, the topics the group explored, the group's codes as a
 * word cloud (the server's picture, and an in-page cloud of the codes sized by how often they were
 * used) once the facilitator released them, and the facilitator's link.
 */
import { errorMessage } from '../api'
import { element } from '../dom'
import type { Artifacts, DiscussApi, GroupCode } from './rest'

const MIN_EM = 0.85
const MAX_EM = 2.4

/** Font sizes (em) for codes by uses, on a square-root scale between MIN_EM and MAX_EM. */
export function cloudSizes (codes: readonly GroupCode[]): number[] {
  const most = Math.max(1, ...codes.map((c) => c.uses))
  return codes.map((c) => MIN_EM + (MAX_EM - MIN_EM) * Math.sqrt(Math.max(0, c.uses) / most))
}

function plural (n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`
}

function safeLink (link: string): string | undefined {
  try {
    const url = new URL(link)
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined
  } catch {
    return undefined
  }
}

export class Lobby {
  readonly el = element('div', { class: 'ds-lobby', 'data-testid': 'lobby' })
  private readonly status = element('p', { class: 'hint', role: 'status', 'aria-live': 'polite' })
  private loaded = false

  constructor (private readonly api: DiscussApi) {
    this.el.append(this.status)
  }

  /** Read the artifacts (once, unless `again`). */
  async load (again = false): Promise<void> {
    if (this.loaded && !again) return
    this.status.textContent = 'Loading your artifacts…'
    try {
      this.render(await this.api.artifacts())
      this.loaded = true
    } catch (error) {
      this.status.textContent = `The artifacts could not be loaded: ${errorMessage(error)}`
    }
  }

  private render (artifacts: Artifacts): void {
    const parts: HTMLElement[] = []
    if (artifacts.mine !== null) parts.push(this.own(artifacts.mine))
    parts.push(this.topics(artifacts), this.codes(artifacts))
    const link = safeLink(artifacts.link)
    if (link !== undefined) {
      const box = element('section', { class: 'card ds-artifact', 'data-testid': 'artifact-link-box' })
      box.append(element('h3', {}, 'From your facilitator'),
        element('a', { href: link, target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'artifact-link' }, link))
      parts.push(box)
    }
    this.status.textContent = ''
    this.el.replaceChildren(this.status, ...parts)
  }

  private own (mine: NonNullable<Artifacts['mine']>): HTMLElement {
    const box = element('section', { class: 'card ds-artifact', 'data-testid': 'own-artifacts' })
    box.append(element('h3', {}, 'Your work so far'),
      element('p', { 'data-testid': 'own-counts' },
        `${plural(mine.conversations, 'conversation', 'conversations')} with the model · ${plural(mine.annotations, 'passage', 'passages')} coded`))
    if (mine.codes.length > 0) {
      const list = element('ul', { class: 'ds-chips', 'data-testid': 'own-codes' })
      for (const code of mine.codes) {
        const chip = element('li', { class: 'ds-chip', 'data-testid': 'own-code' }, code.label)
        chip.append(element('span', { class: 'ds-chip-count' }, ` ×${code.uses}`))
        list.append(chip)
      }
      box.append(element('p', { class: 'lead' }, 'Your codes'), list)
    } else {
      box.append(element('p', { class: 'hint' }, 'You have no codes yet.'))
    }
    if (mine.clusters.length > 0) {
      const list = element('ul', { class: 'ds-list', 'data-testid': 'own-clusters' })
      for (const cluster of mine.clusters) {
        const li = element('li')
        li.append(element('strong', {}, cluster.name))
        if (cluster.definition !== '') li.append(`: ${cluster.definition}`)
        list.append(li)
      }
      box.append(element('p', { class: 'lead' }, 'Your themes'), list)
    }
    return box
  }

  private topics (artifacts: Artifacts): HTMLElement {
    const box = element('section', { class: 'card ds-artifact', 'data-testid': 'topics' })
    box.append(element('h3', {}, 'Topics your group explored'))
    if (artifacts.topics.length === 0) {
      box.append(element('p', { class: 'hint', 'data-testid': 'topics-empty' }, 'No conversations yet.'))
      return box
    }
    const list = element('ul', { class: 'ds-list' })
    for (const topic of artifacts.topics) {
      const li = element('li', { 'data-testid': 'topic' })
      li.append(element('strong', {}, topic.name), ` · ${plural(topic.prompts, 'prompt', 'prompts')}`)
      if (topic.terms.length > 0) li.append(element('span', { class: 'hint' }, ` (${topic.terms.join(', ')})`))
      list.append(li)
    }
    box.append(list)
    return box
  }

  private codes (artifacts: Artifacts): HTMLElement {
    const box = element('section', { class: 'card ds-artifact', 'data-testid': 'group-cloud' })
    box.append(element('h3', {}, 'Your group’s codes'))
    if (artifacts.codes === null) {
      box.append(element('p', { class: 'hint', 'data-testid': 'codes-held' }, 'Your facilitator has not shared the group’s codes yet.'))
      return box
    }
    if (artifacts.codes.length === 0) {
      box.append(element('p', { class: 'hint' }, 'Nobody has coded yet.'))
      return box
    }
    if (artifacts.word_cloud !== null) {
      box.append(element('img', {
        src: artifacts.word_cloud, alt: `A word cloud of the group’s codes: ${artifacts.codes.map((c) => c.label).join(', ')}`,
        class: 'ds-cloud-image', 'data-testid': 'word-cloud',
      }))
    }
    const cloud = element('ul', { class: 'ds-cloud', 'data-testid': 'code-cloud', 'aria-label': 'The group’s codes, larger when used more' })
    const sizes = cloudSizes(artifacts.codes)
    artifacts.codes.forEach((code, i) => {
      const word = element('li', {
        class: 'ds-cloud-word', 'data-testid': 'cloud-word', 'data-uses': String(code.uses),
        title: `${plural(code.uses, 'use', 'uses')} by ${plural(code.people, 'person', 'people')}`,
      }, code.label)
      word.style.fontSize = `${(sizes[i] ?? MIN_EM).toFixed(2)}em`
      cloud.append(word)
    })
    box.append(cloud)
    return box
  }
}
