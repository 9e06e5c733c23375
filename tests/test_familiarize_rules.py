"""Familiarize's rules on their own: Markdown sanitization, check scoring and stage gating."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from calma.familiarize.check import CheckAnswerError, score
from calma.familiarize.gating import Reason, StageState, stage_statuses
from calma.familiarize.markdown import pages, render
from calma.studies.model import CheckItem, CheckOption, Stage

ORDER = (Stage.FAMILIARIZE, Stage.INTERACT, Stage.REFLECT, Stage.DISCUSS)
OPEN, CLOSED = StageState.OPEN, StageState.CLOSED


@pytest.mark.parametrize(
    "markdown",
    [
        "<script>alert('x')</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        "![pic](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src='https://example.org'></iframe>",
        "<svg onload=alert(1)>",
        '<div style="background:url(javascript:alert(1))">x</div>',
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    ],
)
def test_markdown_cannot_inject_script(markdown: str) -> None:
    """Whatever the facilitator types, the HTML has no script element, handler, style or script URL
    (tags typed as text are shown as text, escaped)."""
    elements = Elements()
    elements.feed(render(markdown))
    for tag, attributes in elements.found:
        assert tag not in {"script", "iframe", "svg", "object", "embed", "style"}, (markdown, tag)
        for name, value in attributes:
            assert not name.startswith("on") and name != "style", (markdown, name)
            assert not (value or "").strip().lower().startswith(("javascript:", "data:")), (markdown, value)


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def test_markdown_keeps_what_a_facilitator_writes() -> None:
    html = render("# Welcome\n\nRead **this** and see ![the map](https://example.org/map.png \"Map\") "
                  "or [the guide](/guide.html).\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<h1>Welcome</h1>" in html and "<strong>this</strong>" in html
    assert '<img src="https://example.org/map.png" alt="the map" title="Map">' in html
    assert '<a href="/guide.html" rel="noopener noreferrer nofollow">the guide</a>' in html
    assert "<table>" in html and "<td>1</td>" in html


def test_a_line_of_three_dashes_between_blank_lines_starts_a_page_and_a_heading_underline_does_not() -> None:
    text = "# One\n\nfirst\n\n---\n\n# Two\n\nSecond heading\n---\n\nstill two\n\n---\n\n"
    split = pages(text)
    assert len(split) == 2
    assert "<h1>One</h1>" in split[0] and "<h2>Second heading</h2>" in split[1] and "still two" in split[1]


ITEMS = (
    CheckItem("a", "…", (CheckOption("cautious", True), CheckOption("summary", False))),
    CheckItem("b", "…", (CheckOption("safety-conscious", True), CheckOption("list", False),
                         CheckOption("inclusive", True), CheckOption("introduction", False))),
)


def test_the_check_scores_every_judgement_and_names_items_to_revisit_but_not_the_answers() -> None:
    perfect = score(ITEMS, {"a": ["cautious"], "b": ["safety-conscious", "inclusive"]}, pass_mark=0.75)
    assert (perfect.score, perfect.passed, perfect.items_to_revisit) == (1.0, True, ())
    structural = score(ITEMS, {"a": ["cautious", "summary"], "b": ["list"]}, pass_mark=0.75)
    assert (structural.right, structural.total) == (2, 6) and not structural.passed
    assert structural.items_to_revisit == ("a", "b")
    nothing = score(ITEMS, {}, pass_mark=0.5)
    assert (nothing.right, nothing.total, nothing.passed) == (3, 6, True), "not picking a structural code is right"


def test_answers_must_name_the_check_items_and_their_codes() -> None:
    with pytest.raises(CheckAnswerError, match="no item 'z'"):
        score(ITEMS, {"z": []}, 0.75)
    with pytest.raises(CheckAnswerError, match="no option 'kind'"):
        score(ITEMS, {"a": ["kind"]}, 0.75)


def states(statuses: list) -> list[str]:  # type: ignore[type-arg]
    return [s.state.value for s in statuses]


def test_stages_open_in_order_as_each_is_completed() -> None:
    assert states(stage_statuses(ORDER, {}, {}, {})) == ["open", "closed", "closed", "closed"]
    done = {Stage.FAMILIARIZE: 1.0}
    assert states(stage_statuses(ORDER, done, {}, {})) == ["open", "open", "closed", "closed"]
    done = {Stage.FAMILIARIZE: 1.0, Stage.INTERACT: 2.0}
    statuses = stage_statuses(ORDER, done, {}, {})
    assert states(statuses) == ["open", "open", "open", "closed"]
    assert statuses[2].reason is Reason.PREVIOUS_DONE and statuses[0].reason is Reason.FIRST
    assert statuses[1].completed_at == 2.0


def test_the_facilitator_opens_or_closes_a_stage_for_a_group_and_a_person_beats_the_group() -> None:
    group = {Stage.INTERACT: OPEN, Stage.FAMILIARIZE: CLOSED}
    statuses = stage_statuses(ORDER, {}, group, {})
    assert states(statuses) == ["closed", "open", "closed", "closed"]
    assert statuses[1].reason is Reason.GROUP
    person = {Stage.INTERACT: CLOSED, Stage.DISCUSS: OPEN}
    statuses = stage_statuses(ORDER, {Stage.FAMILIARIZE: 1.0}, group, person)
    assert states(statuses) == ["closed", "closed", "closed", "open"]
    assert statuses[1].reason is Reason.PERSON and statuses[3].reason is Reason.PERSON


def test_a_study_with_its_own_order_gates_in_that_order() -> None:
    order = (Stage.INTERACT, Stage.REFLECT)
    assert states(stage_statuses(order, {}, {}, {})) == ["open", "closed"]
    assert states(stage_statuses(order, {Stage.INTERACT: 1.0}, {}, {})) == ["open", "open"]
