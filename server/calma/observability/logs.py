"""Structured logs: one JSON object per line on stderr, with secrets redacted.

Every record that reaches the handler `configure` installs (ours, uvicorn's
connection and access lines, any library's) is formatted by `JsonFormatter`,
which passes the message, every `extra` field and the exception text through
`redact` before writing it: token query values (`?token=`, `access_token=`,
...), `Authorization: Bearer` values, anything shaped like a CALMA token
(`c1.<invite>.<expiry>.<signature>`), session cookie values, and the password
in a URL's `user:password@`. Redaction happens here, at the one place every
line is written, so no caller has to remember it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time

from calma.access.sessions import SESSION_COOKIE

REDACTED = "[redacted]"

# (pattern, replacement): the name or prefix stays, so a line still says what was there.
_SECRETS: tuple[tuple[re.Pattern[str], str], ...] = (
    # a CALMA token anywhere (a query, a header, a JSON body, a message): c1.<invite id>.<expiry>.<signature>
    (re.compile(r"\bc1\.[0-9A-Za-z]+\.[0-9]+\.[A-Za-z0-9_-]+"), "c1." + REDACTED),
    # `token=...`, `access_token=...`, `password=...`, `calma_session=...` in a query string, a cookie or a form
    (
        re.compile(rf"(?i)(\b(?:[a-z0-9_-]*token|[a-z0-9_-]*password|[a-z0-9_-]*secret|{re.escape(SESSION_COOKIE)})=)"
                   r"[^&;,\s\"'#]+"),
        r"\1" + REDACTED,
    ),  # fmt: skip
    # `Authorization: Bearer <token>`, or a bearer token on its own
    (re.compile(r"(?i)(\bbearer\s+)[^\s,;\"']+"), r"\1" + REDACTED),
    # `"token": "..."` / `'calma_session': '...'` in a logged repr or JSON
    (
        re.compile(rf"(?i)([\"'](?:[a-z0-9_-]*token|password|{re.escape(SESSION_COOKIE)})[\"']\s*:\s*[\"'])[^\"']+"),
        r"\1" + REDACTED,
    ),
    # the password of a URL: scheme://user:password@host
    (re.compile(r"(://[^:/@\s]+:)[^@/\s]+@"), r"\1***@"),
)


def redact(text: str) -> str:
    """`text` with every secret this module knows the shape of replaced by a marker."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    """Formats a record as JSON with time, level, logger, message and any `extra` fields, secrets redacted."""

    _standard = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in self._standard and not key.startswith("_"):
                if isinstance(value, str):
                    payload[key] = redact(value)
                elif isinstance(value, (int, float, bool, type(None))):
                    payload[key] = value
                else:
                    payload[key] = redact(repr(value))
        if record.exc_info:
            payload["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, ensure_ascii=False)


def configure(level: str = "info") -> None:
    """Send every log record to stderr as JSON lines, secrets redacted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").setLevel("WARNING")
