"""A Jenkins username/password credential as a sink (username = AccessKey id, password = secret).

The credential must exist (create it once by hand, in the store and domain the sink names); it
is updated by POSTing its ``config.xml`` as the credentials plugin documents, with the CSRF crumb
from ``/crumbIssuer/api/json`` in the header it names (the crumb is tied to the session cookie,
which the client keeps). Jenkins redacts passwords on GET, so only the username is read back.
Auth: a user and API token from ``JENKINS_USER``/``JENKINS_TOKEN`` (HTTP basic).
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from ...core.errors import ConfigError
from ...core.secrets import Secret
from ...core.sinks import SinkSpec, token
from .http import Api

_CLASS = "com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl"


class JenkinsSink:
    def __init__(self, spec: SinkSpec, environ: Mapping[str, str]) -> None:
        self.name = spec.name
        self.credential_id = spec["credential_id"]
        self.path = (f"/credentials/store/{spec['store']}/domain/{spec['domain']}/credential/"
                     f"{spec['credential_id']}/config.xml")
        user = token(spec, environ, "user_env")
        tok = token(spec, environ)
        self.api = Api(spec["url"], {}, what="Jenkins", auth=(user.reveal(), tok.reveal()))

    def _current(self) -> ElementTree.Element:
        response = self.api.call("GET", self.path, missing_ok=True)
        if response is None:
            raise ConfigError(f"The {self.name} sink updates an existing credential, and Jenkins has none with id "
                              f"'{self.credential_id}' there: create a 'Username with password' credential with "
                              "that id once, then rerun. Nothing was changed.")
        root = ElementTree.fromstring(response.content)
        if root.tag != _CLASS:
            raise ConfigError(f"The {self.name} sink needs a 'Username with password' credential; "
                              f"'{self.credential_id}' is a {root.tag.rsplit('.', 1)[-1]}.")
        return root

    def _crumb(self) -> dict[str, str]:
        response = self.api.call("GET", "/crumbIssuer/api/json", missing_ok=True)
        if response is None:  # CSRF protection off: no crumb needed
            return {}
        doc = response.json()
        return {doc["crumbRequestField"]: doc["crumb"]}

    def preflight(self) -> None:
        self._current()
        self._crumb()

    def write(self, key_id: str, secret: Secret) -> None:
        current = self._current()
        scope = current.findtext("scope") or "GLOBAL"
        description = current.findtext("description") or "AccessKey rotated by agentrun-tasks"
        xml = (f"<{_CLASS}><scope>{escape(scope)}</scope><id>{escape(self.credential_id)}</id>"
               f"<description>{escape(description)}</description><username>{escape(key_id)}</username>"
               f"<password>{escape(secret.reveal())}</password></{_CLASS}>")
        headers = {"Content-Type": "application/xml", **self._crumb()}
        self.api.call("POST", self.path, content=xml.encode(), headers=headers)

    def read_back(self, key_id: str, secret: Secret) -> bool | None:
        if self._current().findtext("username") != key_id:
            return False
        return None  # the password is redacted: only the id can be checked

    def held_id(self) -> str | None:
        return self._current().findtext("username") or None
