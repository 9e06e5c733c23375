/**
 * Keyed lists: components that stay in place while the data under them changes, so that an input
 * being typed in keeps its focus and caret, and an open <details> stays open.
 */

export interface Keyed {
  readonly el: HTMLElement
}

/**
 * Make `container`'s children the components for `keys`, in order: new ones made with `make`, gone
 * ones removed, the rest kept (and moved only when out of order).
 */
export function reconcile<C extends Keyed> (
  container: HTMLElement, components: Map<string, C>, keys: readonly string[], make: (key: string) => C,
): void {
  const wanted = new Set(keys)
  for (const [key, component] of components) {
    if (!wanted.has(key)) {
      component.el.remove()
      components.delete(key)
    }
  }
  let previous: Element | null = null
  for (const key of keys) {
    let component = components.get(key)
    if (component === undefined) {
      component = make(key)
      components.set(key, component)
    }
    const expected: Element | null = previous === null ? container.firstElementChild : previous.nextElementSibling
    if (expected !== component.el) {
      if (previous === null) container.prepend(component.el)
      else previous.after(component.el)
    }
    previous = component.el
  }
}
