"""What every local platform fake shares: one token, the values it was sent, a log of requests, and
an aiohttp app served on 127.0.0.1 that refuses a wrong token as the platform does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from .aio import serving

__all__ = ["Fake"]


class Fake:
    """Shared plumbing: one token, the stored values, a served app, a log of requests."""

    def __init__(self, token: str = "good-token") -> None:
        self.token = token
        self.values: dict[str, dict[str, str]] = {}
        self.requests: list[str] = []
        self.url = ""

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def authorized(self, request: web.Request) -> bool:
        raise NotImplementedError

    def refuse(self) -> web.Response:
        return web.json_response({"message": "Bad credentials"}, status=401)

    @contextmanager
    def serving(self) -> Iterator[Fake]:
        @web.middleware
        async def gate(request, handler):
            self.requests.append(f"{request.method} {request.path_qs}")
            if not self.authorized(request):
                return self.refuse()
            return await handler(request)

        app = web.Application(middlewares=[gate])
        self.routes(app)
        with serving(app) as url:
            self.url = url
            yield self

    def store(self, target: str) -> dict[str, str]:
        return self.values.setdefault(target, {})
