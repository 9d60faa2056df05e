"""The s.yaml import against the real Serverless Devs CLI: every corpus file resolves to what
``s preview -o json`` prints, field by field, and what ``s`` refuses is refused with the same
meaning (exit 2). ``s`` runs offline from an isolated home; credentials reach it only as the
``AccountID``/``AccessKeyID``/``AccessKeySecret`` variables it reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrun_tasks.core import secrets
from agentrun_tasks.core.errors import ConfigError
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.core.srender import render
from agentrun_tasks.core.syaml import import_syaml, is_agentrun
from agentrun_tasks.core.validate import plain
from agentrun_tasks.core.yamlfile import load_yaml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "syaml"
CASES = sorted(FIXTURES.glob("corpus/*/s*.yaml"))
SECRET_FIELDS = ("AccessKeyID", "AccessKeySecret", "SecurityToken")


def case_env(template: Path) -> dict:
    found = template.parent / "env.json"
    return json.loads(found.read_text()) if found.exists() else {}


def access_from(env: dict):
    """The credentials resolver a session passes: the same fields s reads from its environment."""
    return lambda field: (Secret(env[field]) if field in SECRET_FIELDS else env[field]) if field in env else None


def field_diff(mine, theirs, path: str = "") -> list[str]:
    """Every leaf where the two documents differ (numbers compare by value, 1 == 1.0)."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        return [f"{path}.{k}: only in {'ours' if k in mine else 's'}" for k in sorted(set(mine) ^ set(theirs), key=str)] + [
            d for k in mine if k in theirs for d in field_diff(mine[k], theirs[k], f"{path}.{k}")]
    if isinstance(mine, list) and isinstance(theirs, list):
        if len(mine) != len(theirs):
            return [f"{path}: {len(mine)} items here, {len(theirs)} in s"]
        return [d for i, (a, b) in enumerate(zip(mine, theirs)) for d in field_diff(a, b, f"{path}[{i}]")]
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (mine, theirs))
    same = float(mine) == float(theirs) if numbers else (type(mine) is type(theirs) and mine == theirs)
    return [] if same else [f"{path}: {mine!r} here, {theirs!r} in s"]


@pytest.mark.parametrize("template", CASES, ids=lambda p: p.parent.name)
def test_corpus_resolves_as_s_preview(template, s_reference):
    env = case_env(template)
    preview = s_reference.preview(template, env)
    assert preview.returncode == 0, preview.stdout[-2000:] + preview.stderr[-2000:]
    assert preview.stdout.strip(), preview.stdout[-2000:] + preview.stderr[-2000:]
    expected = json.loads(preview.stdout)
    doc = load_yaml(template, template.name)
    mine = plain(render(doc, path=template, display=template.name, environ=env, access=access_from(env)))
    assert field_diff(mine, expected) == []

    if template.parent.name == "preview-outputs":
        return  # what only s resolves: test_outputs_are_left_to_s
    for name, resource in expected["resources"].items():
        if not is_agentrun(resource["component"]):
            continue
        imported = import_syaml(template, display=template.name, resource=name, environ=env, access=access_from(env))
        agent = resource["props"]["agent"]
        if "src" in agent.get("code", {}):  # the import hands the deploy an absolute folder
            agent["code"]["src"] = str((template.parent / agent["code"]["src"]).resolve())
        for key, value in agent.get("environmentVariables", {}).items():  # validated: the API takes strings
            agent["environmentVariables"][key] = str(value).lower() if isinstance(value, bool) else str(value)
        for endpoint in agent.get("endpoints", []):  # validated: versions are LATEST or a number, as text
            endpoint.update({"version": str(endpoint["version"])} if "version" in endpoint else {})
        assert imported.region == resource["props"]["region"]
        assert field_diff(imported.agent, agent) == [], name


def test_variables_case_covers_every_form():
    text = (FIXTURES / "corpus" / "variables" / "s.yaml").read_text()
    for form in ("${env('STAGE', 'dev')}", "${env(MODEL_NAME)}", "${env('CONCURRENCY', 8)}", "${vars.sizes.cpu}",
                 "${vars.sizes.ports.0}", "${this.name}", "${this.props.region}", "${this.component}",
                 "${resources.gateway.props.url}", "${resources.search.props.region}", "${config('AccountID')}",
                 "${config('AccessKeySecret')}", "${file('./prompt.txt')}", "${path('./code/../code')}", "${cwd}", "${env('DOTENV_ONLY')}",
                 "${this.props.agent.name}"):
        assert form in text


def test_credential_values_stay_masked():
    template = FIXTURES / "corpus" / "variables" / "s.yaml"
    env = case_env(template)
    imported = import_syaml(template, display="s.yaml", resource="chat", environ=env, access=access_from(env))
    assert imported.agent["environmentVariables"]["AK_SECRET"] == env["AccessKeySecret"]  # the runtime gets it
    assert env["AccessKeySecret"] not in secrets.redact(repr(imported))


REFUSED = [
    # file, what s prints, what the import says (exit 2)
    ("missing-env.yaml", "env('AGENTRUN_TASKS_NOT_SET') not found", "AGENTRUN_TASKS_NOT_SET, which is not set"),
    ("env-dot.yaml", "${env.DATABASE_URL} not found", "Write ${env('DATABASE_URL')}"),
    ("guide-github-sha.yaml", "CompileError", "CI expression"),
    ("this-chain.yaml", "${this.name} not found", "reached through another variable"),
    ("no-access.yaml", "${this.access} not found", "${this.access} is not defined"),
    ("unknown-var.yaml", "${vars.b} not found", "${vars.b} is not defined"),
    ("file-missing.yaml", "file('./nope.txt') not found", "cannot be read"),
    ("duplicate-key.yaml", "duplicated mapping key", "duplicate key 'name'"),
    ("js-expression.yaml", "env('A') not found", "JavaScript expression that only s evaluates"),
]


@pytest.mark.parametrize(("name", "s_says", "we_say"), REFUSED, ids=[r[0] for r in REFUSED])
def test_what_s_refuses_is_refused(name, s_says, we_say, s_reference):
    template = FIXTURES / "refused" / name
    preview = s_reference.preview(template, {})
    assert preview.returncode != 0
    assert s_says in preview.stdout + preview.stderr
    with pytest.raises(ConfigError) as info:
        import_syaml(template, display=name, environ={})
    message = str(info.value)
    assert info.value.exit_code == 2
    assert "\n" not in message
    assert message.startswith(f"{name}, line ")
    assert we_say in message


def test_outputs_are_left_to_s():
    template = FIXTURES / "corpus" / "preview-outputs" / "s.yaml"
    with pytest.raises(ConfigError, match=r"line 2\d: .*BACKEND_URL: \$\{resources.backend.output.url\} is an output "
                                          r"of deploying 'backend': only s can resolve it"):
        import_syaml(template, display="s.yaml", environ={})


def test_unquoted_name_with_default_is_refused_where_s_ignores_the_variable(s_reference):
    """s turns ${env(HOME, 'd')} into the JavaScript env(undefined, 'd'): always the default."""
    template = FIXTURES / "unquoted-default.yaml"
    preview = s_reference.preview(template, {"HOME": "/home/someone"})
    assert json.loads(preview.stdout)["resources"]["agent"]["props"]["agent"]["description"] == "d"
    with pytest.raises(ConfigError, match=r"Quote the name: \$\{env\('X', 'default'\)\}"):
        import_syaml(template, display="s.yaml", environ={"HOME": "/home/someone"})
