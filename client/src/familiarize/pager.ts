/**
 * Pages read one at a time, with Back and Next and a bar that says how far along the reader is
 * ("Page 2 of 3"). The last page's button finishes (the caller records it and moves on). The
 * pages are nodes the caller built; see `htmlPage` for the server's sanitized HTML.
 */
import { errorMessage } from '../api'
import { element, whileBusy } from '../dom'

export interface PagerOptions {
  /** What is paged, for the test hooks and the bar's label, e.g. "orientation". */
  readonly name: string
  readonly label: string
  /** The last page's button, e.g. "Continue to the lesson". */
  readonly finishText: string
  /** The reader goes from page `from` (0-based) to the next; resolves once recorded. */
  readonly onNext?: (from: number) => Promise<void>
  /** The reader is done with the last page; resolves once recorded. */
  readonly onFinish: () => Promise<void>
}

/**
 * A page of HTML the server sanitized (orientation and lesson pages: Markdown rendered without raw
 * HTML, then cleaned by nh3). Nothing else from the server is ever inserted as HTML.
 */
export function htmlPage (sanitizedHtml: string): HTMLElement {
  const page = element('div', { class: 'rich-text' })
  page.innerHTML = sanitizedHtml
  for (const link of page.querySelectorAll('a[href]')) {
    link.setAttribute('target', '_blank')
    link.setAttribute('rel', 'noopener noreferrer nofollow')
  }
  return page
}

export class Pager {
  readonly el: HTMLElement
  private pages: readonly Node[] = []
  private index = 0
  private readonly body: HTMLElement
  private readonly position: HTMLElement
  private readonly bar: HTMLElement
  private readonly fill: HTMLElement
  private readonly back: HTMLButtonElement
  private readonly next: HTMLButtonElement
  private readonly error: HTMLElement

  constructor (private readonly options: PagerOptions) {
    this.el = element('div', { class: 'pager', 'data-testid': `${options.name}-pager` })
    const head = element('div', { class: 'pager-head' })
    this.position = element('p', { class: 'pager-position', 'data-testid': `${options.name}-page-position`, 'aria-live': 'polite' })
    this.bar = element('div', {
      class: 'meter', role: 'progressbar', 'aria-label': `${options.label}: pages read`,
      'aria-valuemin': '1', 'data-testid': `${options.name}-page-bar`,
    })
    this.fill = element('span', { class: 'meter-fill' })
    this.bar.append(this.fill)
    head.append(this.position, this.bar)
    this.body = element('div', { class: 'pager-page', 'data-testid': `${options.name}-page`, tabindex: '-1' })
    this.back = element('button', { type: 'button', class: 'secondary', 'data-testid': `${options.name}-back` }, 'Back')
    this.next = element('button', { type: 'button', 'data-testid': `${options.name}-next` }, 'Next')
    this.error = element('p', { class: 'error', role: 'alert', 'data-testid': `${options.name}-error` })
    const controls = element('div', { class: 'pager-controls' })
    controls.append(this.back, this.next)
    this.el.append(head, this.body, controls, this.error)
    this.back.addEventListener('click', () => { this.show(this.index - 1, true) })
    this.next.addEventListener('click', () => { this.forward() })
  }

  get page (): number {
    return this.index
  }

  get count (): number {
    return this.pages.length
  }

  /** Replace the pages (keeping the place when it still exists) and show page `at`, if given. */
  setPages (pages: readonly Node[], at?: number): void {
    this.pages = pages
    this.show(at ?? this.index, false)
  }

  show (index: number, focus: boolean): void {
    const last = Math.max(0, this.pages.length - 1)
    this.index = Math.min(Math.max(0, index), last)
    const page = this.pages[this.index]
    this.body.replaceChildren(...(page === undefined ? [] : [page]))
    const total = Math.max(1, this.pages.length)
    this.position.textContent = `Page ${this.index + 1} of ${total}`
    this.bar.setAttribute('aria-valuemax', String(total))
    this.bar.setAttribute('aria-valuenow', String(this.index + 1))
    this.bar.setAttribute('aria-valuetext', `Page ${this.index + 1} of ${total}`)
    this.fill.style.width = `${((this.index + 1) / total) * 100}%`
    this.el.dataset['page'] = String(this.index + 1)
    this.back.hidden = this.index === 0
    this.next.textContent = this.index >= last ? this.options.finishText : 'Next'
    this.next.dataset['last'] = String(this.index >= last)
    this.error.textContent = ''
    if (focus) {
      this.body.focus({ preventScroll: true })
      this.el.scrollIntoView({ block: 'start', behavior: 'instant' })
    }
  }

  private forward (): void {
    const from = this.index
    const finishing = from >= this.pages.length - 1
    this.error.textContent = ''
    whileBusy(this.next, finishing ? 'Saving…' : 'Next…', async () => {
      if (finishing) {
        await this.options.onFinish()
      } else {
        await this.options.onNext?.(from)
      }
    }).then(() => {
      if (!finishing) this.show(from + 1, true)
    }).catch((error: unknown) => {
      this.error.textContent = errorMessage(error)
    })
  }
}
