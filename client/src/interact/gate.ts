/**
 * Whether Interact is open for the participant (stages open in order as each is completed, or
 * when the facilitator opens them). When it is not, the page says so and why, above the chat;
 * it does not lock the controls, since the facilitator may open it at any moment and the server
 * refuses (with its reason, shown where it was refused) whatever is not allowed yet.
 */
import { interactApi, type ParticipantStages, type StageState } from './rest'

/** Words for why Interact is closed, from the server's reason. */
export function closedText (status: StageState): string {
  if (status.set_by !== 'rule') return 'Your facilitator has closed Interact for now.'
  return 'Interact opens once you have finished Familiarize.'
}

export class StageGateNotice {
  constructor (
    private readonly notice: HTMLElement,
    private readonly text: HTMLElement,
    private readonly study: string,
    private readonly participant: string,
    /** Told the participant's stages each time they are read. */
    private readonly onStages?: (stages: ParticipantStages) => void,
  ) {}

  /** The server just let the participant chat: Interact is open. */
  opened (): void {
    this.notice.hidden = true
  }

  /** Read the participant's stages again and show or hide the notice. */
  async check (): Promise<void> {
    let stages: ParticipantStages
    try {
      stages = await interactApi.stages(this.study, this.participant)
    } catch {
      return // not knowing changes nothing: the server still refuses what is not open
    }
    this.onStages?.(stages)
    const interact: StageState | undefined = stages.stages.find((s) => s.stage === 'interact')
    const open = interact === undefined || interact.state === 'open'
    this.notice.hidden = open
    this.text.textContent = interact === undefined || open ? '' : closedText(interact)
  }
}
