"""Studies: list your own, create one (from the pilot template or blank), read one, change its content."""

from __future__ import annotations

from dataclasses import replace

from starlette.responses import Response

from calma.access import policy
from calma.api import schemas
from calma.api.endpoints import Call, Endpoint, json_reply
from calma.api.lookups import managed_study, visible_study
from calma.api.problems import forbidden
from calma.studies import model
from calma.studies.templates import study_content

TAG = "studies"


async def list_studies(call: Call) -> Response:
    principal = call.user
    store = call.api.store
    if principal.is_facilitator and principal.facilitator_id is not None:
        studies = await store.studies_owned_by(principal.facilitator_id)
    elif principal.study_id is not None:
        own = await store.study(principal.study_id)
        studies = [] if own is None else [own]
    else:
        studies = []
    visible = [schemas.StudySummary.of(s) for s in studies if policy.sees_study(principal, s)]
    return json_reply(schemas.StudyList(studies=visible))


async def create_study(call: Call) -> Response:
    principal = call.user
    if not policy.may_create_studies(principal) or principal.facilitator_id is None:
        raise forbidden("only a signed-in facilitator (not a token limited to one study) may create studies")
    request = call.body_as(schemas.StudyCreate)
    study = await call.api.store.create_study(principal.facilitator_id, study_content(request.template, request.name))
    return json_reply(schemas.Study.of(study), status=201)


async def get_study(call: Call) -> Response:
    study = await visible_study(call)
    return json_reply(schemas.Study.of(study, manager=policy.manages_study(call.user, study)))


async def patch_study(call: Call) -> Response:
    study = await managed_study(call)
    patch = call.body_as(schemas.StudyPatch)
    updated = await call.api.store.update_study(study.id, apply_patch(study.content, patch))
    if updated.content.discuss.anonymous_canvas != study.content.discuss.anonymous_canvas and call.api.canvas is not None:
        for group in await call.api.store.groups_of(study.id):  # authors shown or hidden on every canvas
            call.api.canvas_service().group_stale(study.id, group.id)
    return json_reply(schemas.Study.of(updated))


def apply_patch(content: model.StudyContent, patch: schemas.StudyPatch) -> model.StudyContent:
    """The content with every field the patch gives replaced; absent or null fields stay."""
    if patch.name is not None:
        content = replace(content, name=patch.name)
    if patch.orientation is not None:
        content = replace(content, orientation=patch.orientation)
    if patch.deployment_context is not None:
        given = patch.deployment_context
        context = content.deployment_context
        content = replace(
            content,
            deployment_context=model.DeploymentContext(
                name=context.name if given.name is None else given.name,
                description=context.description if given.description is None else given.description,
                system_prompt=context.system_prompt if given.system_prompt is None else given.system_prompt,
                models=context.models if given.models is None else tuple(given.models),
            ),
        )
    if patch.training_context is not None:
        given_training = patch.training_context
        training = content.training_context
        content = replace(
            content,
            training_context=model.TrainingContext(
                name=training.name if given_training.name is None else given_training.name,
                system_prompt=(
                    training.system_prompt if given_training.system_prompt is None else given_training.system_prompt
                ),
                examples=(
                    training.examples
                    if given_training.examples is None
                    else tuple(
                        model.TrainingExample(
                            id=e.id, prompt=e.prompt, response=e.response, notes=e.notes,
                            value_codes=tuple(e.value_codes), structural_codes=tuple(e.structural_codes),
                        )
                        for e in given_training.examples
                    )
                ),
            ),
        )
    if patch.familiarize is not None:
        content = replace(content, familiarize=_familiarize(content.familiarize, patch.familiarize))
    if patch.interact is not None:
        changes = {name: value for name, value in patch.interact.model_dump().items() if value is not None}
        content = replace(content, interact=replace(content.interact, **changes))
    if patch.discuss is not None:
        changes = {name: value for name, value in patch.discuss.model_dump().items() if value is not None}
        content = replace(content, discuss=replace(content.discuss, **changes))
    if patch.baseline_interactions is not None:
        content = replace(
            content,
            baseline_interactions=tuple(
                model.BaselineInteraction(
                    id=b.id, prompt=b.prompt, response=b.response, prompt_reconstructed=b.prompt_reconstructed
                )
                for b in patch.baseline_interactions
            ),
        )
    if patch.stage_order is not None:
        content = replace(content, stage_order=tuple(patch.stage_order))
    return content


ENDPOINTS = [
    Endpoint(
        "GET", "/studies", list_studies, "listStudies",
        "Your studies (a participant or observer: the one they belong to)", TAG, response=schemas.StudyList,
    ),
    Endpoint(
        "POST", "/studies", create_study, "createStudy", "Create a study from a template", TAG,
        status=201, response=schemas.Study, request=schemas.StudyCreate, problems=(403,),
    ),
    Endpoint("GET", "/studies/{study_id}", get_study, "getStudy", "A study", TAG, response=schemas.Study),
    Endpoint(
        "PATCH", "/studies/{study_id}", patch_study, "updateStudy",
        "Change a study's name, context, system prompt, orientation, training context, baseline or stage order", TAG,
        response=schemas.Study, request=schemas.StudyPatch, problems=(403,),
    ),
]  # fmt: skip


def _familiarize(current: model.Familiarize, patch: schemas.FamiliarizePatch) -> model.Familiarize:
    changes: dict[str, object] = {}
    if patch.lesson is not None:
        changes["lesson"] = patch.lesson
    if patch.practice is not None:
        changes["practice"] = tuple(
            model.PracticeItem(id=p.id, prompt=p.prompt, response=p.response, example_codes=tuple(p.example_codes),
                               explanation=p.explanation)
            for p in patch.practice
        )
    if patch.check is not None:
        changes["check"] = tuple(
            model.CheckItem(id=c.id, excerpt=c.excerpt, explanation=c.explanation,
                            options=tuple(model.CheckOption(o.code, o.is_value) for o in c.options))
            for c in patch.check
        )
    if patch.pass_mark is not None:
        changes["pass_mark"] = patch.pass_mark
    if patch.max_attempts is not None:
        changes["max_attempts"] = patch.max_attempts
    return replace(current, **changes)  # type: ignore[arg-type]
