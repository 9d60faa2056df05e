"""Local GitHub (Actions secrets, sealed with the scope's public key) and GitLab (project and group
CI/CD variables, scoped by environment) for tests of the rotation sinks: see :mod:`.platforms`."""

from __future__ import annotations

import base64
import fnmatch
import re
from urllib.parse import unquote

from aiohttp import web
from nacl import encoding, public

from .platform_fake import Fake

__all__ = ["GitHubFake", "GitLabFake"]


class GitHubFake(Fake):
    """Actions secrets, repository and environment scope, each scope with its own key pair. Secret
    names are checked as GitHub checks them (letters, digits and ``_``; no leading digit; no
    ``GITHUB_`` prefix: 422), and an environment name arrives URL-encoded (``%2F`` for ``/``)."""

    def __init__(self, token: str = "good-token", repos: tuple[str, ...] = ("org/app",)) -> None:
        super().__init__(token)
        self.repos = repos
        self.keys: dict[str, public.PrivateKey] = {}

    def visible(self, repo: str, environment: str | None = None) -> dict[str, str]:
        """The secrets (decrypted) a job of ``repo`` that names ``environment`` gets: the repository's,
        overridden by the environment's, as GitHub resolves a name held in both."""
        scoped = self.values.get(f"{repo} environment {environment}", {}) if environment else {}
        return {**self.values.get(repo, {}), **scoped}

    def authorized(self, request):
        return request.headers.get("Authorization") == f"Bearer {self.token}" and \
            request.headers.get("X-GitHub-Api-Version") == "2022-11-28"

    def routes(self, app):
        for prefix in ("/repos/{owner}/{repo}/actions", "/repos/{owner}/{repo}/environments/{env}"):
            app.router.add_get(prefix + "/secrets/public-key", self.public_key)
            app.router.add_get(prefix + "/secrets", self.list)
            app.router.add_put(prefix + "/secrets/{name}", self.put)

    def _scope(self, request) -> str | None:
        repo = f"{request.match_info['owner']}/{request.match_info['repo']}"
        if repo not in self.repos:
            return None
        env = request.match_info.get("env")
        return repo + (f" environment {unquote(env)}" if env else "")

    async def public_key(self, request):
        scope = self._scope(request)
        if scope is None:
            return web.json_response({"message": "Not Found"}, status=404)
        key = self.keys.setdefault(scope, public.PrivateKey.generate())
        return web.json_response({"key_id": str(abs(hash(scope)) % 10**12),
                                  "key": key.public_key.encode(encoding.Base64Encoder).decode()})

    async def list(self, request):
        scope = self._scope(request)
        if scope is None:
            return web.json_response({"message": "Not Found"}, status=404)
        names = sorted(self.values.get(scope, {}))
        size, page = int(request.query.get("per_page", 30)), int(request.query.get("page", 1))
        shown = names[(page - 1) * size: page * size]
        return web.json_response({"total_count": len(names), "secrets": [{"name": n} for n in shown]})

    async def put(self, request):
        scope = self._scope(request)
        body = await request.json()
        if scope is None or scope not in self.keys:
            return web.json_response({"message": "Not Found"}, status=404)
        name = request.match_info["name"]
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name.upper().startswith("GITHUB_"):
            return web.json_response({"message": "Secret names can only contain alphanumeric characters or "
                                      "underscores, must not start with a number or GITHUB_"}, status=422)
        if body.get("key_id") != str(abs(hash(scope)) % 10**12):
            return web.json_response({"message": "key_id does not match"}, status=422)
        plain = public.SealedBox(self.keys[scope]).decrypt(base64.b64decode(body["encrypted_value"])).decode()
        created = request.match_info["name"] not in self.store(scope)
        self.store(scope)[request.match_info["name"]] = plain
        return web.Response(status=201 if created else 204)


class GitLabFake(Fake):
    """Project and group CI/CD variables with environment scopes; values only in bodies. As GitLab:
    a key held in several scopes without ``filter[environment_scope]`` is a 409; ``version`` below
    16.9 ignores the filter on group variables (the first scope holding the key is changed)."""

    def __init__(self, token: str = "good-token", version: str = "17.5.0") -> None:
        super().__init__(token)
        self.version = version

    def visible(self, owner: str, environment: str) -> dict[str, str]:
        """The variables a job of ``owner`` (``"projects 42"``, ``"groups 7"``) in ``environment`` gets:
        those scoped ``*``, overridden by those whose scope matches the environment's name (a
        wildcard scope such as ``preview/*`` matches ``preview/x``)."""
        prefix = f"{owner} scope "
        scopes = sorted((t[len(prefix):] for t in self.values if t.startswith(prefix)), key=lambda s: s != "*")
        found: dict[str, str] = {}
        for scope in scopes:
            if fnmatch.fnmatchcase(environment, scope):
                found.update(self.values[prefix + scope])
        return found

    def authorized(self, request):
        return request.headers.get("PRIVATE-TOKEN") == self.token

    def routes(self, app):
        base = "/api/v4/{kind:projects|groups}/{id}/variables"
        app.router.add_get("/api/v4/version", self.get_version)
        app.router.add_get(base, self.list)
        app.router.add_post(base, self.create)
        app.router.add_get(base + "/{key}", self.get)
        app.router.add_put(base + "/{key}", self.update)

    async def get_version(self, request):
        return web.json_response({"version": self.version, "revision": "fake"})

    def _owner(self, request) -> str:
        return f"{request.match_info['kind']} {request.match_info['id']}"

    def _held(self, request, key: str) -> list[str]:
        """The scopes holding ``key`` under this project or group."""
        prefix = self._owner(request) + " scope "
        return [t[len(prefix):] for t, v in self.values.items() if t.startswith(prefix) and key in v]

    def _pick(self, request, key: str) -> tuple[str | None, web.Response | None]:
        """The scope a GET/PUT of ``key`` addresses, or the error GitLab answers."""
        held = self._held(request, key)
        ignores = request.match_info["kind"] == "groups" and tuple(map(int, self.version.split(".")[:2])) < (16, 9)
        wanted = None if ignores else request.query.get("filter[environment_scope]")
        if wanted is not None:
            return (wanted, None) if wanted in held else (None, self._missing())
        if len(held) > 1 and not ignores:
            said = "There are multiple variables with provided parameters. Please use 'filter[environment_scope]'"
            return None, web.json_response({"message": {"base": [said]}}, status=409)
        return (held[0], None) if held else (None, self._missing())

    @staticmethod
    def _missing() -> web.Response:
        return web.json_response({"message": "404 Variable Not Found"}, status=404)

    async def list(self, request):
        prefix = self._owner(request) + " scope "
        found = [{"key": k, "value": v, "environment_scope": t[len(prefix):]}
                 for t, vs in self.values.items() if t.startswith(prefix) for k, v in vs.items()]
        return web.json_response(found)

    async def get(self, request):
        scope, error = self._pick(request, request.match_info["key"])
        if error is not None:
            return error
        value = self.values[f"{self._owner(request)} scope {scope}"][request.match_info["key"]]
        return web.json_response({"key": request.match_info["key"], "value": value, "environment_scope": scope})

    def _invalid(self, request, body: dict) -> web.Response | None:
        if "value" in request.query:
            return web.json_response({"message": "value in the query string"}, status=400)
        value = str(body.get("value", ""))
        if body.get("masked") and (len(value) < 8 or not re.fullmatch(r"[A-Za-z0-9+/=@:.~_-]+", value)):
            return web.json_response({"message": {"value": ["is invalid"]}}, status=400)
        return None

    async def create(self, request):
        body = await request.json()
        key, scope = body.get("key", ""), body.get("environment_scope", "*")
        error = self._invalid(request, body)
        if error is not None:
            return error
        if scope in self._held(request, key):
            return web.json_response({"message": {"key": [f"({key}) has already been taken"]}}, status=400)
        self.store(f"{self._owner(request)} scope {scope}")[key] = str(body["value"])
        return web.json_response({"key": key, "environment_scope": scope}, status=201)

    async def update(self, request):
        body = await request.json()
        key = request.match_info["key"]
        error = self._invalid(request, body)
        scope, missing = self._pick(request, key)
        if error is not None or missing is not None:
            return error or missing
        self.store(f"{self._owner(request)} scope {scope}")[key] = str(body["value"])
        return web.json_response({"key": key, "environment_scope": scope})
