"""The study model: plain, immutable records as the store of record holds them.

Times are Unix seconds (float). Ids are 16 lowercase hex characters, so that
they fit in room names (`study-<id>.group-<id>.p-<id>`).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

ID_PATTERN = r"^[0-9a-f]{16}$"


def new_id() -> str:
    """A fresh random id (64 bits, hex)."""
    return secrets.token_hex(8)


def is_id(text: str) -> bool:
    return re.fullmatch(ID_PATTERN, text) is not None


class Stage(StrEnum):
    """The four stages of a CALMA study, in their usual order."""

    FAMILIARIZE = "familiarize"
    INTERACT = "interact"
    REFLECT = "reflect"
    DISCUSS = "discuss"


DEFAULT_STAGE_ORDER: tuple[Stage, ...] = (Stage.FAMILIARIZE, Stage.INTERACT, Stage.REFLECT, Stage.DISCUSS)


class Role(StrEnum):
    """What a person is in a study."""

    FACILITATOR = "facilitator"  # owns studies; reads and writes everything in them
    PARTICIPANT = "participant"  # belongs to one group of one study
    OBSERVER = "observer"  # watches one group's live session; writes nothing


@dataclass(frozen=True)
class DeploymentContext:
    """Where the model will be deployed: what the study aligns it for."""

    name: str
    description: str
    system_prompt: str
    models: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainingExample:
    """A worked example from the training context: value codes contrasted with structural descriptions."""

    id: str
    prompt: str
    response: str
    notes: str = ""
    value_codes: tuple[str, ...] = ()  # e.g. "assumes a Western kitchen", "safety-conscious"
    structural_codes: tuple[str, ...] = ()  # e.g. "summary", "list": what is *not* a value code


@dataclass(frozen=True)
class PracticeItem:
    """A response the participant codes first; then they see the facilitator's example codes."""

    id: str
    prompt: str
    response: str
    example_codes: tuple[str, ...] = ()
    explanation: str = ""


@dataclass(frozen=True)
class CheckOption:
    code: str
    is_value: bool


@dataclass(frozen=True)
class CheckItem:
    """An excerpt and candidate codes: the participant picks those that describe values."""

    id: str
    excerpt: str
    options: tuple[CheckOption, ...]
    explanation: str = ""


@dataclass(frozen=True)
class Familiarize:
    """Stage 1 beyond the orientation: the coding lesson, the practice round and the check before Interact."""

    lesson: str = ""  # markdown; a line holding only `---` starts a new page
    practice: tuple[PracticeItem, ...] = ()
    check: tuple[CheckItem, ...] = ()
    pass_mark: float = 0.75  # share of options judged right
    max_attempts: int = 5  # 0: as many as needed (a limit keeps the check from being passed by trying every answer)


@dataclass(frozen=True)
class TrainingContext:
    """An unrelated context participants learn grounded-theory coding on, so they are not primed."""

    name: str
    system_prompt: str
    examples: tuple[TrainingExample, ...] = ()


@dataclass(frozen=True)
class BaselineInteraction:
    """A prompt and a model response that every participant of the study codes."""

    id: str
    prompt: str
    response: str
    prompt_reconstructed: bool = False


class ModelChoice(StrEnum):
    """Who picks the model of a new conversation."""

    PARTICIPANT = "participant"  # the participant chooses among the study's models
    ASSIGNED = "assigned"  # the server assigns one per conversation, in turn (the participant is not told which)


@dataclass(frozen=True)
class InteractSettings:
    """How participants chat in Interact: model choice, sampling and per-participant limits."""

    model_choice: ModelChoice = ModelChoice.ASSIGNED
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 256
    max_prompt_chars: int = 4000
    turns_per_minute: int = 6
    max_concurrent_replies: int = 2  # conversations generating at once, per participant
    max_conversations: int = 50


@dataclass(frozen=True)
class DiscussSettings:
    """How the live Discuss session shows what people wrote."""

    anonymous_canvas: bool = True  # cards on the semantic canvas show no authors (privacy by default)
    artifact_link: str = ""  # an optional link for the session artifacts (e.g. a video), http(s) only


@dataclass(frozen=True)
class StudyContent:
    """Everything a facilitator edits about a study."""

    name: str
    deployment_context: DeploymentContext
    orientation: str  # markdown shown in Familiarize
    training_context: TrainingContext
    baseline_interactions: tuple[BaselineInteraction, ...] = ()
    stage_order: tuple[Stage, ...] = DEFAULT_STAGE_ORDER
    interact: InteractSettings = InteractSettings()
    familiarize: Familiarize = Familiarize()
    discuss: DiscussSettings = DiscussSettings()


@dataclass(frozen=True)
class Study:
    id: str
    owner_id: str
    content: StudyContent
    created_at: float
    updated_at: float

    @property
    def name(self) -> str:
        return self.content.name

    @property
    def first_stage(self) -> Stage:
        return self.content.stage_order[0]


@dataclass(frozen=True)
class Group:
    id: str
    study_id: str
    name: str
    created_at: float


@dataclass(frozen=True)
class Facilitator:
    id: str
    email: str
    name: str
    created_at: float


@dataclass(frozen=True)
class FacilitatorAccount:
    """A facilitator with the Argon2id hash of their password (never leaves the server)."""

    facilitator: Facilitator
    password_hash: str


@dataclass(frozen=True)
class Participant:
    id: str
    study_id: str
    group_id: str
    display_name: str
    created_at: float
    invite_id: str | None = None  # the invite they joined through


class InviteKind(StrEnum):
    """Who an invite is for: one person, or up to `max_uses` people."""

    # One person. A participant invite makes its participant on the first open and resumes that same
    # participant on every later open (another browser, another device); revoke or re-issue it to end it.
    PERSONAL = "personal"
    # Each open is a new person, up to the invite's `max_uses` (counted atomically as people join).
    GROUP = "group"


@dataclass(frozen=True)
class Invite:
    """A signed token refers to one of these; revoking it (or its expiry) ends the token.

    Invite links (role participant or observer) let people join a group: a
    personal link is one person's (its `participant_id` is set on the first open),
    a group link admits up to `max_uses` people. `calma admin token` issues
    personal invites bound to an identity directly: a participant
    (`participant_id` set), an observer, or the study's facilitator.
    """

    id: str
    study_id: str
    group_id: str | None
    role: Role
    expires_at: float
    created_at: float
    revoked_at: float | None = None
    created_by: str | None = None  # facilitator id; None when issued by `calma admin token`
    participant_id: str | None = None
    kind: InviteKind = InviteKind.PERSONAL
    max_uses: int | None = None  # group links: how many people may join; None only on links from before the limit
    uses: int = 0  # how many times it was opened (group links: how many people joined)
    label: str = ""  # the facilitator's note of who the invite is for

    def expired(self, now: float) -> bool:
        return self.expires_at <= now

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def used_up(self) -> bool:
        return self.kind is InviteKind.GROUP and self.max_uses is not None and self.uses >= self.max_uses


@dataclass(frozen=True)
class SessionRecord:
    """A signed-in browser: who it is. Stored under the SHA-256 of the cookie's value."""

    role: Role
    created_at: float
    expires_at: float
    facilitator_id: str | None = None
    participant_id: str | None = None
    study_id: str | None = None  # participant / observer: their study; facilitator: a scope, if any
    group_id: str | None = None
    display_name: str = ""  # observers have no participant record; their name lives here


@dataclass(frozen=True)
class Progress:
    """Where one participant is in their study."""

    participant_id: str
    study_id: str
    group_id: str
    display_name: str
    stage: Stage
    updated_at: float
