"""A group's report: one self-contained HTML page (printable to PDF) with its axes, the canvas, the word cloud and the figures.

Pictures are drawn with matplotlib (and wordcloud) on the server and
embedded as data: URIs, so the page needs nothing else and prints as it
shows. Every text that people wrote is escaped; the page carries no script.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from calma.canvas.board import Card, CardKind
from calma.outputs.schema import DerivedAxes

KIND_COLOURS = {CardKind.CODE: "#1f77b4", CardKind.TOP3: "#ff7f0e", CardKind.ATTRIBUTE: "#2ca02c", CardKind.LABEL: "#7f7f7f"}
STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1b1b1b; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .muted { color: #666; } table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; }
figure { margin: 1.5rem 0; } figure img { max-width: 100%; border: 1px solid #eee; } figcaption { color: #555; }
blockquote { margin: 0.5rem 0 0.5rem 1rem; padding-left: 0.8rem; border-left: 3px solid #ccc; color: #333; }
.axis { break-inside: avoid; margin: 1.5rem 0; } .caveat { color: #8a5300; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; } }
"""


def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def canvas_png(cards: dict[str, Card]) -> str | None:
    """The canvas as it stands: each card a dot at its place, coloured by kind, labelled when there are few."""
    if not cards:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(10, 7))
    for kind, colour in KIND_COLOURS.items():
        mine = [c for c in cards.values() if c.content.kind is kind]
        if mine:
            axes.scatter([c.x for c in mine], [-c.y for c in mine], s=[20 + 12 * c.content.people for c in mine],
                         color=colour, alpha=0.75, label=kind.value)
    if len(cards) <= 150:
        for card in cards.values():
            axes.annotate(card.content.text[:40], (card.x, -card.y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    axes.legend(loc="best", fontsize=8)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(f"The canvas: {len(cards)} cards (dot size: how many people used it)")
    return _png(figure)


def agreement_png(axes_doc: DerivedAxes) -> str | None:
    rated = [a for a in axes_doc.axes if a.agreement and a.agreement.n]
    if not rated:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 0.5 + 0.45 * len(rated)))
    names = [a.name[:50] for a in rated][::-1]
    shares = [100 * (a.agreement.share_agreeing or 0) for a in rated if a.agreement][::-1]
    axes.barh(names, shares, color="#2ca02c")
    axes.set_xlim(0, 100)
    axes.set_xlabel("% agreeing (4 or 5 of 5)")
    axes.set_title("Agreement with each definition (segment 5)")
    return _png(figure)


def tau_png(consensus: dict[str, Any] | None) -> str | None:
    people = [p for p in (consensus or {}).get("participants", []) if p.get("kendall_tau") is not None]
    if not people:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 0.5 + 0.4 * len(people)))
    axes.barh([p["display_name"][:40] for p in people][::-1], [p["kendall_tau"] for p in people][::-1], color="#1f77b4")
    axes.axvline(0, color="#999", linewidth=0.8)
    axes.set_xlim(-1, 1)
    axes.set_xlabel("Kendall's tau between each person's segment-1 and segment-5 rankings")
    return _png(figure)


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text))


def _figure(src: str | None, caption: str) -> str:
    if src is None:
        return ""
    return f'<figure><img src="{src}" alt="{_e(caption)}"><figcaption>{_e(caption)}</figcaption></figure>'


def _number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def report_html(axes_doc: DerivedAxes, cards: dict[str, Card], word_cloud: bytes | None) -> str:
    consensus = axes_doc.consensus
    parts = [
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">",
        f"<title>Derived axes — {_e(axes_doc.group.name)} · CALMA Studio</title><style>{STYLE}</style>",
        f"<h1>Derived axes — {_e(axes_doc.group.name)}</h1>",
        f"<p class=\"muted\">{_e(axes_doc.study.name)} · {_e(axes_doc.study.deployment_context)} · generated "
        f"{_e(axes_doc.generated_at)}</p>",
        "<table><thead><tr><th>#</th><th>Axis</th><th>Borda</th><th>Schulze</th><th>Median</th><th>IQR</th>"
        "<th>Agreeing</th></tr></thead><tbody>",
    ]
    for index, axis in enumerate(axes_doc.axes, start=1):
        rank, agreement = axis.rank, axis.agreement
        parts.append(
            f"<tr><td>{index}</td><td>{_e(axis.name)}</td><td>{_e(rank.borda_position if rank else None) or '—'}</td>"
            f"<td>{_e(rank.schulze_position if rank else None) or '—'}</td>"
            f"<td>{_number(agreement.median if agreement else None, 1)}</td>"
            f"<td>{_number(agreement.iqr if agreement else None, 1)}</td>"
            f"<td>{'—' if not agreement or agreement.share_agreeing is None else f'{agreement.share_agreeing:.0%}'}</td></tr>"
        )
    parts.append("</tbody></table>")
    for index, axis in enumerate(axes_doc.axes, start=1):
        parts.append(f"<section class=\"axis\"><h2>{index}. {_e(axis.name)}</h2><p>{_e(axis.definition) or '<em>No definition.</em>'}</p>")
        if axis.rated_version is not None and axis.rated_definition != axis.definition:
            parts.append(f"<p class=\"caveat\">Rated in segment 5 as version {_e(axis.rated_version)}: "
                         f"{_e(axis.rated_definition)} (changed afterwards; this is version {_e(axis.version)}).</p>")
        elif axis.rated_version is not None:
            parts.append(f"<p class=\"muted\">The wording rated in segment 5 (version {_e(axis.rated_version)}).</p>")
        if axis.provenance:
            parts.append("<p class=\"muted\">From the labels: " + ", ".join(f"“{_e(s.text)}”" for s in axis.provenance) + "</p>")
        if axis.agreement and axis.agreement.caveat:
            parts.append(f"<p class=\"caveat\">{_e(axis.agreement.caveat)}</p>")
        for example in axis.examples:
            parts.append(f"<blockquote><strong>Prompt:</strong> {_e(example.prompt)}<br><strong>Response:</strong> "
                         f"{_e(example.response)}</blockquote>")
        parts.append("</section>")
    parts.append("<h2>The canvas and the group's codes</h2>")
    parts.append(_figure(canvas_png(cards), "Every label on the group's canvas, where the map placed it or people moved it"))
    if word_cloud is not None:
        parts.append(_figure("data:image/png;base64," + base64.b64encode(word_cloud).decode(),
                             "The group's codes, sized by how often they were used"))
    if consensus:
        parts.append("<h2>Consensus</h2>")
        parts.append(f"<p>Kendall's W across everyone's rankings: before {_number(consensus.get('kendalls_w_before'))}, "
                     f"after {_number(consensus.get('kendalls_w_after'))} ({_e(consensus.get('kendalls_w_people'))} people). "
                     f"Krippendorff's alpha (ordinal) over the ratings: {_number(consensus.get('krippendorff_alpha'))}.</p>")
        for caveat in {consensus.get("kendalls_w_caveat"), consensus.get("krippendorff_caveat")} - {None}:
            parts.append(f"<p class=\"caveat\">{_e(caveat)}</p>")
        parts.append(_figure(agreement_png(axes_doc), "Share agreeing with each definition"))
        parts.append(_figure(tau_png(consensus), "How much each person's ranking moved (1: the same order; −1: reversed)"))
    else:
        parts.append("<p class=\"muted\">The consensus figures appear once the session is closed.</p>")
    parts.append("</html>")
    return "\n".join(p for p in parts if p)
