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
import uuid
from typing import Any
from xml.etree import ElementTree

from aiohttp import web

from .git_hosts import GitHubFake, GitLabFake
from .platform_fake import Fake

__all__ = ["BitbucketFake", "CircleCIFake", "Fake", "GitHubFake", "GitLabFake", "JenkinsFake", "YunxiaoFake"]


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
