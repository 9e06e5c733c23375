/**
 * Small DOM helpers shared by every page: typed element lookup, element creation
 * (text only: remote text never becomes HTML), and busy buttons.
 */

/** The element with `id`, checked to be of the expected type. */
export function byId<T extends HTMLElement> (id: string, type: new () => T): T {
  const el = document.getElementById(id)
  if (!(el instanceof type)) throw new Error(`missing element #${id}`)
  return el
}

/** A new element with attributes and, optionally, text content. */
export function element<K extends keyof HTMLElementTagNameMap> (
  tag: K, attrs: Record<string, string> = {}, text?: string,
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value)
  if (text !== undefined) el.textContent = text
  return el
}

/**
 * Run `action` with `button` disabled and showing `busyText` (with a spinner), then restore it.
 * Returns what the action returned.
 */
export async function whileBusy<T> (button: HTMLButtonElement, busyText: string, action: () => Promise<T>): Promise<T> {
  const label = button.textContent ?? ''
  button.disabled = true
  button.setAttribute('aria-busy', 'true')
  button.replaceChildren(element('span', { class: 'spinner', 'aria-hidden': 'true' }), document.createTextNode(busyText))
  try {
    return await action()
  } finally {
    button.disabled = false
    button.removeAttribute('aria-busy')
    button.textContent = label
  }
}

/** A date and time in the reader's locale, e.g. "12 Mar 2026, 14:05". */
export function formatDateTime (iso: string | number): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return String(iso)
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}
