"""``${...}`` variables, resolved as Serverless Devs 3 (``s``) resolves them in an s.yaml.

``s`` hands every string to an art-template compiler (``@serverless-devs/art-template``'s
``devs-compile``). Its rules, which this module follows:

* ``${name(ARG)}`` without quotes means ``name('ARG')``; with quotes it is JavaScript, of which
  the calls ``env('X')``, ``env('X', default)``, ``config('F')``, ``file('p')`` and ``path('p')``
  are read here and anything else is refused as only ``s`` can run it.
* ``${a.b.c}`` looks ``b.c`` up in ``a`` (``vars``, ``this``, ``resources``, ``components``,
  ``credential``, ``cwd``); a missing value is an error (``${a.b} not found``).
* A value that is exactly one variable keeps its type (a number, a list); several variables and
  text concatenate as JavaScript would print them. A result that still holds ``${...}`` is
  compiled once more, without the ``this.`` rewrite, so ``this`` is unknown there.
* ``env`` treats an empty variable as unset; ``file``/``path`` resolve from the s.yaml's folder and,
  stricter than ``s``, stay inside it (links resolved), away from ``.env*`` and ``.agentrun/``,
  unless the env file names the path in ``s_yaml.allow_paths``.
* ``${resources.x.output.y}`` (and ``info``, ``components.x.output``) exist only while ``s`` runs
  the resources: ``s preview`` keeps them as text; an import refuses them.

Env files (``envs/*.yaml``) use the same machinery with ``${ctx.x}`` and without the s.yaml names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from .sfiles import file_value
from .validate import Loc, Substituted, Unset
from .yamlfile import LineDict, LineList

_VAR = re.compile(r"\$\{([\s\S]*?)\}")
VARIABLE = _VAR  # what still looks like a variable after resolving
_CALL = re.compile(r"\s*(?P<name>\w+)\((?P<args>.*)\)\s*", re.DOTALL)
_QUOTED = r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\""""
_ARGS = re.compile(rf"\s*(?P<first>{_QUOTED})\s*(?:,\s*(?P<default>{_QUOTED}|-?\d+(?:\.\d+)?|true|false)\s*)?")
_UNQUOTED_WITH_DEFAULT = re.compile(rf"\s*[\w.-]+\s*,\s*(?:{_QUOTED})\s*")
ACCESS_FIELDS = ("AccountID", "AccessKeyID", "AccessKeySecret", "SecurityToken")
_SUPPORTED = ("${env('X')}, ${env(X)}, ${env('X', 'default')}, ${vars.a.b}, ${this.name}, ${this.props.x}, "
              "${resources.<name>.props.x}, ${config('AccountID')}, ${file('./x')} and ${path('./x')}")

AccessResolver = Callable[[str], Any]
"""``config('F')``: the environment's credential field F as a Secret or str, or None if unknown."""


def access_fields(credentials: Any) -> dict[str, Any]:
    """A :class:`~.credentials.Credentials` under the names ``config('F')`` uses (Secrets stay Secrets)."""
    return {"AccountID": credentials.account_id, "AccessKeyID": credentials.access_key_id,
            "AccessKeySecret": credentials.access_key_secret, "SecurityToken": credentials.security_token}


@dataclass(frozen=True)
class Variables:
    """What ``${...}`` can see. ``vars`` of ``None``: not an s.yaml (an env file, with ``ctx``)."""

    environ: Mapping[str, str]
    vars: Mapping[str, Any] | None = None
    ctx: Mapping[str, str] | None = None
    base: Path | None = None  # the s.yaml's folder: cwd, file(), path()
    allowed: tuple[Path, ...] = ()  # real paths the env file lets file()/path() reach (s_yaml.allow_paths)
    this: Mapping[str, Any] | None = None  # the resource being resolved (name, access, component, props)
    resources: Mapping[str, Any] | None = None
    components: Mapping[str, Any] | None = None
    access: AccessResolver | None = None
    preview: bool = False  # keep what only a running `s` resolves as text, as `s preview` does
    # Key paths (prefixes) whose unset ${env('X')} is kept as an Unset, to fail only where used.
    lazy: tuple[tuple[str, ...], ...] = ()

    @property
    def syaml(self) -> bool:
        return self.vars is not None


def substitute(node: Any, loc: Loc, variables: Variables) -> Any:
    """A copy of ``node`` with every ``${...}`` resolved. In an s.yaml, null values are
    dropped as ``s`` drops them (a list keeps inner holes as null, loses trailing ones)."""
    if isinstance(node, Mapping):
        result = LineDict()
        result.lines = dict(getattr(node, "lines", {}))
        for key, value in node.items():
            value = substitute(value, loc.child(node, key), variables)
            if value is not None or not variables.syaml:
                result[key] = value
        return result
    if isinstance(node, list):
        items = LineList(substitute(item, loc.child(node, i), variables) for i, item in enumerate(node))
        items.lines = list(getattr(node, "lines", []))
        while variables.syaml and items and items[-1] is None:
            items.pop()
        return items
    if isinstance(node, str) and not isinstance(node, Substituted):
        value = resolve(node, loc, variables)
        return substitute(value, loc, variables) if isinstance(value, (Mapping, list)) else value
    return node


def resolve(text: str, loc: Loc, variables: Variables, *, again: bool = True) -> Any:
    """The value of one string: itself, one variable's value (any type) or their concatenation."""
    if variables.syaml and "<%" in text and "%>" in text:
        raise loc.error("holds '<% ... %>', which s runs as template code.", "Remove it or write it differently.")
    matches = list(_VAR.finditer(text))
    if not matches:
        return text
    from_env = False
    whole = len(matches) == 1 and matches[0].span() == (0, len(text))

    def value_of(match: re.Match) -> Any:
        nonlocal from_env
        code = match.group(1)
        if again and variables.this is not None:  # s rewrites ${this. to ${that. on the first pass only
            value = _expression(code, match.group(0), loc, variables)
        else:
            value = _expression(code, match.group(0), loc, replace(variables, this=None))
        if isinstance(value, Unset) and not whole:  # only a value that is the variable alone waits
            raise value.error()
        from_env |= getattr(value, "from_env", False)
        return value

    if len(matches) == 1 and matches[0].span() == (0, len(text)):
        value = value_of(matches[0])
        if isinstance(value, Unset):
            return value
    else:
        value = _VAR.sub(lambda m: js_text(value_of(m), m.group(0), loc), text)
    if isinstance(value, str) and again and _VAR.search(value):
        value = resolve(value, loc, variables, again=False)  # s compiles a result holding ${...} once more
        from_env |= getattr(value, "from_env", False)
    if not isinstance(value, str):
        return value
    result = Substituted(value)
    result.template, result.from_env = text, from_env
    return result


def _expression(code: str, template: str, loc: Loc, v: Variables) -> Any:
    if code.lstrip().startswith("{"):
        raise loc.error(f"{template}... is a CI expression (GitHub's ${{{{ }}}}), which s cannot compile: nothing "
                        "substitutes it inside a file.", "Use ${env('GITHUB_SHA')} and the like instead.")
    if re.search(r"\(.*\)", code, re.DOTALL):
        return _call(code, template, loc, v)
    root, *path = code.split(".")
    root = root.strip()
    if v.syaml and root in ("resources", "components") and len(path) >= 2 and path[1] in ("output", "info"):
        if v.preview:
            return template
        raise loc.error(f"{template} is an output of deploying '{path[0]}': only s can resolve it, while it runs.",
                        "Write the value itself, or pass it in with ${env('X')}.")
    if root == "env":
        raise loc.error(f"{template} is not a variable: s reports it as not found.",
                        f"Write ${{env('{'.'.join(path)}')}}.")
    if root == "ctx" and v.ctx is None:
        raise loc.error(f"{template} is not available here: ctx. variables exist only in env files.")
    if root in ("vars", "this", "resources", "components", "cwd", "credential") and not v.syaml:
        raise loc.error(f"{template} is not available here: {root}. variables exist only in an s.yaml.",
                        "Use ${env('X')} or ${ctx.name}.")
    if root in ("self", "shared"):
        raise loc.error(f"{template} refers to {root}, which only s can resolve.", f"Use {_SUPPORTED}.")
    if root == "credential":  # the data behind config(): s reports a missing field as not found
        return _access(path[0], template, loc, v, required=True) if len(path) == 1 else _missing(template, loc, v)
    scopes = {"vars": v.vars, "ctx": v.ctx, "this": v.this, "resources": v.resources, "components": v.components,
              "cwd": str(v.base) if v.base else None}
    if root not in scopes or scopes[root] is None:
        if not v.syaml:
            raise loc.error(f"{template} is not a variable agentrun-tasks understands.",
                            "Use ${env('X')}, ${env('X', 'default')} or ${ctx.name}.")
        return _missing(template, loc, v)
    value: Any = scopes[root]
    for part in path:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _missing(template, loc, v)
    return _missing(template, loc, v) if value is None else value


def _missing(template: str, loc: Loc, v: Variables) -> Any:
    if template.startswith("${this.") and v.this is None and v.syaml:
        raise loc.error(f"{template} is reached through another variable, where s does not know 'this' "
                        "(it reports it as not found).", "Refer to the value itself instead.")
    root = template[2:-1].split(".")[0].strip()
    known = {"vars": v.vars, "ctx": v.ctx, "this": v.this, "resources": v.resources}.get(root)
    hint = f"Known {root} names: {', '.join(map(str, known)) or 'none'}." if isinstance(known, Mapping) else ""
    if not v.syaml:
        raise loc.error(f"{template} is not defined.", hint)
    raise loc.error(f"{template} is not defined (s: '{template} not found').", hint)


def _call(code: str, template: str, loc: Loc, v: Variables) -> Any:
    call = _CALL.fullmatch(code)
    only_s = loc.error(f"{template} is a JavaScript expression that only s evaluates.", f"Use {_SUPPORTED}.")
    if call is None:
        raise only_s
    name, args = call.group("name"), call.group("args")
    if "'" in code or '"' in code:
        if name == "env" and _UNQUOTED_WITH_DEFAULT.fullmatch(args):
            raise loc.error(f"{template}: s reads an unquoted name with a default as the default alone, "
                            "whatever the variable holds.", "Quote the name: ${env('X', 'default')}.")
        parsed = _ARGS.fullmatch(args)
        if parsed is None:
            raise only_s
        first, default = _literal(parsed.group("first")), parsed.group("default")
        default = _literal(default) if default is not None else None
    else:
        first, default = args, None  # s quotes it: env(X) is env('X')
    if name == "env":
        return _env(first, default, template, loc, v)
    if default is not None:
        raise only_s
    if name == "config" and v.syaml:
        return _access(first, template, loc, v, required=not v.preview)
    if name in ("file", "path") and v.syaml and v.base is not None:
        return file_value(name, first, template, loc, v.base, v.allowed)
    if not v.syaml:
        raise loc.error(f"{template} is not a variable agentrun-tasks understands.",
                        "Use ${env('X')}, ${env('X', 'default')} or ${ctx.name}"
                        + ("; config() exists only in an s.yaml." if name == "config" else "."))
    raise only_s


def _literal(token: str) -> Any:
    if token[0] in "'\"":
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    if token in ("true", "false"):
        return token == "true"
    return float(token) if "." in token else int(token)


def _env(name: str, default: Any, template: str, loc: Loc, v: Variables) -> Any:
    if v.environ.get(name):  # s: an empty variable counts as unset
        value = Substituted(v.environ[name])
        value.template, value.from_env = template, True
        return value
    if default is not None:
        return default
    unset = Unset.of(name, template, loc)
    if any(loc.path[:len(prefix)] == prefix for prefix in v.lazy):
        return unset
    raise unset.error()


def _access(field: str, template: str, loc: Loc, v: Variables, *, required: bool) -> Any:
    if field not in ACCESS_FIELDS:
        raise loc.error(f"{template} is not a credential field (s: not found).",
                        f"Use one of {', '.join(ACCESS_FIELDS)}.")
    if v.access is None:
        raise loc.error(f"{template} needs the environment's credentials, which are not available here.")
    found = v.access(field)
    if found is None:
        if not required:
            return template  # `s preview` prints it as written when no credentials are set
        raise loc.error(f"{template}: the environment's credentials have no {field}.",
                        "Set it with the credentials (e.g. ALIYUN_ACCOUNT_ID_<ENV>) or credentials.account_id.")
    value = Substituted(found.reveal() if hasattr(found, "reveal") else str(found))
    value.template, value.from_env = template, hasattr(found, "reveal")
    return value


def js_text(value: Any, template: str, loc: Loc) -> str:
    """``value`` as JavaScript prints it inside a longer string (``1.0`` is ``1``, ``true``)."""
    if isinstance(value, (Mapping, list)):
        raise loc.error(f"{template} is a mapping or list and cannot be part of a longer string "
                        "(s would write '[object Object]' or join the items with commas).")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _js_number(value)
    return str(value)


def _js_number(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "Infinity" if x > 0 else "-Infinity"
    if x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    exponent = Decimal(repr(x)).adjusted()  # JavaScript: shortest digits, plain notation from 1e-7 to 1e21
    if -7 < exponent < 21:
        return format(Decimal(repr(x)), "f")
    mantissa = repr(x).split("e")[0] if "e" in repr(x) else repr(x / 10**exponent)
    return f"{mantissa}e{'+' if exponent > 0 else '-'}{abs(exponent)}"
