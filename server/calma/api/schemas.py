"""The REST API's request and response bodies, as pydantic models.

They are the single source of the API's JSON shapes: requests are validated
against them and `/api/openapi.json` is generated from them. Every string has
a size limit; request models refuse unknown fields.

Every string anywhere in a request (a field, a list item, a dict key, a value
under `Any`) must be storable text (`calma.studies.text`): `RequestModel` checks
the validated request as a whole, so no field can forget it, and a NUL or a lone
surrogate is a 422 naming the field (`text_unstorable`), never a 503 from the
store. Display names are normalised (`DisplayName`).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator, BaseModel, ConfigDict, Field, ModelWrapValidatorHandler, ValidationError, model_validator,
)
from pydantic_core import PydanticCustomError

from calma.access.principal import Principal
from calma.studies import model, text
from calma.studies.model import ID_PATTERN, ModelChoice, Role, Stage
from calma.studies.rooms import StudyRoom
from calma.interact.conversations import Conversation as ConversationRecord
from calma.interact.conversations import Message as MessageRecord
from calma.studies.templates import Template

# -- field types -------------------------------------------------------------

Id = Annotated[str, Field(pattern=ID_PATTERN, min_length=16, max_length=16, description="16 lowercase hex digits")]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S", description="not blank; at most 200")]
DISPLAY_NAME_MAX = 80


def _display_name(value: str) -> str:
    try:
        return text.display_name(value, DISPLAY_NAME_MAX)
    except text.UnstorableText as exc:
        raise PydanticCustomError("text_unstorable", str(exc)) from None
    except text.InvalidDisplayName as exc:
        raise PydanticCustomError("display_name", str(exc)) from None


DisplayName = Annotated[
    str,
    Field(min_length=1, max_length=DISPLAY_NAME_MAX,
          description="at most 80; stored NFKC-normalised, without zero-width or bidi control characters, trimmed, "
                      "whitespace collapsed, and not blank after that"),
    AfterValidator(_display_name),
]
ShortText = Annotated[str, Field(max_length=200)]
Description = Annotated[str, Field(max_length=4_000)]
Prompt = Annotated[str, Field(max_length=20_000)]
LongText = Annotated[str, Field(max_length=50_000)]
Markdown = Annotated[str, Field(max_length=100_000)]
ModelName = Annotated[str, Field(min_length=1, max_length=100)]
ItemId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
Email = Annotated[str, Field(min_length=3, max_length=254)]
Password = Annotated[str, Field(min_length=1, max_length=1024)]
Token = Annotated[str, Field(min_length=1, max_length=256)]


def _unique_ids(items: list[BaselineInteractionIn]) -> list[BaselineInteractionIn]:
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise ValueError("baseline interaction ids must be unique")
    return items


def _unique_stages(stages: list[Stage]) -> list[Stage]:
    if len(set(stages)) != len(stages):
        raise ValueError("each stage may appear once")
    return stages


class RequestModel(BaseModel):
    """A request body or query: unknown fields refused, and every string in it storable."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _storable_text(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        validated = handler(data)
        found = text.find_unstorable(validated)
        if found is not None:
            path, value, problem = found
            error = PydanticCustomError("text_unstorable", problem)
            raise ValidationError.from_exception_data(cls.__name__, [{"type": error, "loc": path, "input": value}])
        return validated


class ReplyModel(BaseModel):
    pass


# -- requests ----------------------------------------------------------------


class SignIn(RequestModel):
    email: Email
    password: Password


class JoinRequest(RequestModel):
    token: Token = Field(description="the token of an invite link (`/join?token=...`) or from `calma admin token`")
    display_name: DisplayName = Field(
        description="how others see you (at most 80; stored NFKC-normalised, without zero-width or bidi control "
                    "characters, trimmed, whitespace collapsed; 409 when it looks like the name of someone in the group); "
                    "ignored when the token names a participant"
    )


class JoinQuery(RequestModel):
    model_config = ConfigDict(extra="ignore")
    token: Token = Field(description="the token of an invite link (`/join?token=...`)")


class StudyCreate(RequestModel):
    template: Template = Field(
        default=Template.BLANK, description="`pilot`: the CALMA pilot's context, prompt and baseline; `blank`: empty"
    )
    name: Name | None = Field(default=None, description="the study's name (default: the template's)")


class DeploymentContextIn(RequestModel):
    name: ShortText
    description: Description
    system_prompt: Prompt
    models: Annotated[list[ModelName], Field(max_length=20)] = Field(default_factory=list)


class DeploymentContextPatch(RequestModel):
    name: ShortText | None = None
    description: Description | None = None
    system_prompt: Prompt | None = None
    models: Annotated[list[ModelName], Field(max_length=20)] | None = None


Code = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S", description="a code: a short label")]
Codes = Annotated[list[Code], Field(max_length=20)]


class TrainingExampleIn(RequestModel):
    """A worked example: value codes contrasted with structural descriptions."""

    id: ItemId
    prompt: LongText
    response: LongText
    notes: Description = ""
    value_codes: Codes = Field(default_factory=list)
    structural_codes: Codes = Field(default_factory=list)


class PracticeItemIn(RequestModel):
    id: ItemId
    prompt: LongText
    response: LongText
    example_codes: Codes = Field(default_factory=list, description="the facilitator's codes, shown after the participant's")
    explanation: Description = ""


class CheckOptionIn(RequestModel):
    code: Code
    is_value: bool


def _distinct_codes(options: list[CheckOptionIn]) -> list[CheckOptionIn]:
    codes = [option.code.casefold() for option in options]
    if len(set(codes)) != len(codes):
        raise ValueError("each option of a check item needs its own code")
    return options


class CheckItemIn(RequestModel):
    id: ItemId
    excerpt: LongText
    options: Annotated[list[CheckOptionIn], Field(min_length=2, max_length=12), AfterValidator(_distinct_codes)]
    explanation: Description = ""


def _unique_item_ids(items: list[Any]) -> list[Any]:
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise ValueError("item ids must be unique")
    return items


class FamiliarizePatch(RequestModel):
    """Familiarize's lesson, practice round and check; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid", strict=True)

    lesson: Markdown | None = Field(default=None, description="markdown; a line of `---` between blank lines starts a page")
    practice: Annotated[list[PracticeItemIn], Field(max_length=50), AfterValidator(_unique_item_ids)] | None = None
    check: Annotated[list[CheckItemIn], Field(max_length=50), AfterValidator(_unique_item_ids)] | None = None
    pass_mark: Annotated[float, Field(ge=0, le=1)] | None = Field(default=None, description="share of options judged right")
    max_attempts: Annotated[int, Field(ge=0, le=100)] | None = Field(default=None, description="0: unlimited")


class TrainingContextPatch(RequestModel):
    name: ShortText | None = None
    system_prompt: Prompt | None = None
    examples: Annotated[list[TrainingExampleIn], Field(max_length=100)] | None = None


class BaselineInteractionIn(RequestModel):
    id: ItemId
    prompt: LongText
    response: LongText
    prompt_reconstructed: bool = False


class InteractSettingsPatch(RequestModel):
    """How participants chat with the model in Interact; fields left out stay as they are. Numbers are numbers."""

    model_config = ConfigDict(extra="forbid", strict=True)

    model_choice: ModelChoice | None = Field(
        default=None, description="`participant`: they pick a model per conversation; `assigned`: the server assigns one in turn"
    )
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(gt=0, le=1)] | None = None
    max_tokens: Annotated[int, Field(ge=1, le=4096)] | None = Field(default=None, description="per reply")
    max_prompt_chars: Annotated[int, Field(ge=1, le=20_000)] | None = Field(default=None, description="per message")
    turns_per_minute: Annotated[int, Field(ge=1, le=120)] | None = Field(default=None, description="per participant")
    max_concurrent_replies: Annotated[int, Field(ge=1, le=10)] | None = Field(
        default=None, description="conversations generating at once, per participant"
    )
    max_conversations: Annotated[int, Field(ge=1, le=1000)] | None = Field(default=None, description="per participant")


class DiscussSettingsPatch(RequestModel):
    """How the live Discuss session shows what people wrote; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid", strict=True)

    anonymous_canvas: bool | None = Field(
        default=None, description="cards on the semantic canvas show no authors (the default: true)"
    )
    artifact_link: (
        Annotated[str, Field(max_length=2000, pattern=r"^(https?://\S+)?$",
                             description="a link shown with the session artifacts (e.g. a video); empty for none")]
        | None
    ) = None


class DiscussSettings(ReplyModel):
    anonymous_canvas: bool
    artifact_link: str


class StudyPatch(RequestModel):
    """Fields left out (or null) stay as they are."""

    name: Name | None = None
    deployment_context: DeploymentContextPatch | None = None
    orientation: Markdown | None = Field(default=None, description="markdown shown in Familiarize")
    training_context: TrainingContextPatch | None = None
    baseline_interactions: (
        Annotated[
            list[BaselineInteractionIn],
            Field(max_length=500, description="replaces the whole set; ids unique"),
            AfterValidator(_unique_ids),
        ]
        | None
    ) = None
    stage_order: (
        Annotated[
            list[Stage],
            Field(min_length=1, max_length=4, json_schema_extra={"uniqueItems": True}),
            AfterValidator(_unique_stages),
        ]
        | None
    ) = None
    interact: InteractSettingsPatch | None = None
    familiarize: FamiliarizePatch | None = None
    discuss: DiscussSettingsPatch | None = None


class GroupCreate(RequestModel):
    name: Name


class GroupRename(RequestModel):
    name: Name


class InviteRole(StrEnum):
    PARTICIPANT = "participant"
    OBSERVER = "observer"


class InviteCreate(RequestModel):
    group_id: Id
    role: InviteRole = InviteRole.PARTICIPANT
    ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60, le=90 * 24 * 3600, description="how long the link works")
    kind: model.InviteKind = Field(
        default=model.InviteKind.PERSONAL,
        description="`personal`: one person, resumed on every open (any device); `group`: up to `max_uses` people",
    )
    max_uses: int | None = Field(
        default=None, ge=1, le=10_000, description="group links only (required there): how many people may join"
    )
    label: ShortText = Field(default="", description="who the invite is for (shown in the console only)")


class ProgressUpdate(RequestModel):
    stage: Stage


class ParticipantQuery(RequestModel):
    model_config = ConfigDict(extra="ignore")
    group_id: Id | None = Field(default=None, description="only this group's participants")


# -- replies -----------------------------------------------------------------


class MyRooms(ReplyModel):
    board: str
    control: str
    private: str | None = Field(description="the participant's own room; null for observers")


class Me(ReplyModel):
    role: Role
    name: str
    facilitator_id: str | None
    email: str | None
    participant_id: str | None
    study_id: str | None = Field(description="participants and observers: their study; facilitators: a token's scope")
    group_id: str | None
    rooms: MyRooms | None = Field(description="the rooms of a participant's or observer's group")

    @classmethod
    def of(cls, principal: Principal) -> Me:
        rooms = None
        if principal.study_id is not None and principal.group_id is not None:
            study_id, group_id = principal.study_id, principal.group_id
            rooms = MyRooms(
                board=StudyRoom.board(study_id, group_id).name,
                control=StudyRoom.control(study_id, group_id).name,
                private=(
                    StudyRoom.private(study_id, group_id, principal.participant_id).name
                    if principal.participant_id is not None
                    else None
                ),
            )
        return cls(
            role=principal.role,
            name=principal.name,
            facilitator_id=principal.facilitator_id,
            email=principal.email,
            participant_id=principal.participant_id,
            study_id=principal.study_id,
            group_id=principal.group_id,
            rooms=rooms,
        )


class SessionState(ReplyModel):
    signed_in: bool
    me: Me | None = Field(description="who this browser is signed in as; null when signed out")


class InvitePreview(ReplyModel):
    """What an invite link is for, shown before joining."""

    study_id: str
    study_name: str
    context_name: str
    context_description: str
    stage_order: list[Stage]
    group_id: str | None
    group_name: str | None
    role: Role
    kind: model.InviteKind = Field(description="`personal`: opening it again resumes the same person")
    expires_at: datetime

    @classmethod
    def of(cls, invite: model.Invite, study: model.Study, group: model.Group | None) -> InvitePreview:
        context = study.content.deployment_context
        return cls(
            study_id=study.id,
            study_name=study.name,
            context_name=context.name,
            context_description=context.description,
            stage_order=list(study.content.stage_order),
            group_id=invite.group_id,
            group_name=None if group is None else group.name,
            role=invite.role,
            kind=invite.kind,
            expires_at=_time(invite.expires_at),
        )


class DeploymentContext(ReplyModel):
    name: str
    description: str
    system_prompt: str
    models: list[str]


class TrainingExample(ReplyModel):
    id: str
    prompt: str
    response: str
    notes: str
    value_codes: list[str]
    structural_codes: list[str]


class PracticeItem(ReplyModel):
    id: str
    prompt: str
    response: str
    example_codes: list[str]
    explanation: str


class CheckOption(ReplyModel):
    code: str
    is_value: bool


class CheckItem(ReplyModel):
    id: str
    excerpt: str
    options: list[CheckOption]
    explanation: str


class FamiliarizeContent(ReplyModel):
    lesson: str
    practice: list[PracticeItem]
    check: list[CheckItem]
    pass_mark: float
    max_attempts: int

    @classmethod
    def of(cls, content: model.Familiarize) -> FamiliarizeContent:
        return cls.model_validate(dataclasses.asdict(content))


class TrainingContext(ReplyModel):
    name: str
    system_prompt: str
    examples: list[TrainingExample]


class BaselineInteraction(ReplyModel):
    id: str
    prompt: str
    response: str
    prompt_reconstructed: bool


class InteractSettings(ReplyModel):
    model_choice: ModelChoice
    temperature: float
    top_p: float
    max_tokens: int
    max_prompt_chars: int
    turns_per_minute: int
    max_concurrent_replies: int
    max_conversations: int

    @classmethod
    def of(cls, settings: model.InteractSettings) -> InteractSettings:
        return cls(**dataclasses.asdict(settings))


class Study(ReplyModel):
    id: str
    owner_id: str
    name: str
    deployment_context: DeploymentContext
    orientation: str
    training_context: TrainingContext
    baseline_interactions: list[BaselineInteraction]
    stage_order: list[Stage]
    interact: InteractSettings
    discuss: DiscussSettings
    familiarize: FamiliarizeContent | None = Field(
        description="the lesson, practice round and check with their answers: the facilitator's only"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, study: model.Study, *, manager: bool = True) -> Study:
        content = study.content
        context, training = content.deployment_context, content.training_context
        return cls(
            id=study.id,
            owner_id=study.owner_id,
            name=content.name,
            deployment_context=DeploymentContext(
                name=context.name,
                description=context.description,
                system_prompt=context.system_prompt,
                models=list(context.models),
            ),
            orientation=content.orientation,
            training_context=TrainingContext(
                name=training.name,
                system_prompt=training.system_prompt,
                examples=[TrainingExample.model_validate(dataclasses.asdict(e)) for e in training.examples],
            ),
            baseline_interactions=[
                BaselineInteraction(
                    id=b.id, prompt=b.prompt, response=b.response, prompt_reconstructed=b.prompt_reconstructed
                )
                for b in content.baseline_interactions
            ],
            stage_order=list(content.stage_order),
            interact=InteractSettings.of(content.interact),
            discuss=DiscussSettings(anonymous_canvas=content.discuss.anonymous_canvas,
                                    artifact_link=content.discuss.artifact_link),
            familiarize=FamiliarizeContent.of(content.familiarize) if manager else None,
            created_at=_time(study.created_at),
            updated_at=_time(study.updated_at),
        )


class StudySummary(ReplyModel):
    id: str
    name: str
    context_name: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, study: model.Study) -> StudySummary:
        return cls(
            id=study.id,
            name=study.name,
            context_name=study.content.deployment_context.name,
            created_at=_time(study.created_at),
            updated_at=_time(study.updated_at),
        )


class StudyList(ReplyModel):
    studies: list[StudySummary]


class Group(ReplyModel):
    id: str
    study_id: str
    name: str
    board_room: str = Field(description="the group's shared board room, at /rooms/{board_room}")
    control_room: str = Field(description="the group's server-authored control room (read-only for clients)")
    created_at: datetime

    @classmethod
    def of(cls, group: model.Group) -> Group:
        return cls(
            id=group.id,
            study_id=group.study_id,
            name=group.name,
            board_room=StudyRoom.board(group.study_id, group.id).name,
            control_room=StudyRoom.control(group.study_id, group.id).name,
            created_at=_time(group.created_at),
        )


class GroupList(ReplyModel):
    groups: list[Group]


class InviteStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    USED_UP = "used-up"  # a group link whose every place is taken


class Invite(ReplyModel):
    id: str
    study_id: str
    group_id: str | None
    role: Role
    participant_id: str | None = Field(description="set when the token stands for one participant")
    kind: model.InviteKind
    max_uses: int | None = Field(description="group links: how many people may join (null: personal)")
    uses: int = Field(description="how many times it was opened (group links: how many people joined)")
    label: str = Field(description="who the invite is for")
    status: InviteStatus
    expires_at: datetime
    revoked_at: datetime | None
    created_by: str | None = Field(description="the facilitator who made it; null: `calma admin token`")
    created_at: datetime
    token: str
    link: str = Field(description="the path to open, relative to the server: /join?token=...")

    @classmethod
    def of(cls, invite: model.Invite, token: str, link: str, now: float) -> Invite:
        if invite.revoked:
            status = InviteStatus.REVOKED
        elif invite.expired(now):
            status = InviteStatus.EXPIRED
        elif invite.used_up:
            status = InviteStatus.USED_UP
        else:
            status = InviteStatus.ACTIVE
        return cls(
            id=invite.id,
            study_id=invite.study_id,
            group_id=invite.group_id,
            role=invite.role,
            participant_id=invite.participant_id,
            kind=invite.kind,
            max_uses=invite.max_uses,
            uses=invite.uses,
            label=invite.label,
            status=status,
            expires_at=_time(invite.expires_at),
            revoked_at=None if invite.revoked_at is None else _time(invite.revoked_at),
            created_by=invite.created_by,
            created_at=_time(invite.created_at),
            token=token,
            link=link,
        )


class InviteList(ReplyModel):
    invites: list[Invite]


class Participant(ReplyModel):
    id: str
    study_id: str
    group_id: str
    display_name: str
    private_room: str = Field(description="the participant's own room, at /rooms/{private_room}")
    created_at: datetime

    @classmethod
    def of(cls, participant: model.Participant) -> Participant:
        return cls(
            id=participant.id,
            study_id=participant.study_id,
            group_id=participant.group_id,
            display_name=participant.display_name,
            private_room=StudyRoom.private(participant.study_id, participant.group_id, participant.id).name,
            created_at=_time(participant.created_at),
        )


class ParticipantList(ReplyModel):
    participants: list[Participant]


class Progress(ReplyModel):
    participant_id: str
    display_name: str
    group_id: str
    stage: Stage
    updated_at: datetime

    @classmethod
    def of(cls, progress: model.Progress) -> Progress:
        return cls(
            participant_id=progress.participant_id,
            display_name=progress.display_name,
            group_id=progress.group_id,
            stage=progress.stage,
            updated_at=_time(progress.updated_at),
        )


class StudyProgress(ReplyModel):
    study_id: str
    stage_order: list[Stage]
    participants: list[Progress]


class ProblemFieldError(ReplyModel):
    field: str
    message: str
    code: str


class ProblemDetails(ReplyModel):
    """An RFC 9457 problem details object."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[ProblemFieldError] | None = Field(default=None, description="validation problems only")


class ProblemTypeInfo(ReplyModel):
    type: str
    title: str
    status: int
    description: str


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


# -- Interact ----------------------------------------------------------------


class ConversationCreate(RequestModel):
    model: ModelName | None = Field(
        default=None, description="the model, where the study lets participants pick; otherwise leave it out"
    )


class ConversationQuery(RequestModel):
    participant_id: Id | None = Field(default=None, description="facilitators: one participant's conversations")


class StudyModel(ReplyModel):
    name: str
    stand_in: bool = Field(description="the packaged demo model: a stand-in, not for a real study")


class StudyModels(ReplyModel):
    model_choice: ModelChoice
    models: list[StudyModel]
    notice: str | None = Field(description="what to tell participants about the models, if anything")
    terms_url: str | None = Field(description="the terms a model is provided under (the Gemma Terms, for the stand-in)")


class Conversation(ReplyModel):
    id: str
    study_id: str
    group_id: str
    participant_id: str
    model: str
    title: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: ConversationRecord) -> Conversation:
        return cls(id=c.id, study_id=c.study_id, group_id=c.group_id, participant_id=c.participant_id, model=c.model,
                   title=c.title, created_at=_time(c.created_at), updated_at=_time(c.updated_at))


class ConversationList(ReplyModel):
    conversations: list[Conversation]


class ChatMessage(ReplyModel):
    id: str
    seq: int
    role: str
    content: str
    status: str
    complete: bool
    replaces: str | None
    model: str | None
    endpoint: str | None
    system_prompt: str | None
    sampling: dict[str, float | int | None] | None
    error: str | None
    completion_tokens: int | None
    created_at: datetime
    started_at: datetime | None
    first_token_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, m: MessageRecord) -> ChatMessage:
        return cls(id=m.id, seq=m.seq, role=m.role.value, content=m.content, status=m.status.value,
                   complete=m.complete, replaces=m.replaces, model=m.model, endpoint=m.endpoint,
                   system_prompt=m.system_prompt, sampling=m.sampling, error=m.error,
                   completion_tokens=m.completion_tokens, created_at=_time(m.created_at),
                   started_at=_maybe_time(m.started_at), first_token_at=_maybe_time(m.first_token_at),
                   finished_at=_maybe_time(m.finished_at))


class ConversationDetail(ReplyModel):
    conversation: Conversation
    messages: list[ChatMessage] = Field(description="every turn on record, including replaced replies, by seq")


def _maybe_time(value: float | None) -> datetime | None:
    return None if value is None else _time(value)


# -- Familiarize and stage gating ----------------------------------------------


class OrientationSeen(RequestModel):
    pages_seen: Annotated[int, Field(ge=1, le=1000, strict=True)]


class PracticeAnswerIn(RequestModel):
    codes: Annotated[list[Code], Field(min_length=1, max_length=20)]


class CheckAnswers(RequestModel):
    answers: Annotated[dict[ItemId, Annotated[list[Code], Field(max_length=12)]], Field(max_length=50)] = Field(
        description="item id → the codes you judge to describe values (an item left out: none picked)"
    )


class OverrideState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    DEFAULT = "default"


class StageOverrideIn(RequestModel):
    """Open or close a stage for a group or one participant (exactly one of the two); `default` removes it."""

    group_id: Id | None = None
    participant_id: Id | None = None
    stage: Stage
    state: OverrideState


class StageStatusOut(ReplyModel):
    stage: Stage
    state: Literal["open", "closed"]
    reason: str = Field(description="why: first stage, previous stage completed (or not), or the facilitator's "
                        "override for the group or the person")
    set_by: Literal["rule", "group", "person"] = Field(description="what decided the state")
    completed_at: datetime | None


class ParticipantStages(ReplyModel):
    participant_id: str
    current: Stage
    stages: list[StageStatusOut]


class StageOverrideOut(ReplyModel):
    scope: str
    target_id: str
    stage: Stage
    state: str
    updated_at: datetime


class StageOverrideList(ReplyModel):
    overrides: list[StageOverrideOut]


class WorkedExample(ReplyModel):
    id: str
    prompt: str
    response: str
    notes: str
    value_codes: list[str]
    structural_codes: list[str]


class PracticeView(ReplyModel):
    id: str
    prompt: str
    response: str
    my_codes: list[str] | None = Field(description="your codes, once you answered")
    example_codes: list[str] | None = Field(description="the facilitator's codes: shown only after you answered")
    explanation: str | None


class CheckItemView(ReplyModel):
    id: str
    excerpt: str
    options: list[str]
    explanation: str | None = Field(description="shown once you passed")


class CheckView(ReplyModel):
    items: list[CheckItemView]
    pass_mark: float
    max_attempts: int
    attempts: int
    attempts_left: int | None
    best_score: float | None
    passed: bool


class FamiliarizeProgressOut(ReplyModel):
    orientation_pages_seen: int
    orientation_done: bool
    lesson_done: bool
    practice_done: int
    complete: bool


class FamiliarizeView(ReplyModel):
    study_id: str
    training_context: str
    orientation_pages: list[str] = Field(description="sanitized HTML, one per page")
    lesson_pages: list[str] = Field(description="sanitized HTML, one per page")
    worked_examples: list[WorkedExample]
    practice: list[PracticeView]
    check: CheckView
    progress: FamiliarizeProgressOut
    stages: list[StageStatusOut]


class CheckOutcome(ReplyModel):
    score: float
    passed: bool
    right: int
    total: int
    items_to_revisit: list[str] = Field(description="items with at least one wrong judgement (not which)")
    attempts: int
    attempts_left: int | None
    explanations: dict[str, str] = Field(description="every item's explanation, once passed")
    stages: list[StageStatusOut]


class FamiliarizeResult(ReplyModel):
    participant_id: str
    display_name: str
    group_id: str
    current: Stage
    orientation_done: bool
    lesson_done: bool
    practice_done: int
    attempts: int
    best_score: float | None
    passed_at: datetime | None
    stages: list[StageStatusOut]


class FamiliarizeResults(ReplyModel):
    practice_items: int
    check_items: int
    pass_mark: float
    participants: list[FamiliarizeResult]


# -- Reflect -------------------------------------------------------------------


class ReflectOpIn(RequestModel):
    op_id: Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                                description="chosen by the client, unique; an op sent again is applied once")]
    op: dict[str, Any] = Field(description="the operation: `kind` and its fields (see shared_schema/reflect.md)")


class ReflectOpsIn(RequestModel):
    ops: Annotated[list[ReflectOpIn], Field(min_length=1, max_length=100)]


class ReflectOpOutcome(ReplyModel):
    op_id: str
    status: str = Field(description="applied, duplicate (applied before: nothing changed twice) or refused")
    result: dict[str, Any]
    error: str | None


class ReflectOpsOut(ReplyModel):
    outcomes: list[ReflectOpOutcome]
    version: int


class ReflectItem(ReplyModel):
    kind: str
    id: str
    prompt: str
    text: str
    source: str
    conversation_id: str | None
    model: str | None
    coded: bool


class ReflectAnnotation(ReplyModel):
    id: str
    target_kind: str
    target_id: str
    start: int
    end: int
    quote: str
    memo: str
    code_ids: list[str]
    created_at: float
    updated_at: float


class ReflectExcerpt(ReplyModel):
    annotation_id: str
    target_kind: str
    target_id: str
    quote: str


class ReflectCode(ReplyModel):
    id: str
    label: str
    uses: int
    excerpts: list[ReflectExcerpt]
    hint: str | None = Field(description="set when the code seems to describe structure rather than a value")
    created_at: float
    updated_at: float
    merged: list[str]


class ReflectCluster(ReplyModel):
    id: str
    name: str
    definition: str
    code_ids: list[str]
    created_at: float
    updated_at: float


class ReflectProgress(ReplyModel):
    responses_coded: int
    responses: int
    baseline_coded: int
    baseline: int
    codes: int
    clusters: int


class ReflectState(ReplyModel):
    version: int
    items: list[ReflectItem]
    annotations: list[ReflectAnnotation]
    codes: list[ReflectCode]
    clusters: list[ReflectCluster]
    progress: ReflectProgress
    sharing: bool = Field(description="you agreed that others may code your conversations")
    codes_released: bool = Field(description="the facilitator released the group's codes (GET …/reflect/group-codes)")


class ReflectHistoryEntry(ReplyModel):
    op_id: str
    kind: str
    payload: dict[str, Any]
    result: dict[str, Any]
    created_at: float


class ReflectHistory(ReplyModel):
    entries: list[ReflectHistoryEntry]


class ReflectSharingIn(RequestModel):
    agree: Annotated[bool, Field(strict=True)]


class ReflectSettingsIn(RequestModel):
    codes_released: Annotated[bool, Field(strict=True)] | None = Field(
        default=None, description="show each group its codes (counts, frequencies)")
    share_sample: Annotated[bool, Field(strict=True)] | None = Field(
        default=None, description="participants also code a sample of others' shared conversations")


class ReflectSettings(ReplyModel):
    codes_released: bool
    codes_released_at: datetime | None
    share_sample: bool


class ReflectParticipantProgress(ReplyModel):
    participant_id: str
    display_name: str
    group_id: str
    progress: ReflectProgress


class ReflectStudyProgress(ReplyModel):
    participants: list[ReflectParticipantProgress]


class GroupCode(ReplyModel):
    label: str
    uses: int
    participants: int
    frequency: float


class GroupCodes(ReplyModel):
    group_id: str
    released_at: datetime | None
    codes: list[GroupCode]


class ExportQuery(RequestModel):
    format: Annotated[str, Field(pattern=r"^(json|csv)$")] = "json"
    participant_id: Id | None = Field(default=None, description="facilitators: whose export")


class GroupCodesQuery(RequestModel):
    group_id: Id | None = Field(default=None, description="facilitators: which group")


# -- the semantic canvas -------------------------------------------------------------------------


class CanvasQuery(RequestModel):
    group_id: Id | None = Field(default=None, description="facilitators: which group (participants and observers: their own)")


class CanvasInfo(ReplyModel):
    study_id: str
    group_id: str
    group_name: str
    room: str = Field(description="the board room (y-websocket at /rooms/<room>) whose `cards`, `hints` and `layout` are the canvas")
    edits_room: str = Field(description="the group's edits room: where people's card moves and hint decisions go")
    anonymous: bool = Field(description="cards show no authors (the study's discuss.anonymous_canvas)")
    can_write: bool = Field(description="may write labels, move cards and accept or dismiss hints (not observers)")
    can_steer: bool = Field(description="may bring everyone to one view (`view.set` on /live): the facilitator")
    cards: int = Field(description="cards on the board now")


class CanvasLabelIn(RequestModel):
    text: Name = Field(description="a label to place on the canvas (1-200 characters, not blank)")
    group_id: Id | None = Field(default=None, description="facilitators: which group")


class CanvasCardOut(ReplyModel):
    id: str
    text: str
    kind: str
    x: float
    y: float


class CanvasLabelOut(ReplyModel):
    card: CanvasCardOut


class CanvasExcerpt(ReplyModel):
    quote: str
    source: str = Field(description="`baseline`, `own` (the viewer's own conversation) or `shared`")
    prompt: str = Field(description="the prompt the response answered, for context")


class CanvasCardDetail(ReplyModel):
    id: str
    text: str
    kind: str
    uses: int
    people: int
    authors: list[str] = Field(description="empty when the canvas is anonymous")
    excerpts: list[CanvasExcerpt]
    private_excerpts: int = Field(description="excerpts from conversations whose authors did not share them")


class CanvasRefreshIn(RequestModel):
    group_id: Id


class CanvasRefreshOut(ReplyModel):
    codes: int = Field(description="code cards on the board after the refresh (0 until the codes are released)")


# -- Discuss -----------------------------------------------------------------------------------------

AttributeName = Annotated[str, Field(min_length=1, max_length=120, pattern=r"\S", description="not blank; at most 120")]
Definition = Annotated[str, Field(max_length=2000, description="at most 2,000 characters")]
CardId = Annotated[str, Field(pattern=r"^c-[0-9a-f]{16}$", max_length=18, description="a canvas card id")]


class DiscussQuery(RequestModel):
    group_id: Id | None = Field(default=None, description="facilitators: which group (participants and observers: their own)")


class TopEntryIn(RequestModel):
    name: AttributeName
    definition: Definition = ""


class Top3In(RequestModel):
    entries: list[TopEntryIn] = Field(min_length=1, max_length=3, description="your top three attributes, best first")


class ExampleRef(RequestModel):
    kind: Literal["message", "baseline"] = Field(description="a model reply in a conversation, or a baseline item")
    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]


class AttributeIn(RequestModel):
    name: AttributeName
    definition: Definition = ""
    provenance: list[CardId] = Field(default_factory=list, max_length=200, description="the canvas cards that fed it")
    examples: list[ExampleRef] = Field(default_factory=list, max_length=50)
    group_id: Id | None = Field(default=None, description="facilitators: which group")


class AttributePatch(RequestModel):
    name: AttributeName | None = None
    definition: Definition | None = Field(default=None, description="a new wording: participants in segment 4 only; the facilitator at any time (a new version)")
    provenance: list[CardId] | None = Field(default=None, max_length=200)
    examples: list[ExampleRef] | None = Field(default=None, max_length=50)
    group_id: Id | None = Field(default=None, description="facilitators: which group")


class AttributeMergeIn(RequestModel):
    ids: list[Id] = Field(min_length=2, max_length=20)
    name: AttributeName
    group_id: Id | None = None


class AttributeSplitIn(RequestModel):
    names: list[AttributeName] = Field(min_length=2, max_length=10)
    group_id: Id | None = None


class GroupOnly(RequestModel):
    group_id: Id | None = Field(default=None, description="facilitators: which group")


class RankingIn(RequestModel):
    top3: list[Id] = Field(max_length=3, description="your top three group attributes, best first")
    top5: list[Id] = Field(max_length=5, description="your top five, best first")


class RatingsIn(RequestModel):
    likert: dict[Id, Annotated[int, Field(ge=1, le=5, strict=True)]] = Field(
        max_length=100, description="agreement with each group definition: 1 strongly disagree … 5 strongly agree"
    )
    ranking: list[Id] = Field(max_length=100, description="every group attribute, best first")


class TopEntryOut(ReplyModel):
    name: str
    definition: str


class PersonTop3(ReplyModel):
    participant_id: str
    display_name: str
    entries: list[TopEntryOut]


class AttributeOut(ReplyModel):
    id: str
    name: str
    definition: str = Field(description="as the group is editing it now (the edits room's Y.Text)")
    examples: list[dict[str, str]]
    provenance: list[str]
    status: str
    merged_into: str | None
    split_from: str | None
    version: int
    created_by: str


class AttributeList(ReplyModel):
    attributes: list[AttributeOut]


class AttributeVersionOut(ReplyModel):
    version: int
    op: str
    snapshot: dict[str, Any]
    by: str
    at: datetime


class AttributeHistory(ReplyModel):
    attribute_id: str
    versions: list[AttributeVersionOut]


class AggregateOut(ReplyModel):
    ballots: int
    borda: list[dict[str, Any]] = Field(description="[{attribute_id, score}], best first")
    borda_order: list[list[str]] = Field(description="tiers of attribute ids, best first (ties share a tier)")
    schulze_order: list[list[str]]
    disagree: bool = Field(description="Borda and Schulze differ in the top places")
    summary: str


class Rankings(ReplyModel):
    top3: AggregateOut
    top5: AggregateOut


class DiscussMine(ReplyModel):
    top3: list[TopEntryOut] | None
    ranking: dict[str, list[str]] | None
    ratings: dict[str, Any] | None


class DiscussState(ReplyModel):
    study_id: str
    group_id: str
    segment: str
    reveals: dict[str, int]
    role: str
    can_write: bool
    participants: int
    top3_submitted: int = Field(description="how many have given their top three (the entries stay private until the reveal)")
    rankings_submitted: int
    ratings_submitted: int
    mine: DiscussMine | None = Field(description="participants: what you entered")
    top3: list[PersonTop3] | None = Field(description="everyone's top three, once revealed")
    attributes: list[AttributeOut]
    rankings: Rankings | None = Field(description="once the facilitator reveals `rankings` (facilitators: always)")


class Consensus(ReplyModel):
    attributes: list[dict[str, str]]
    participants: list[dict[str, Any]]
    kendalls_w_before: float | None
    kendalls_w_after: float | None
    kendalls_w_people: int
    kendalls_w_caveat: str | None
    likert: list[dict[str, Any]]
    krippendorff_alpha: float | None
    krippendorff_caveat: str | None


class ArtifactTopic(ReplyModel):
    name: str = Field(description="the topic's most telling terms")
    terms: list[str]
    prompts: int = Field(description="how many prompts of the group were about it")


class ArtifactCode(ReplyModel):
    label: str
    uses: int
    people: int


class OwnArtifacts(ReplyModel):
    conversations: int
    annotations: int
    codes: list[dict[str, Any]] = Field(description="[{label, uses}], most used first")
    clusters: list[dict[str, str]] = Field(description="[{name, definition}]")


class Artifacts(ReplyModel):
    group_id: str
    mine: OwnArtifacts | None = Field(description="participants: your interactions and codes")
    topics: list[ArtifactTopic] = Field(description="the topics two or more people explored, largest first, named by "
                                                    "words two or more people used")
    prompts_on_own_topics: int = Field(description="prompts on topics only one person asked about (counted, not named)")
    codes: list[ArtifactCode] | None = Field(description="the group's codes by frequency, once the facilitator released them")
    word_cloud: str | None = Field(description="the word cloud picture's address, once the codes are released")
    link: str = Field(description="the facilitator's link for the session (e.g. a video); empty for none")


# -- Outputs: the cross-group comparison -------------------------------------------------------------


class ComparisonQuery(RequestModel):
    group_a: Id
    group_b: Id


class ComparisonIn(RequestModel):
    group_a: Id
    group_b: Id
    pairs: list[Annotated[list[Id], Field(min_length=2, max_length=2)]] = Field(
        max_length=500, description="[[axis of A, axis of B], …]: the pairing as the facilitator has it"
    )


class AxisRef(ReplyModel):
    id: str
    name: str


class ComparedPair(ReplyModel):
    a: AxisRef
    b: AxisRef
    similarity: float = Field(description="cosine similarity of name and definition")


class GroupComparison(ReplyModel):
    group_a: AxisRef
    group_b: AxisRef
    threshold: float
    pairs: list[ComparedPair]
    only_a: list[AxisRef] = Field(description="axes of group A without a counterpart")
    only_b: list[AxisRef]
    corrected: bool = Field(description="the facilitator set this pairing (else: the automatic matching)")
    corrected_by: str | None
    corrected_at: datetime | None


# -- A/B tests among participants ---------------------------------------------------------------------


class ArmIn(RequestModel):
    model: Annotated[str, Field(min_length=1, max_length=100)] = Field(description="a model this server offers")
    system_prompt: Annotated[str, Field(max_length=20_000)] = ""


class ABTestIn(RequestModel):
    group_id: Id
    name: Name
    a: ArmIn
    b: ArmIn
    axes: list[Id] | None = Field(default=None, max_length=50, description="group attributes to judge along (default: all)")


class ABTestPatch(RequestModel):
    open: bool


class ABTestOut(ReplyModel):
    id: str
    group_id: str
    name: str
    open: bool
    axes: list[AxisRef]
    arms: dict[str, dict[str, str]] | None = Field(description="the facilitator's: each arm's model and system prompt")
    trials: int | None = Field(description="the facilitator's: trials run so far")


class ABTestList(ReplyModel):
    tests: list[ABTestOut]


class TrialIn(RequestModel):
    prompt: Annotated[str, Field(min_length=1, max_length=4000, pattern=r"\S")]


class ChoiceIn(RequestModel):
    choices: dict[Id, Literal["left", "right", "tie"]] = Field(max_length=50, description="per axis: the better reply")


class TrialOut(ReplyModel):
    id: str
    prompt: str
    left: str
    right: str
    axes: list[AxisRef]
    choices: dict[str, str] | None
    revealed: dict[str, str] | None = Field(description="after choosing: which arm wrote each side ({left: a|b, right: a|b})")


class ABAxisResult(ReplyModel):
    axis: AxisRef
    a_wins: int
    b_wins: int
    ties: int
    decided: int
    a_win_rate: float | None
    ci_low: float | None = Field(description="Wilson 95% interval of A's win rate among decided choices")
    ci_high: float | None


class ABResults(ReplyModel):
    test: ABTestOut
    trials: int
    chosen: int
    axes: list[ABAxisResult]
    caveat: str | None


class SignedOutEverywhere(ReplyModel):
    sessions_ended: int = Field(description="how many sessions of this facilitator ended, this browser's included")
