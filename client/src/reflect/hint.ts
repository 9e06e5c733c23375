/**
 * The gentle note for a code that may describe the structure of an answer ("summary",
 * "introduction") rather than a value in it: the server's words and a link to the training
 * examples in Familiarize. It never blocks anything.
 */
import { element } from '../dom'

export const TRAINING_PAGE = '/familiarize/'

export function hintNote (label: string, hint: string): HTMLElement {
  const note = element('p', { class: 'rf-hint', 'data-testid': 'code-hint', 'data-label': label, role: 'note' })
  note.append(
    element('strong', {}, `“${label}”: `),
    document.createTextNode(`${hint} `),
    element('a', { href: TRAINING_PAGE, 'data-testid': 'training-link', target: '_blank', rel: 'noopener' },
      'See the training examples'),
  )
  return note
}
