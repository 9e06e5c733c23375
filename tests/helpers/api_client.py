"""A small client of the REST API over real HTTP: one person's view (their cookie or token)."""

from __future__ import annotations

from typing import Any

import httpx

from calma.access.sessions import SESSION_COOKIE
from tests.helpers.server import ServerProcess


class Person:
    """Someone using the API: anonymous, signed in (a session cookie) or holding a token."""

    def __init__(self, server: ServerProcess, label: str) -> None:
        self.server = server
        self.label = label
        self.session: str | None = None
        self.token: str | None = None
        self.me: dict[str, Any] = {}

    @property
    def headers(self) -> dict[str, str]:
        """Credentials as HTTP headers: the token if any, else the session cookie."""
        if self.token is not None:
            return {"Authorization": f"Bearer {self.token}"}
        if self.session is not None:
            return {"Cookie": f"{SESSION_COOKIE}={self.session}"}
        return {}

    @property
    def cookie_headers(self) -> dict[str, str]:
        return {"Cookie": f"{SESSION_COOKIE}={self.session}"} if self.session is not None else {}

    def request(self, method: str, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return httpx.request(method, self.server.http_url + path, json=json, headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, json=json, **kwargs)

    def ok(self, method: str, path: str, json: Any = None, status: int = 200) -> Any:
        """The JSON body of a request that must answer `status`."""
        response = self.request(method, path, json=json)
        assert response.status_code == status, (self.label, method, path, response.status_code, response.text)
        return response.json()

    # -- ways in ---------------------------------------------------------

    def sign_in(self, email: str, password: str) -> Person:
        response = httpx.post(
            self.server.http_url + "/api/session", json={"email": email, "password": password}, timeout=30
        )
        assert response.status_code == 200, response.text
        self.session = response.cookies[SESSION_COOKIE]
        self.me = response.json()
        return self

    def join(self, token: str, display_name: str) -> Person:
        response = httpx.post(
            self.server.http_url + "/api/join", json={"token": token, "display_name": display_name}, timeout=30
        )
        assert response.status_code == 201, response.text
        self.session = response.cookies[SESSION_COOKIE]
        self.me = response.json()
        return self

    def with_token(self, token: str) -> Person:
        self.token = token
        self.me = self.ok("GET", "/api/me")
        return self
