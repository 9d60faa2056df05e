"""An s.yaml with its variables resolved, in the order and scopes ``s`` uses (its parse-spec
``ParseContent``), so the result equals what ``s preview -o json`` prints.

1. The ``.env`` file beside the s.yaml is read (the process environment wins over it).
2. Every top-level key but ``resources`` is resolved, with the raw ``vars``.
3. Each resource in order: its ``component``; then its ``props`` with ``this`` = the resource
   as written (``this.props`` raw); then the whole resource again with ``this.props`` = those
   first-pass props. ``resources.<other>`` sees earlier resources resolved, later ones raw.
4. Null values disappear; the top-level ``access`` stays as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from .svars import AccessResolver, Variables, resolve, substitute
from .validate import Loc
from .yamlfile import LineDict


def check_document(doc: Any, loc: Loc) -> None:
    """Refuse what ``s`` would not read as a Serverless Devs 3 application."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("resources"), Mapping):
        hint = "Serverless Devs 3 renamed services: to resources: (`s cli fc3 s2tos3` converts it)." if (
            isinstance(doc, Mapping) and "services" in doc) else ""
        raise loc.error("has no 'resources:' mapping, so it is not a Serverless Devs 3 s.yaml.", hint)
    if str(doc.get("edition")) != "3.0.0":
        raise loc.child(doc, "edition").error(
            f"edition is {doc.get('edition')!r}: s resolves variables only in edition 3.0.0 files.",
            "Write edition: 3.0.0.")
    for key, where in (("extend", doc), *(("extend", r) for r in doc["resources"].values() if isinstance(r, Mapping))):
        if key in where:
            raise loc.error("uses extend:, which merges in another YAML file; the import does not follow it.",
                            "Write the merged s.yaml out, or point s_yaml.path at the file it extends.")
    for name, item in doc["resources"].items():
        if not isinstance(item, Mapping) or not isinstance(item.get("props", {}), Mapping):
            raise loc.child(doc, "resources").child(doc["resources"], name).error(
                "expected a mapping with component: and props:.")


def render(doc: Mapping[str, Any], *, path: Path, display: str, environ: Mapping[str, str],
           access: AccessResolver | None = None, overrides: Mapping[str, Any] | None = None,
           preview: bool = True, resource: str | None = None, allowed: tuple[Path, ...] = ()) -> LineDict:
    """``doc`` (loaded from ``path``) resolved. ``preview`` keeps what only a running ``s``
    knows as text (``${resources.x.output.y}``, ``config()`` without credentials); with
    ``preview=False`` those are errors in ``resource`` (the one being imported). ``allowed``: real
    paths outside the s.yaml's folder that ``file()``/``path()`` may read all the same."""
    loc = Loc(display)
    check_document(doc, loc)
    environ = {**_dotenv(path.parent / ".env"), **environ}
    raw_vars = doc.get("vars")
    if overrides:
        raw_vars = _merged(raw_vars if isinstance(raw_vars, Mapping) else {}, overrides)
    top = Variables(environ, vars=raw_vars if isinstance(raw_vars, Mapping) else {}, base=path.parent,
                    allowed=allowed, access=access, preview=preview)
    rest = _merged({k: v for k, v in doc.items() if k != "resources"}, {"vars": raw_vars} if overrides else {},
                   lines=getattr(doc, "lines", {}))
    content = substitute(rest, loc, top)
    resolved = _merged(doc["resources"], {}, lines=getattr(doc["resources"], "lines", {}))
    common = replace(top, vars=content.get("vars") if isinstance(content.get("vars"), Mapping) else {},
                     resources=resolved, components=_components(doc))
    res_loc = loc.child(doc, "resources")
    for name, item in doc["resources"].items():
        at = res_loc.child(doc["resources"], name)
        scope = replace(common, preview=preview or name != resource)
        item = _merged(item, {"props": item.get("props") or {}}, lines=getattr(item, "lines", {}))
        component = item.get("component")
        if isinstance(component, str):
            component = resolve(component, at.child(item, "component"), scope)
        this = {"name": name, "access": doc.get("access"), "component": component, **item}
        first = substitute(item["props"], at.child(item, "props"), replace(scope, this=this))
        resolved[name] = substitute(item, at, replace(scope, this={**this, "props": first}))
    content["resources"] = resolved
    if doc.get("access") is not None:
        content["access"] = doc["access"]  # s prints the access it chose, as written
    return content


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any], *, lines: Mapping | None = None) -> LineDict:
    result = LineDict({**base, **extra})
    result.lines = dict(lines if lines is not None else getattr(base, "lines", {}))
    return result


def _components(doc: Mapping[str, Any]) -> dict:
    found = doc.get("components")
    if not isinstance(found, Mapping):
        return {}
    return {k: {"props": (v.get("props") or {}) if isinstance(v, Mapping) else {}} for k, v in found.items()}


def _dotenv(path: Path) -> dict[str, str]:
    """``s`` loads the ``.env`` beside the s.yaml into its environment (without overriding)."""
    if not path.is_file():
        return {}
    return {k: v for k, v in dotenv_values(path).items() if v is not None}
