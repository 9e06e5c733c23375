"""Interact over REST: the study's models, a participant's conversations and every stored turn.

Chatting itself (sending, streaming, stop, regenerate) is on the control
channel (`chat.*` frames); here conversations are started and read.
Participants see their own conversations; the study's facilitator sees all.
"""

from __future__ import annotations

from starlette.responses import Response

from calma.access import policy
from calma.api import schemas
from calma.api.endpoints import Call, Endpoint, json_reply
from calma.api.lookups import visible_study
from calma.api.problems import Problem, conflict, forbidden, not_found, unavailable
from calma.interact.embedded import STAND_IN_NOTICE
from calma.interact.service import ChatRefused, Chatter

TAG = "interact"


async def study_models(call: Call) -> Response:
    study = await visible_study(call)
    service = call.api.chat()
    names = service.models_for(study)
    stand_ins = [name for name in names if name in service.stand_in_models]
    return json_reply(
        schemas.StudyModels(
            model_choice=study.content.interact.model_choice,
            models=[schemas.StudyModel(name=name, stand_in=name in stand_ins) for name in names],
            notice=STAND_IN_NOTICE if stand_ins else None,
            terms_url="/legal/gemma-terms" if stand_ins else None,
        )
    )


async def create_conversation(call: Call) -> Response:
    study = await visible_study(call)
    principal = call.user
    if not principal.is_participant or principal.participant_id is None or principal.group_id is None:
        raise forbidden("only participants start conversations with the model")
    chatter = Chatter(study.id, principal.group_id, principal.participant_id)
    try:
        conversation = await call.api.chat().start_conversation(study, chatter, call.body_as(schemas.ConversationCreate).model)
    except ChatRefused as refused:
        raise _problem(refused) from refused
    return json_reply(schemas.Conversation.of(conversation), status=201)


async def list_conversations(call: Call) -> Response:
    study = await visible_study(call)
    principal = call.user
    query = call.query_as(schemas.ConversationQuery)
    if policy.manages_study(principal, study):
        participant = query.participant_id
    elif principal.is_participant:
        if query.participant_id not in (None, principal.participant_id):
            raise not_found("the participant")
        participant = principal.participant_id
    else:
        raise forbidden("observers do not see conversations")
    conversations = await call.api.chat().conversations.conversations_of(study.id, participant)
    return json_reply(schemas.ConversationList(conversations=[schemas.Conversation.of(c) for c in conversations]))


async def get_conversation(call: Call) -> Response:
    study = await visible_study(call)
    store = call.api.chat().conversations
    conversation = await store.conversation(call.param("conversation_id"))
    principal = call.user
    if conversation is None or conversation.study_id != study.id or not (
        policy.manages_study(principal, study) or principal.participant_id == conversation.participant_id
    ):
        raise not_found("the conversation")
    messages = [schemas.ChatMessage.of(m) for m in await store.messages_of(conversation.id)]
    if not policy.manages_study(principal, study):  # where the model runs (a URL) is the facilitator's to know
        messages = [m.model_copy(update={"endpoint": None}) for m in messages]
    return json_reply(
        schemas.ConversationDetail(conversation=schemas.Conversation.of(conversation), messages=messages)
    )


def _problem(refused: ChatRefused) -> Problem:
    if refused.kind == "forbidden":
        return forbidden(refused.message)
    if refused.kind == "unavailable":
        return unavailable(refused.message)
    if refused.kind == "invalid":
        return Problem("validation-failed", refused.message)
    return conflict(refused.message)


ENDPOINTS = [
    Endpoint(
        "GET", "/studies/{study_id}/models", study_models, "studyModels",
        "The models participants chat with in this study, and whether they pick one", TAG,
        response=schemas.StudyModels, problems=(503,),
    ),
    Endpoint(
        "POST", "/studies/{study_id}/conversations", create_conversation, "createConversation",
        "Participants: start a conversation (with a model of the study's)", TAG, status=201,
        response=schemas.Conversation, request=schemas.ConversationCreate, problems=(403, 409, 503),
    ),
    Endpoint(
        "GET", "/studies/{study_id}/conversations", list_conversations, "listConversations",
        "Conversations: a participant's own; the facilitator's view of all (or one participant's)", TAG,
        response=schemas.ConversationList, query=schemas.ConversationQuery, problems=(403, 503),
    ),
    Endpoint(
        "GET", "/studies/{study_id}/conversations/{conversation_id}", get_conversation, "getConversation",
        "A conversation with every stored turn: text, status, model, system prompt, sampling and timings", TAG,
        response=schemas.ConversationDetail, problems=(503,),
    ),
]  # fmt: skip
