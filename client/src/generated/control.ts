/**
 * Control-channel (/live) frames and the control document, as TypeScript types.
 *
 * GENERATED from shared_schema/control.json by scripts/gen_control_types.py; do not edit.
 * Change the schema, then run `.venv/bin/python scripts/gen_control_types.py`.
 * tests/test_live_schema.py fails when this file is not exactly the generator's output.
 *
 * Frames are MessagePack maps in binary WebSocket messages. Size limits are in the
 * comments: the server refuses a frame that breaks one with an `error` frame.
 */

/** The protocol version a server announces in `hello`. */
export const CONTROL_PROTOCOL = 1

/** Where the control channel is served. */
export const CONTROL_ENDPOINT = '/live'

/** The server's limits: frames per second (with a burst), frame size, and more (see control.md). */
export const CONTROL_LIMITS = {
  max_frame_bytes: 65536,
  messages_per_second: 20,
  burst: 40,
  max_rate_limited: 50,
  rate_limited_decay_per_second: 5,
  max_subscriptions: 8,
  max_outbox_bytes: 4194304,
} as const

// -- types ---------------------------------------------------------------

/**
 * An id of a study, group, participant or facilitator.
 * 1 to 40 characters, matching ^[A-Za-z0-9_-]{1,40}$
 */
export type Id = string

/**
 * Chosen by the client; echoed in the ack, error or pong that answers the frame.
 * 1 to 64 characters
 */
export type RequestId = string

/**
 * Milliseconds since the Unix epoch on the server's clock.
 * an integer from 0 to 9007199254740991
 */
export type ServerTime = number

/**
 * Milliseconds on the client's clock (Date.now() or performance.now()); echoed unchanged.
 * a finite number from 0 to 9007199254740991
 */
export type ClientTime = number

/**
 * Milliseconds, at most 24 hours.
 * an integer from 1 to 86400000
 */
export type DurationMs = number

/**
 * Milliseconds, at most 24 hours.
 * an integer from 0 to 86400000
 */
export type RemainingMs = number

export type Role = 'facilitator' | 'participant' | 'observer'

/** Stages of a live session: lobby, then the five segments of Discuss (individual top three, explore the canvas, presentations, group discussion, individual ratings), then closed. */
export type Segment = 'lobby' | 'top3' | 'explore' | 'present' | 'discuss' | 'rate' | 'closed'

/**
 * A timer's name, e.g. "segment" or "speaker".
 * 1 to 40 characters, matching ^[a-z0-9][a-z0-9_.:-]{0,39}$
 */
export type TimerName = string

/**
 * What was revealed, e.g. "top3".
 * 1 to 40 characters, matching ^[a-z0-9][a-z0-9_.:-]{0,39}$
 */
export type RevealKey = string

export type ErrorCode = 'malformed' | 'unknown_type' | 'invalid' | 'forbidden' | 'conflict' | 'limit' | 'rate_limited' | 'unavailable'

/** The four stages of a CALMA study, in their usual order (a study may use a subset, in its own order). */
export type Stage = 'familiarize' | 'interact' | 'reflect' | 'discuss'

/** Where one participant is in their study. */
export interface ParticipantProgress {
  readonly participant: Id
  /** at most 200 characters */
  readonly display_name: string
  readonly group: Id
  readonly stage: Stage
  /** When the participant joined or last changed stage. */
  readonly updated_at: ServerTime
}

/** Who the connection speaks for, as established when it connected. */
export interface Principal {
  readonly role: Role
  /** Null for a facilitator not limited to one study. */
  readonly study: Id | null
  /** Null for a facilitator: they may run every group of their studies. */
  readonly group: Id | null
  readonly participant: Id | null
  readonly facilitator: Id | null
}

/** The limits this connection is held to. */
export interface Limits {
  /** an integer from 1 to 16777216 */
  readonly max_frame_bytes: number
  /** a finite number from 0 to 100000 */
  readonly messages_per_second: number
  /** an integer from 1 to 100000 */
  readonly burst: number
  /** an integer from 1 to 1000 */
  readonly max_subscriptions: number
}

/** A countdown on server time. Idle: started_at and paused_remaining_ms are null, duration_ms remains. Running: started_at is set and the timer ends at started_at + duration_ms (after a pause, started_at is moved so that this holds). Paused: paused_remaining_ms is set. */
export interface Timer {
  /** The full length, including extensions. */
  readonly duration_ms: DurationMs
  readonly started_at: ServerTime | null
  readonly paused_remaining_ms: RemainingMs | null
}

/**
 * A point on the semantic canvas, in canvas units (the server's layout spreads cards about 1000 units from the centre).
 * a finite number from -1000000 to 1000000
 */
export type CanvasCoordinate = number

/**
 * Canvas scale: screen pixels per canvas unit.
 * a finite number from 0.01 to 50
 */
export type CanvasZoom = number

/** Where the facilitator brought everyone on the canvas: the point at the centre of the screen, the zoom, and when. */
export interface CanvasView {
  readonly x: CanvasCoordinate
  readonly y: CanvasCoordinate
  readonly zoom: CanvasZoom
  readonly at: ServerTime
}

/** The control document of one live session. */
export interface ControlState {
  readonly segment: Segment
  readonly segment_since: ServerTime | null
  /** at most 16 entries */
  readonly timers: { readonly [key: TimerName]: Timer }
  /**
   * What has been revealed, with the server time of the reveal.
   * at most 32 entries
   */
  readonly reveals: { readonly [key: RevealKey]: ServerTime }
  /** The participant in the spotlight. */
  readonly speaker: Id | null
  readonly speaker_since: ServerTime | null
  /**
   * Participants with a raised hand, in the order they raised it.
   * at most 64 entries
   */
  readonly queue: ReadonlyArray<Id>
  /** The canvas view the facilitator brought everyone to (view.set); clients follow when `at` changes. */
  readonly view: CanvasView | null
}

/** A chat message's state. A participant's message is complete once stored; a reply is queued (waiting for a slot on the model), streaming, then complete, stopped (stop pressed, or the participant left), failed (the model's server failed; error says how) or interrupted (the server stopped mid-reply). Stopped, failed and interrupted replies keep the text that was shown. */
export type ChatStatus = 'queued' | 'streaming' | 'complete' | 'stopped' | 'failed' | 'interrupted'

/**
 * A participant's message; the study's max_prompt_chars applies too (error limit).
 * at most 20000 characters
 */
export type ChatText = string

/** One stored turn of a conversation. */
export interface ChatMessage {
  readonly id: Id
  readonly conversation: Id
  /** an integer from 1 to 1000000 */
  readonly seq: number
  readonly role: 'user' | 'assistant'
  /** at most 200000 characters */
  readonly content: string
  readonly status: ChatStatus
  /** at most 100 characters */
  readonly model: string | null
  /** at most 300 characters */
  readonly error: string | null
  /** A regenerated reply: the reply it replaces (which stays on record). */
  readonly replaces: Id | null
  readonly created_at: ServerTime
}

/**
 * Move the session to a segment (forwards or back).
 * Who may send it: facilitator.
 */
export interface SegmentSetCommand {
  readonly name: 'segment.set'
  readonly segment: Segment
}

/**
 * Start an idle timer (duration_ms sets its length; required for a new timer) or resume a paused one (duration_ms not allowed).
 * Who may send it: facilitator.
 */
export interface TimerStartCommand {
  readonly name: 'timer.start'
  readonly timer: TimerName
  readonly duration_ms?: DurationMs
}

/**
 * Pause a running timer, keeping what remains.
 * Who may send it: facilitator.
 */
export interface TimerPauseCommand {
  readonly name: 'timer.pause'
  readonly timer: TimerName
}

/**
 * Add time to a timer in any state; its full length stays at most 24 hours.
 * Who may send it: facilitator.
 */
export interface TimerExtendCommand {
  readonly name: 'timer.extend'
  readonly timer: TimerName
  readonly by_ms: DurationMs
}

/**
 * Stop a timer and make it idle with its full length (or duration_ms; required for a new timer).
 * Who may send it: facilitator.
 */
export interface TimerResetCommand {
  readonly name: 'timer.reset'
  readonly timer: TimerName
  readonly duration_ms?: DurationMs
}

/**
 * Reveal something to everyone; revealing it again keeps the first time.
 * Who may send it: facilitator.
 */
export interface RevealCommand {
  readonly name: 'reveal'
  readonly what: RevealKey
}

/**
 * Put a participant in the spotlight (null: nobody); they leave the queue.
 * Who may send it: facilitator.
 */
export interface SpeakerSetCommand {
  readonly name: 'speaker.set'
  readonly participant: Id | null
}

/**
 * The sender joins the end of the queue (no change if already in it).
 * Who may send it: participant.
 */
export interface HandRaiseCommand {
  readonly name: 'hand.raise'
}

/**
 * The sender leaves the queue (no change if not in it).
 * Who may send it: participant.
 */
export interface HandLowerCommand {
  readonly name: 'hand.lower'
}

/**
 * Bring everyone's canvas to this view: (x, y) at the centre of the screen, at this zoom.
 * Who may send it: facilitator.
 */
export interface ViewSetCommand {
  readonly name: 'view.set'
  readonly x: CanvasCoordinate
  readonly y: CanvasCoordinate
  readonly zoom: CanvasZoom
}

/** A change to the control document, asked for by a client; `roles` says who may send it. */
export type Command =
  | SegmentSetCommand
  | TimerStartCommand
  | TimerPauseCommand
  | TimerExtendCommand
  | TimerResetCommand
  | RevealCommand
  | SpeakerSetCommand
  | HandRaiseCommand
  | HandLowerCommand
  | ViewSetCommand

// -- frames --------------------------------------------------------------

/** `hello` (server → client): The first frame on every connection. */
export interface HelloFrame {
  readonly type: 'hello'
  /** an integer from 1 to 1000 */
  readonly protocol: number
  readonly server_time: ServerTime
  readonly principal: Principal
  readonly limits: Limits
}

/** `ping` (client → server): Asks for a pong; with the pong's times the client estimates its clock offset. */
export interface PingFrame {
  readonly type: 'ping'
  readonly id?: RequestId
  readonly client_time: ClientTime
}

/** `pong` (server → client): Answers a ping: the client's time echoed and the server's time when it answered. */
export interface PongFrame {
  readonly type: 'pong'
  readonly id?: RequestId
  readonly client_time: ClientTime
  readonly server_time: ServerTime
}

/** `ack` (server → client): A request was carried out; sent after every frame the request caused (e.g. the control.state showing a command's effect). */
export interface AckFrame {
  readonly type: 'ack'
  readonly id?: RequestId
}

/** `error` (server → client): A frame was refused; the connection stays open unless a close follows. */
export interface ErrorFrame {
  readonly type: 'error'
  /** The refused frame's id, when it could be read. */
  readonly id?: RequestId
  readonly code: ErrorCode
  /** at most 300 characters */
  readonly message: string
  /** an integer from 0 to 60000 */
  readonly retry_after_ms?: number
}

/** `session.subscribe` (client → server): Receive the control state of a live session now (control.state, then ack) and after every change. */
export interface SessionSubscribeFrame {
  readonly type: 'session.subscribe'
  readonly id?: RequestId
  readonly study: Id
  readonly group: Id
}

/** `session.unsubscribe` (client → server): Stop receiving a session's control state (acked even when not subscribed). */
export interface SessionUnsubscribeFrame {
  readonly type: 'session.unsubscribe'
  readonly id?: RequestId
  readonly study: Id
  readonly group: Id
}

/** `control.command` (client → server): Ask the server to change a session's control document; refused with forbidden unless the sender's role is in the command's roles and the session is theirs. */
export interface ControlCommandFrame {
  readonly type: 'control.command'
  readonly id?: RequestId
  readonly study: Id
  readonly group: Id
  readonly command: Command
}

/** `control.state` (server → client): The whole control state of a session, to subscribers, after subscribing and after every change. */
export interface ControlStateFrame {
  readonly type: 'control.state'
  readonly study: Id
  readonly group: Id
  readonly state: ControlState
  readonly server_time: ServerTime
}

/** `study.watch` (client → server): Facilitators: receive every participant's progress in a study now (progress.state, then ack) and each change after (progress.update). Refused with forbidden unless the sender is the study's facilitator. */
export interface StudyWatchFrame {
  readonly type: 'study.watch'
  readonly id?: RequestId
  readonly study: Id
}

/** `study.unwatch` (client → server): Stop receiving a study's progress (acked even when not watching). */
export interface StudyUnwatchFrame {
  readonly type: 'study.unwatch'
  readonly id?: RequestId
  readonly study: Id
}

/** `progress.state` (server → client): Every participant's progress in a watched study, after study.watch (and after reconnecting and watching again). */
export interface ProgressStateFrame {
  readonly type: 'progress.state'
  readonly study: Id
  /** at most 4 entries */
  readonly stage_order: ReadonlyArray<Stage>
  /** at most 5000 entries */
  readonly participants: ReadonlyArray<ParticipantProgress>
  readonly server_time: ServerTime
}

/** `progress.update` (server → client): One participant of a watched study joined or changed stage: replace what you have for them (keep the later updated_at). */
export interface ProgressUpdateFrame {
  readonly type: 'progress.update'
  readonly study: Id
  readonly progress: ParticipantProgress
}

/** `chat.send` (client → server): Participants: send a message in a conversation of yours. Answered by chat.turn (your message), chat.turn (the reply, queued), then ack; the reply then streams to this connection: chat.queue while it waits, chat.start, chat.delta pieces, chat.end. */
export interface ChatSendFrame {
  readonly type: 'chat.send'
  readonly id?: RequestId
  readonly conversation: Id
  readonly text: ChatText
}

/** `chat.stop` (client → server): Participants: stop a reply of yours that is queued or streaming; it ends (chat.end, stopped) with the text shown so far. Acked even if it had already ended. */
export interface ChatStopFrame {
  readonly type: 'chat.stop'
  readonly id?: RequestId
  readonly reply: Id
}

/** `chat.regenerate` (client → server): Participants: a new reply to the conversation's last message, replacing the last reply (kept on record). Answered by chat.turn (the new reply, queued), then ack. */
export interface ChatRegenerateFrame {
  readonly type: 'chat.regenerate'
  readonly id?: RequestId
  readonly conversation: Id
}

/** `chat.turn` (server → client): A message was stored: the participant's own, or a reply about to stream. */
export interface ChatTurnFrame {
  readonly type: 'chat.turn'
  readonly message: ChatMessage
}

/** `chat.queue` (server → client): The reply waits for a slot on the model; position 0 is next. */
export interface ChatQueueFrame {
  readonly type: 'chat.queue'
  readonly reply: Id
  /** an integer from 0 to 1000000 */
  readonly position: number
}

/** `chat.start` (server → client): The model started on the reply. */
export interface ChatStartFrame {
  readonly type: 'chat.start'
  readonly reply: Id
}

/** `chat.delta` (server → client): More text of the reply, already stored: append it. */
export interface ChatDeltaFrame {
  readonly type: 'chat.delta'
  readonly reply: Id
  /** at most 200000 characters */
  readonly text: string
}

/** `chat.end` (server → client): The reply ended; status says how and error why (stopped, failed, interrupted). The stored reply holds exactly the text sent in chat.delta frames. */
export interface ChatEndFrame {
  readonly type: 'chat.end'
  readonly reply: Id
  readonly status: ChatStatus
  /** at most 300 characters */
  readonly error: string | null
  /** an integer from 0 to 1000000 */
  readonly completion_tokens: number
  /**
   * Time from the model starting to its first text.
   * an integer from 0 to 86400000
   */
  readonly ttft_ms: number | null
}

/** `reflect.changed` (server → client): Your Reflect records changed (from this or another tab or device): read them again (GET /api/studies/{study}/reflect) if your version is older. */
export interface ReflectChangedFrame {
  readonly type: 'reflect.changed'
  readonly study: Id
  /** an integer from 0 to 1000000000 */
  readonly version: number
}

/** Every frame a client may send. */
export type ClientFrame =
  | PingFrame
  | SessionSubscribeFrame
  | SessionUnsubscribeFrame
  | ControlCommandFrame
  | StudyWatchFrame
  | StudyUnwatchFrame
  | ChatSendFrame
  | ChatStopFrame
  | ChatRegenerateFrame

/** Every frame a server may send. */
export type ServerFrame =
  | HelloFrame
  | PongFrame
  | AckFrame
  | ErrorFrame
  | ControlStateFrame
  | ProgressStateFrame
  | ProgressUpdateFrame
  | ChatTurnFrame
  | ChatQueueFrame
  | ChatStartFrame
  | ChatDeltaFrame
  | ChatEndFrame
  | ReflectChangedFrame

export const CLIENT_FRAME_TYPES: ReadonlyArray<ClientFrame['type']> = ['ping', 'session.subscribe', 'session.unsubscribe', 'control.command', 'study.watch', 'study.unwatch', 'chat.send', 'chat.stop', 'chat.regenerate']

export const SERVER_FRAME_TYPES: ReadonlyArray<ServerFrame['type']> = ['hello', 'pong', 'ack', 'error', 'control.state', 'progress.state', 'progress.update', 'chat.turn', 'chat.queue', 'chat.start', 'chat.delta', 'chat.end', 'reflect.changed']

// -- who may do what, errors and close codes -------------------------------

/** The roles that may send each command; the server refuses others with `forbidden`. */
export const COMMAND_ROLES: { readonly [N in Command['name']]: ReadonlyArray<Role> } = {
  'segment.set': ['facilitator'],
  'timer.start': ['facilitator'],
  'timer.pause': ['facilitator'],
  'timer.extend': ['facilitator'],
  'timer.reset': ['facilitator'],
  reveal: ['facilitator'],
  'speaker.set': ['facilitator'],
  'hand.raise': ['participant'],
  'hand.lower': ['participant'],
  'view.set': ['facilitator'],
}

/** What each error code means. */
export const ERROR_CODE_MEANINGS: { readonly [C in ErrorCode]: string } = {
  malformed: 'the frame is not a MessagePack map with string keys in a binary message',
  unknown_type: 'the frame\'s type is not a client frame type',
  invalid: 'a field is missing, of the wrong type, out of range or too long, or an unknown field is present',
  forbidden: 'the sender\'s role or session does not allow this',
  conflict: 'the command does not fit the current control state (e.g. pausing a timer that is not running)',
  limit: 'a per-connection or per-session limit was reached',
  rate_limited: 'too many frames; wait retry_after_ms before sending again',
  unavailable: 'the server could not load or store the session\'s control document; try again',
}

export interface ControlCloseCode {
  readonly name: string
  readonly reason: string
  /** Whether reconnecting can help. */
  readonly retry: boolean
}

/** WebSocket close codes of /live. */
export const CONTROL_CLOSE_CODES: { readonly [code: number]: ControlCloseCode } = {
  1001: {
    name: 'GOING_AWAY',
    reason: 'server shutting down',
    retry: true,
  },
  1009: {
    name: 'FRAME_TOO_LARGE',
    reason: 'frame exceeds the size limit',
    retry: false,
  },
  1011: {
    name: 'INTERNAL_ERROR',
    reason: 'the control channel failed',
    retry: true,
  },
  4401: {
    name: 'UNAUTHORIZED',
    reason: 'no valid session or token',
    retry: false,
  },
  4408: {
    name: 'TOO_SLOW',
    reason: 'client fell too far behind; reconnect to resync',
    retry: true,
  },
  4429: {
    name: 'RATE_LIMITED',
    reason: 'too many frames over the rate limit',
    retry: true,
  },
}

// -- the control document --------------------------------------------------

/** Per live session (study + group), a Yjs document that only the server writes. Clients read it as a read-only hub room, or receive control.state frames after session.subscribe. Its one top-level type is the Y.Map named by `map`; each key of ControlState is one entry of that map holding a plain (JSON) value; an absent entry means the field's default. */
export const CONTROL_MAP = 'control'

/** The state of a control document in which nothing has happened yet (absent entries read as these). */
export const CONTROL_STATE_DEFAULTS: ControlState = {
  segment: 'lobby',
  segment_since: null,
  timers: {},
  reveals: {},
  speaker: null,
  speaker_since: null,
  queue: [],
  view: null,
}

/** The hub room holding a live session's control document (read-only for clients). */
export function controlRoomName (study: Id, group: Id): string {
  return `study-${study}.group-${group}.control`
}
