"""The facilitator's Markdown, as pages of sanitized HTML.

Markdown is rendered with markdown-it (CommonMark, tables, no raw HTML: tags
written in the text are shown as text) and the HTML is then cleaned by nh3
(the ammonia sanitizer) as a second line of defence: no scripts, no event
handlers, no `javascript:` URLs; images and links with http(s) or relative
URLs are kept. A line holding only `---`, with a blank line before and after,
starts a new page.
"""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

PAGE_BREAK = re.compile(r"\n[ \t]*\n---[ \t]*\n[ \t]*\n")
_RENDERER = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
ALLOWED_TAGS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "strong", "em", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td", "del",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}


def render(markdown: str) -> str:
    """One piece of Markdown as sanitized HTML."""
    html = _RENDERER.render(markdown)
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel="noopener noreferrer nofollow")


def pages(markdown: str) -> list[str]:
    """The Markdown split at page breaks, each page rendered; blank pages are dropped."""
    text = "\n" + markdown.replace("\r\n", "\n") + "\n"
    return [render(part.strip("\n")) for part in PAGE_BREAK.split(text) if part.strip()]
