"""Local servers speaking the documented secret/variable APIs of GitHub, GitLab, Jenkins, Bitbucket
and CircleCI, for tests of the rotation sinks (a real HTTP client against 127.0.0.1).

Each fake checks its platform's authentication (a wrong token is refused as the platform refuses
it), keeps what it was sent in ``values`` (``{target: {name: plaintext}}``) and answers reads the
way the platform does (GitHub never returns values; Bitbucket hides secured ones; CircleCI shows
the last four characters; Jenkins redacts passwords). The GitHub fake decrypts every sealed box
with its own private key, so a wrong encryption fails the test.

    with GitHubFake(token="t").serving() as gh:
        ...  # gh.url, gh.values["org/app"]["ALIYUN_ACCESS_KEY_ID_PROD"]
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from contextlib import contextmanager
from typing import Any, Iterator
from urllib.parse import unquote
from xml.etree import ElementTree

from aiohttp import web
from nacl import encoding, public

from .aio import serving


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
    def serving(self) -> Iterator["Fake"]:
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


class GitHubFake(Fake):
    """Actions secrets, repository and environment scope, each scope with its own key pair. Secret
    names are checked as GitHub checks them (letters, digits and ``_``; no leading digit; no
    ``GITHUB_`` prefix: 422), and an environment name arrives URL-encoded (``%2F`` for ``/``)."""

    def __init__(self, token: str = "good-token", repos: tuple[str, ...] = ("org/app",)) -> None:
        super().__init__(token)
        self.repos = repos
        self.keys: dict[str, public.PrivateKey] = {}

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


class JenkinsFake(Fake):
    """Username/password credentials in the system store, updated through config.xml with a crumb."""

    CLASS = "com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl"

    def __init__(self, token: str = "good-token", user: str = "rotator", credentials: tuple[str, ...] = ("aliyun",)):
        super().__init__(token)
        self.user = user
        self.crumbs: dict[str, str] = {}
        for credential in credentials:
            self.store(credential).update(username="LTAIplaceholder", password="unset")

    def authorized(self, request):
        expected = "Basic " + base64.b64encode(f"{self.user}:{self.token}".encode()).decode()
        return request.headers.get("Authorization") == expected

    def routes(self, app):
        app.router.add_get("/crumbIssuer/api/json", self.crumb)
        path = "/credentials/store/system/domain/_/credential/{id}/config.xml"
        app.router.add_get(path, self.get)
        app.router.add_post(path, self.post)

    async def crumb(self, request):
        session = request.cookies.get("JSESSIONID") or uuid.uuid4().hex
        self.crumbs[session] = uuid.uuid4().hex
        response = web.json_response({"_class": "hudson.security.csrf.DefaultCrumbIssuer",
                                      "crumb": self.crumbs[session], "crumbRequestField": "Jenkins-Crumb"})
        response.set_cookie("JSESSIONID", session)
        return response

    async def get(self, request):
        found = self.values.get(request.match_info["id"])
        if found is None:
            return web.Response(status=404)
        xml = (f"<{self.CLASS}><scope>GLOBAL</scope><id>{request.match_info['id']}</id><description>ci</description>"
               f"<username>{found['username']}</username><password><secret-redacted/></password></{self.CLASS}>")
        return web.Response(body=xml.encode(), content_type="application/xml")

    async def post(self, request):
        crumb = self.crumbs.get(request.cookies.get("JSESSIONID", ""))
        if not crumb or crumb != request.headers.get("Jenkins-Crumb"):
            return web.Response(status=403, text="No valid crumb was included in the request")
        if request.match_info["id"] not in self.values:
            return web.Response(status=404)
        root = ElementTree.fromstring(await request.read())
        if root.tag != self.CLASS or root.findtext("id") != request.match_info["id"]:
            return web.Response(status=400, text="bad credential XML")
        self.store(request.match_info["id"]).update(username=root.findtext("username") or "",
                                                    password=root.findtext("password") or "")
        return web.Response(status=200)


class BitbucketFake(Fake):
    """Repository and deployment variables, paginated; secured values are never returned."""

    def authorized(self, request):
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def routes(self, app):
        for base in ("/repositories/{ws}/{repo}/pipelines_config/variables",
                     "/repositories/{ws}/{repo}/deployments_config/environments/{env:[^/]+}/variables"):
            app.router.add_get(base, self.list)
            app.router.add_post(base, self.create)
            app.router.add_put(base + "/{uuid:[^/]+}", self.update)
        self.meta: dict[str, dict[str, dict]] = {}

    def _target(self, request) -> str:
        m = request.match_info
        return f"{m['ws']}/{m['repo']}" + (f" deployment {m['env']}" if "env" in m else "")

    async def list(self, request):
        variables = list(self.meta.get(self._target(request), {}).values())
        size = int(request.query.get("pagelen", 10))
        page = int(request.query.get("page", 1))
        doc: dict[str, Any] = {"values": [{k: v for k, v in var.items() if k != "value" or not var["secured"]}
                          for var in variables[(page - 1) * size: page * size]]}
        if page * size < len(variables):
            doc["next"] = f"{self.url}{request.path}?pagelen={size}&page={page + 1}"
        return web.json_response(doc)

    async def create(self, request):
        body = await request.json()
        target = self._target(request)
        if body["key"] in self.store(target):
            return web.json_response({"error": {"message": "variable exists"}}, status=409)
        var = {"uuid": "{" + str(uuid.uuid4()) + "}", "key": body["key"], "value": body["value"],
               "secured": bool(body.get("secured"))}
        self.meta.setdefault(target, {})[var["uuid"]] = var
        self.store(target)[var["key"]] = var["value"]
        return web.json_response(var, status=201)

    async def update(self, request):
        body = await request.json()
        target = self._target(request)
        var = self.meta.get(target, {}).get(request.match_info["uuid"])
        if var is None:
            return web.json_response({"error": {"message": "not found"}}, status=404)
        var.update(value=body["value"], secured=bool(body.get("secured", var["secured"])))
        self.store(target)[var["key"]] = var["value"]
        return web.json_response({k: v for k, v in var.items() if k != "value"})


class CircleCIFake(Fake):
    """Project environment variables (masked to the last four on read) and context variables."""

    def authorized(self, request):
        return request.headers.get("Circle-Token") == self.token

    def routes(self, app):
        project = "/project/{vcs}/{org}/{repo}/envvar"
        app.router.add_get(project, self.list)
        app.router.add_post(project, self.create)
        app.router.add_get(project + "/{name}", self.get)
        app.router.add_get("/context/{id}/environment-variable", self.list)
        app.router.add_put("/context/{id}/environment-variable/{name}", self.put_context)

    def _target(self, request) -> str:
        m = request.match_info
        return f"context {m['id']}" if "id" in m else f"project {m['vcs']}/{m['org']}/{m['repo']}"

    async def list(self, request):
        items = [{"name": n, "value": "xxxx" + v[-4:]} for n, v in self.store(self._target(request)).items()]
        return web.json_response({"items": items, "next_page_token": None})

    async def create(self, request):
        body = await request.json()
        self.store(self._target(request))[body["name"]] = body["value"]
        return web.json_response({"name": body["name"], "value": "xxxx" + body["value"][-4:]}, status=201)

    async def get(self, request):
        value = self.store(self._target(request)).get(request.match_info["name"])
        if value is None:
            return web.json_response({"message": "Environment variable not found."}, status=404)
        return web.json_response({"name": request.match_info["name"], "value": "xxxx" + value[-4:]})

    async def put_context(self, request):
        body = await request.json()
        self.store(self._target(request))[request.match_info["name"]] = body["value"]
        return web.json_response({"variable": request.match_info["name"], "context_id": request.match_info["id"]})


class YunxiaoFake(Fake):
    """Flow variable groups (central edition paths): GET, and PUT replacing every variable; the
    ``variables`` JSON must come in the form body; encrypted values are never returned."""

    def __init__(self, token: str = "good-token", groups: tuple[str, ...] = ("1234",)) -> None:
        super().__init__(token)
        self.groups: dict[str, dict[str, Any]] = {
            g: {"id": int(g), "name": f"group {g}", "description": "", "variables": []} for g in groups}

    def authorized(self, request):
        return request.headers.get("x-yunxiao-token") == self.token

    def routes(self, app):
        path = "/oapi/v1/flow/organizations/{org}/variableGroups/{id}"
        app.router.add_get(path, self.get)
        app.router.add_put(path, self.put)

    async def get(self, request):
        group = self.groups.get(request.match_info["id"])
        if group is None:
            return web.json_response({"errorCode": "NotFound", "errorMessage": "no such group"}, status=404)
        shown = [{**v, "value": "******" if v["isEncrypted"] else v["value"]} for v in group["variables"]]
        return web.json_response({**group, "variables": shown})

    async def put(self, request):
        group = self.groups.get(request.match_info["id"])
        form = await request.post()
        if group is None:
            return web.json_response({"errorCode": "NotFound"}, status=404)
        if "variables" in request.query or "variables" not in form:
            return web.json_response({"errorCode": "InvalidParam.ParamNotPresent"}, status=400)
        group["variables"] = json.loads(form["variables"])
        self.values[request.match_info["id"]] = {v["name"]: v["value"] for v in group["variables"]}
        return web.json_response(True)
