"""Security headers on every HTTP response of the hub: pages, static files, the API, health and metrics.

One ASGI middleware around the whole app (wired in `calma.app`). It adds,
unless the response set its own:

- `Content-Security-Policy`: pages (HTML) may load scripts, styles, fonts and
  images from this origin only (images also as `data:`, the pages' icon), talk
  only to this origin (`connect-src 'self'` covers its websockets), and never
  run inline scripts or styles; every other response (JSON, text, assets)
  gets `default-src 'none'`. A response with a stricter policy of its own
  (the report page, the Gemma terms) keeps it, with `frame-ancestors 'none'`
  added if it lacks it.
- No framing by other sites, so no clickjacking of the console: pages may be framed by this origin only
  (`frame-ancestors 'self'`, `X-Frame-Options: SAMEORIGIN`: the Discuss page shows the canvas in a frame);
  everything else by nobody (`frame-ancestors 'none'`, `X-Frame-Options: DENY`).
- `X-Content-Type-Options: nosniff`: a participant's text is never run as a script or style.
- `Referrer-Policy: no-referrer`: invite links (`/join?token=`) never leak through the Referer header.
- `Cross-Origin-Opener-Policy: same-origin`: another site's window cannot keep a handle on ours.

Websockets are left alone (browsers ignore these headers on them). A 304 Not Modified gets no policy:
it has no content type to choose one by, and the browser would apply it (and X-Frame-Options) to the page
it has cached.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'self'",  # the Discuss page frames the canvas page; no other site frames anything
    )
)
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def is_page(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "text/html"


def policy_for(content_type: str, own: str | None) -> str:
    """The Content-Security-Policy a response goes out with."""
    if own is not None:
        return own if "frame-ancestors" in own else f"{own}; frame-ancestors 'none'"
    return PAGE_POLICY if is_page(content_type) else OTHER_POLICY


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                # A 304 has no content type, and the browser would merge its policy into the cached page's
                # headers: it keeps the policy the page came with instead.
                if message["status"] != 304:
                    policy = policy_for(headers.get("content-type", ""), headers.get("content-security-policy"))
                    headers["Content-Security-Policy"] = policy
                    if "X-Frame-Options" not in headers:
                        headers["X-Frame-Options"] = "SAMEORIGIN" if "frame-ancestors 'self'" in policy else "DENY"
                for name, value in HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
