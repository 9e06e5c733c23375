"""A group's derived axes from its Discuss records, and the axes as CSV and Markdown.

An axis is an active group attribute: its name, its definition as the group
left it (with its version, and the version and wording that segment 5 rated),
its example interactions with their text, its provenance (the
canvas cards that fed it), its rank (position by Borda and by Schulze over
the top-five ballots) and its agreement (the Likert figures of segment 5).
Order: by Borda position, then Schulze, then name.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from calma.canvas.board import Card
from calma.discuss.service import DiscussService
from calma.interact.backend import Speaker
from calma.interact.conversations import ConversationStore, current_messages
from calma.outputs.markdown import escaped
from calma.outputs.schema import FORMAT, Agreement, Axis, DerivedAxes, Example, GroupRef, Rank, Source, StudyRef
from calma.studies.model import Group, Study

CSV_COLUMNS = ("rank_borda", "rank_schulze", "name", "definition", "version", "rated_version", "rated_definition",
               "examples", "provenance", "ballots", "likert_median", "likert_iqr", "share_agreeing", "ratings")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


async def derived_axes(study: Study, group: Group, discuss: DiscussService, conversations: ConversationStore,
                       cards: dict[str, Card], *, closed: bool) -> DerivedAxes:
    """The group's axes now; agreement figures only once the session is closed (ratings are private until then)."""
    attributes = await discuss.attributes(group.id, active_only=True)
    definitions = await discuss.live_definitions(study.id, group.id)
    rated = await discuss.rated_versions(group.id)
    rankings = (await discuss.rankings(group.id))["top5"]
    borda_position = {c: i + 1 for i, (c, _) in enumerate(rankings.borda)}
    borda_score = dict(rankings.borda)
    schulze_position = {c: tier_index + 1 for tier_index, tier in enumerate(rankings.schulze_order) for c in tier}
    figures = await discuss.consensus(study, group.id) if closed else None
    likert = {row["attribute_id"]: row for row in figures["likert"]} if figures else {}
    baseline = {b.id: b for b in study.content.baseline_interactions}
    axes = []
    for attribute in attributes:
        examples = []
        for ref in attribute.examples:
            if ref["kind"] == "baseline" and ref["id"] in baseline:
                item = baseline[ref["id"]]
                examples.append(Example(kind="baseline", id=item.id, prompt=item.prompt, response=item.response))
            elif ref["kind"] == "message":
                examples.append(await _reply_example(conversations, ref["id"]))
        row = likert.get(attribute.id)
        axes.append(Axis(
            id=attribute.id, name=attribute.name, definition=definitions.get(attribute.id, attribute.definition),
            version=attribute.version,
            rated_version=rated[attribute.id][0] if attribute.id in rated else None,
            rated_definition=rated[attribute.id][1] if attribute.id in rated else None,
            examples=examples,
            provenance=[Source(card_id=c, text=cards[c].content.text, kind=cards[c].content.kind.value)
                        for c in attribute.provenance if c in cards],
            rank=Rank(borda_position=borda_position.get(attribute.id) if rankings.ballots else None,
                      borda_score=borda_score.get(attribute.id) if rankings.ballots else None,
                      schulze_position=schulze_position.get(attribute.id) if rankings.ballots else None,
                      ballots=rankings.ballots),
            agreement=Agreement(**{k: row[k] for k in ("n", "median", "q1", "q3", "iqr", "share_agreeing", "caveat")})
            if row else None,
        ))
    axes.sort(key=lambda a: (a.rank.borda_position or 10**6 if a.rank else 10**6,
                             a.rank.schulze_position or 10**6 if a.rank else 10**6, a.name.casefold()))
    return DerivedAxes(
        format=FORMAT, study=StudyRef(id=study.id, name=study.name, deployment_context=study.content.deployment_context.name),
        group=GroupRef(id=group.id, name=group.name), generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        axes=axes, consensus=figures,
    )


async def _reply_example(conversations: ConversationStore, message_id: str) -> Example:
    message = await conversations.message(message_id)
    if message is None:
        return Example(kind="message", id=message_id)
    prompt = ""
    for earlier in current_messages(await conversations.messages_of(message.conversation_id)):
        if earlier.id == message_id:
            break
        if earlier.role is Speaker.USER:
            prompt = earlier.content
    return Example(kind="message", id=message_id, prompt=prompt, response=message.content)


def axes_csv(axes: DerivedAxes) -> str:
    """One row per axis; examples and provenance joined; cells that a spreadsheet would run are defused."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for axis in axes.axes:
        rank, agreement = axis.rank or Rank(), axis.agreement or Agreement()
        writer.writerow([_defuse(v) for v in (
            rank.borda_position, rank.schulze_position, axis.name, axis.definition, axis.version,
            axis.rated_version, axis.rated_definition,
            " | ".join(f"{e.kind}:{e.id}" for e in axis.examples), " | ".join(s.text for s in axis.provenance),
            rank.ballots, agreement.median, agreement.iqr, agreement.share_agreeing, agreement.n,
        )])
    return buffer.getvalue()


def axes_markdown(axes: DerivedAxes) -> str:
    """The axes as Markdown; people's text in it is escaped (`calma.outputs.markdown`): it renders as typed, inert."""
    axes = escaped(axes)
    title = f"# Derived axes — {axes.group.name or 'group'}"
    lines = [title, "", f"Study: {axes.study.name} ({axes.study.deployment_context})", ""]
    for index, axis in enumerate(axes.axes, start=1):
        lines += [f"## {index}. {axis.name}", "", axis.definition or "_No definition yet._", ""]
        if axis.rated_version is not None:
            if axis.rated_definition != axis.definition:
                lines += [f"- Rated (version {axis.rated_version}): {axis.rated_definition or '_empty_'}",
                          f"- Changed after the rating: this is version {axis.version}"]
            else:
                lines.append(f"- Rated wording: version {axis.rated_version}")
        if axis.rank and axis.rank.ballots:
            lines.append(f"- Rank: Borda {axis.rank.borda_position}, Schulze {axis.rank.schulze_position} "
                         f"({axis.rank.ballots} ballots)")
        if axis.agreement and axis.agreement.n:
            a = axis.agreement
            lines.append(f"- Agreement: median {a.median:g}, IQR {a.iqr:g}, {a.share_agreeing:.0%} agree (n = {a.n})"
                         + (f" — {a.caveat}" if a.caveat else ""))
        if axis.provenance:
            lines.append("- From the labels: " + ", ".join(f"“{s.text}”" for s in axis.provenance))
        for example in axis.examples:
            lines += ["", f"> **Prompt:** {_quote(example.prompt)}", ">", f"> **Response:** {_quote(example.response)}"]
        lines.append("")
    return "\n".join(lines)


def _quote(text: str) -> str:
    return text.replace("\n", "\n> ")


def _defuse(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value
