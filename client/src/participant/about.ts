/** What participants read about CALMA, in one place for every participant page. */

export const WHAT_IS_CALMA =
  'CALMA (Context-aligned Axes for Language Model Alignment) asks the people an AI assistant will serve ' +
  'which values it should be judged and improved on in one setting. You will get to know the setting, chat ' +
  'with the assistant, note the values you see in its answers, and agree with your group on the ones that ' +
  'matter most. There are no right or wrong answers: your own view is what counts.'

/** Fill every `[data-calma-about]` element with the text. */
export function fillAboutCalma (root: ParentNode = document): void {
  for (const el of root.querySelectorAll('[data-calma-about]')) el.textContent = WHAT_IS_CALMA
}
