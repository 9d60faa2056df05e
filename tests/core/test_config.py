"""Loading and validating envs/<name>.yaml: this repository's four files, defaults, variables,
and one clear error paragraph (file, line, key path, hint) per kind of bad input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from agentrun_tasks.core import secrets
from agentrun_tasks.core.config import ENV_NAME_RE, list_envs, load_env, parse_duration, parse_size
from agentrun_tasks.core.errors import ConfigError
from agentrun_tasks.core.retry import RetryPolicy

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "fixtures" / "config" / "golden"
CONTEXT = {"branch": "feature/login", "branch_slug": "feature-login"}

AGENT = """\
agent:
  name: demo
  code:
    src: code
    language: python3.12
    command: [python3, app.py]
  cpu: 1
"""
"""Lines 2-8 of every test file below (line 1 is region)."""


def write_env(root: Path, body: str, name: str = "dev") -> str:
    (root / "envs").mkdir(exist_ok=True)
    (root / "envs" / f"{name}.yaml").write_text(body, encoding="utf-8")
    return name


def as_json(cfg) -> dict:
    """The whole EnvConfig as JSON-able data, with paths relative to the repository."""
    data = dataclasses.asdict(cfg)
    data["path"] = cfg.path.relative_to(REPO).as_posix()
    return json.loads(json.dumps(data))


@pytest.mark.parametrize("name", ["local", "dev", "prod", "preview"])
def test_repository_env_files_match_golden(name):
    cfg = load_env(name, root=REPO, environ={}, context=CONTEXT)
    expected = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    assert as_json(cfg) == expected
    RetryPolicy(**cfg.retry)  # the retry block is RetryPolicy's fields


def test_repository_env_files_say_what_the_brief_asks():
    envs = {n: load_env(n, root=REPO, environ={}, context=CONTEXT) for n in list_envs(REPO)}
    assert sorted(envs) == ["dev", "local", "preview", "prod"]
    assert envs["local"].emulator
    assert envs["local"].protocol == "http"
    assert not envs["prod"].emulator
    assert envs["prod"].protect.branches[:3] == ("main", "master", "hotfix/*")
    assert envs["prod"].protect.confirm
    assert envs["prod"].credentials.allow_dotenv is False
    assert envs["dev"].credentials.allow_dotenv is True
    assert envs["dev"].agent["cpu"] < envs["prod"].agent["cpu"]
    assert envs["preview"].agent_name == "agentrun-tasks-example-feature-login"
    assert all(e.agent["port"] == 9000 and e.code_dir == REPO / "code" for e in envs.values())


def test_preview_without_branch_context_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"envs/preview.yaml, line \d+: agent.name: \$\{ctx.branch_slug\} is not defined"):
        load_env("preview", root=REPO, environ={})


def test_defaults_come_from_the_model(tmp_path):
    name = write_env(tmp_path, "region: cn-beijing\n" + AGENT)
    cfg = load_env(name, root=tmp_path, environ={})
    assert (cfg.driver, cfg.protocol, cfg.emulator, cfg.control_endpoint) == ("openapi", "https", False, None)
    assert cfg.credentials.profile == "dev"
    assert cfg.credentials.allow_dotenv is True
    assert cfg.release.steps == (0.05, 0.25, 0.5, 1.0)
    assert cfg.release.analysis.min_requests == 20
    assert cfg.path == tmp_path.resolve() / "envs" / "dev.yaml"


def test_prod_defaults_to_no_dotenv_and_scalars_are_parsed(tmp_path):
    body = ("region: cn-hangzhou\ninline_zip_limit: 512KB\ndeploy_timeout: 1h\ncontrol_endpoint: 127.0.0.1:8080\n"
            "protocol: http\nretry: {attempts: 3, initial: 250ms, total: 2m}\n" + AGENT)
    cfg = load_env(write_env(tmp_path, body, "prod"), root=tmp_path, environ={})
    assert cfg.credentials.allow_dotenv is False
    assert cfg.credentials.profile == "prod"
    assert (cfg.inline_zip_limit, cfg.deploy_timeout, cfg.control_endpoint) == (524288, 3600.0, "127.0.0.1:8080")
    assert cfg.retry == {"attempts": 3, "initial": 0.25, "total": 120.0}


def test_env_variables(tmp_path):
    body = ("region: ${env('REGION', 'cn-shanghai')}\nagent:\n  name: demo-${ctx.env}\n"
            "  code: {src: code, language: python3.12}\n  cpu: ${env('CPU')}\n  internetAccess: ${env('NET')}\n")
    cfg = load_env(write_env(tmp_path, body), root=tmp_path, environ={"CPU": "2", "NET": "false"})
    assert (cfg.region, cfg.agent["name"], cfg.agent["cpu"], cfg.agent["internetAccess"]) == (
        "cn-shanghai", "demo-dev", 2.0, False)


def test_secret_from_env_never_shows(tmp_path):
    sentinel = "SENTINEL-5ecret-9d2f61"
    body = ("region: cn-hangzhou\n" + AGENT + "  environmentVariables:\n    API_KEY: ${env('API_KEY')}\n"
            "    MIXED: Bearer ${env('API_KEY')}\n")
    cfg = load_env(write_env(tmp_path, body), root=tmp_path, environ={"API_KEY": sentinel})
    assert cfg.agent["environmentVariables"]["API_KEY"] == sentinel
    assert sentinel not in secrets.redact(repr(cfg))
    # a misplaced secret is named by its template in the error, never by its value
    bad = "region: cn-hangzhou\n" + AGENT.replace("cpu: 1", "cpu: ${env('API_KEY')}")
    with pytest.raises(ConfigError) as info:
        load_env(write_env(tmp_path, bad), root=tmp_path, environ={"API_KEY": sentinel})
    assert "${env('API_KEY')}" in str(info.value)
    assert sentinel not in str(info.value)


@pytest.mark.parametrize("where", ["deploy_timeout: ${env('TOK')}\n", "inline_zip_limit: ${env('TOK')}\n"])
def test_a_secret_in_a_parsed_setting_is_named_by_its_template(tmp_path, where):
    sentinel = "SENTINEL-sk-parsed-4411"
    body = "region: cn-hangzhou\n" + where + AGENT
    with pytest.raises(ConfigError) as info:
        load_env(write_env(tmp_path, body), root=tmp_path, environ={"TOK": sentinel})
    assert "${env('TOK')}" in str(info.value)
    assert sentinel not in str(info.value)


def test_settings_and_defaults_are_not_masked(tmp_path):
    body = ("region: cn-hangzhou\n" + AGENT + "  environmentVariables:\n    LOG_LEVEL: ${env('LOG_LEVEL')}\n"
            "    MODE: ${env('MODE', 'default-mode-value')}\n")
    cfg = load_env(write_env(tmp_path, body), root=tmp_path, environ={"LOG_LEVEL": "debug"})
    assert cfg.agent["environmentVariables"] == {"LOG_LEVEL": "debug", "MODE": "default-mode-value"}
    assert secrets.redact("debug default-mode-value") == "debug default-mode-value"


R = "region: cn-hangzhou\n"

BAD = [
    # id, file body, substrings the one-paragraph message must contain
    ("unknown-top-key", "regoin: cn-hangzhou\n" + AGENT, ["line 1", "regoin", "Did you mean 'region'?"]),
    ("unknown-release-key", R + AGENT + "release:\n  stpes: [1.0]\n", ["line 10", "release.stpes", "Did you mean 'steps'?"]),
    ("unknown-analysis-key", R + AGENT + "release:\n  analysis:\n    max_eror_rate: 0.1\n",
     ["line 11", "release.analysis.max_eror_rate", "Did you mean 'max_error_rate'?"]),
    ("unknown-agent-key-snake-case", R + AGENT + "  instance_concurrency: 5\n",
     ["line 9", "agent.instance_concurrency", "Did you mean 'instanceConcurrency'?"]),
    ("unknown-code-key", R + AGENT.replace("language:", "lang:"), ["line 6", "agent.code.lang", "Did you mean 'language'?"]),
    ("unknown-key-no-near-match", R + AGENT + "protect:\n  zzz: 1\n", ["line 10", "protect.zzz", "Valid keys here: branches, confirm"]),
    ("cpu-wrong-type", R + AGENT.replace("cpu: 1", "cpu: lots"), ["line 8", "agent.cpu", "expected a number", "'lots'"]),
    ("bool-wrong-type", R + "emulator: 'yes'\n" + AGENT, ["line 2", "emulator", "expected true or false"]),
    ("list-wrong-type", R + AGENT + "protect: {branches: main}\n", ["line 9", "protect.branches", "expected a list"]),
    ("mapping-wrong-type", R + AGENT + "release: canary\n", ["line 9", "release", "expected a mapping"]),
    ("weight-above-one", R + AGENT + "release:\n  steps: [0.5, 1.5]\n", ["line 10", "release.steps[1]", "out of range", "[0, 1]"]),
    ("weight-negative", R + AGENT + "release:\n  steps:\n    - -0.1\n    - 1.0\n", ["line 11", "release.steps[0]", "out of range"]),
    ("steps-not-ascending", R + AGENT + "release:\n  steps:\n    - 0.5\n    - 0.25\n    - 1.0\n",
     ["line 12", "release.steps[1]", "must ascend"]),
    ("last-step-not-one", R + AGENT + "release:\n  steps: [0.1, 0.5]\n", ["line 10", "release.steps", "must be 1.0"]),
    ("max-error-rate-above-one", R + AGENT + "release:\n  analysis: {max_error_rate: 5}\n",
     ["line 10", "release.analysis.max_error_rate", "out of range"]),
    ("region-not-in-list", "region: cn-hangzou\n" + AGENT, ["line 1", "region", "Did you mean 'cn-hangzhou'?"]),
    ("language-not-in-list", R + AGENT.replace("python3.12", "python3.9"), ["line 6", "agent.code.language", "python3.10"]),
    ("cpu-out-of-range", R + AGENT.replace("cpu: 1", "cpu: 32"), ["line 8", "agent.cpu", "out of range", "16"]),
    ("memory-out-of-range", R + AGENT + "  memory: 64\n", ["line 9", "agent.memory", "out of range", "128"]),
    ("memory-not-whole", R + AGENT + "  memory: 1024.5\n", ["line 9", "agent.memory", "whole number"]),
    ("interval-not-duration", R + AGENT + "release: {interval: 5 minutes}\n",
     ["line 9", "release.interval", "not a duration", "5m"]),
    ("health-timeout-not-duration", R + AGENT + "health:\n  timeout: soon\n", ["line 10", "health.timeout", "not a duration"]),
    ("deploy-timeout-negative", R + "deploy_timeout: -5\n" + AGENT, ["line 2", "deploy_timeout", "not a duration"]),
    ("lock-ttl-zero", R + AGENT + "release: {lock_ttl: 0s}\n", ["line 9", "release.lock_ttl", "too small"]),
    ("size-bad", R + "inline_zip_limit: 20 parsecs\n" + AGENT, ["line 2", "inline_zip_limit", "not a size"]),
    ("missing-env-var", R + AGENT.replace("name: demo", "name: ${env('AGENT_NAME')}"),
     ["line 3", "agent.name", "AGENT_NAME", "is not set"]),
    ("unsupported-variable", R + AGENT.replace("name: demo", "name: ${config('AccountID')}"),
     ["line 3", "agent.name", "not a variable agentrun-tasks understands"]),
    ("vars-outside-syaml", R + AGENT.replace("name: demo", "name: ${vars.name}"), ["line 3", "only in an s.yaml"]),
    ("agent-name-with-slash", R + AGENT.replace("name: demo", "name: demo/feature"), ["line 3", "agent.name", "starts with a letter"]),
    ("no-code-nor-container", R + "agent: {name: demo}\n", ["line 2", "agent", "exactly one of code"]),
    ("code-without-source", R + "agent: {name: demo, code: {language: python3.12}}\n", ["agent.code", "src"]),
    ("no-agent", R + "driver: openapi\n", ["envs/dev.yaml", "exactly one of agent"]),
    ("no-region", AGENT, ["envs/dev.yaml", "missing required key 'region'", "cn-hangzhou"]),
    ("endpoint-with-scheme", R + "control_endpoint: https://x.example\n" + AGENT, ["line 2", "control_endpoint", "without a scheme"]),
    ("emulator-with-s", R + "emulator: true\ndriver: serverless-devs\n" + AGENT, ["line 3", "driver", "openapi"]),
    ("driver-typo", R + "driver: open-api\n" + AGENT, ["line 2", "driver", "Did you mean 'openapi'?"]),
    ("account-id-not-digits", R + AGENT + "credentials: {account_id: abc}\n", ["line 9", "credentials.account_id", "digits"]),
    ("env-var-name", R + AGENT + "  environmentVariables: {'1X': y}\n", ["line 9", "agent.environmentVariables.1X"]),
    ("endpoint-weight", R + AGENT + "  endpoints: [{name: prod, weight: 1}]\n", ["line 9", "agent.endpoints[0].weight", "(0"]),
]


@pytest.mark.parametrize(("body", "expected"), [pytest.param(b, e, id=i) for i, b, e in BAD])
def test_bad_env_file(tmp_path, body, expected):
    name = write_env(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_env(name, root=tmp_path, environ={})
    message = str(info.value)
    assert info.value.exit_code == 2
    assert message.startswith("envs/dev.yaml")
    assert "\n" not in message
    for part in expected:
        assert part in message


@pytest.mark.parametrize(("body", "line", "problem"), [
    pytest.param("region: cn-hangzhou\nagent: [name: x\n", 2, "not valid YAML", id="unclosed-bracket"),
    pytest.param("region: cn-hangzhou\nagent:\n  name: a\n name: b\n", 4, "not valid YAML", id="bad-indent"),
    pytest.param("region: cn-hangzhou\nregion: cn-beijing\n", 2, "duplicate key", id="duplicate-key"),
    pytest.param("", None, "must be a mapping", id="empty-file"),
    pytest.param("- region\n", None, "must be a mapping", id="top-level-list"),
])
def test_malformed_yaml(tmp_path, body, line, problem):
    name = write_env(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_env(name, root=tmp_path, environ={})
    message = str(info.value)
    assert message.startswith("envs/dev.yaml")
    assert problem in message
    assert "\n" not in message
    if line:
        assert f"line {line}" in message


def test_unknown_env_lists_the_known_ones(tmp_path):
    write_env(tmp_path, "region: cn-hangzhou\n" + AGENT, "dev")
    write_env(tmp_path, "region: cn-hangzhou\n" + AGENT, "prod")
    with pytest.raises(ConfigError, match=r"unknown environment 'staging'.*Known: dev, prod\.$"):
        load_env("staging", root=tmp_path, environ={})


def test_missing_envs_folder(tmp_path):
    with pytest.raises(ConfigError, match=r"envs/dev.yaml is missing: there is no envs/ folder"):
        load_env("dev", root=tmp_path, environ={})


@pytest.mark.parametrize("name", ["../x", "a/b", "/etc/passwd", "prod.yaml", "..", "", "dev\n", "x" * 64])
def test_env_name_with_path_characters_is_refused(tmp_path, name):
    (tmp_path / "x.yaml").write_text("region: cn-hangzhou\n" + AGENT)  # ../x would find this
    write_env(tmp_path, "region: cn-hangzhou\n" + AGENT, "dev")
    with pytest.raises(ConfigError, match=r"is not a valid environment name.*Known: dev\."):
        load_env(name, root=tmp_path, environ={})
    assert not ENV_NAME_RE.fullmatch(name)


def test_list_envs(tmp_path):
    assert list_envs(tmp_path) == []
    for name in ("prod", "dev", "bad.name"):
        write_env(tmp_path, "", name)
    (tmp_path / "envs" / "notes.txt").write_text("")
    assert list_envs(tmp_path) == ["dev", "prod"]


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("1h30m", 5400.0), ("250ms", 0.25), ("2d", 172800.0),
    ("90", 90.0), ("1.5", 1.5), (45, 45.0), (0.5, 0.5), (" 10S ", 10.0),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "seconds"), [("1m30s250ms", 90.25), ("1.5h", 5400.0), ("2h0m", 7200.0)])
def test_parse_duration_compound(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5 minutes", "-1", -1, "1w", "m5", "1h-30m", True, float("inf"),
                                  "1h1h", "30m1h", "1s1m", "1.5h30m", "5m5m", "1ms1s", "1hh", "h", "1h 30m"])
def test_parse_duration_rejects(text):
    with pytest.raises(ConfigError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(("text", "size"), [
    ("512KB", 524288), ("20MB", 20 * 1024**2), ("1GB", 1024**3), ("20MiB", 20 * 1024**2), ("20m", 20 * 1024**2),
    ("100", 100), ("100B", 100), (4096, 4096), ("1.5KB", 1536),
])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "20 parsecs", "-5MB", "MB", True, -1])
def test_parse_size_rejects(text):
    with pytest.raises(ConfigError, match="is not a size"):
        parse_size(text)


def test_real_traffic_needs_a_logstore_to_read_it_from(tmp_path):
    body = "region: cn-hangzhou\n" + AGENT + "release: {real_traffic: true}\n"
    with pytest.raises(ConfigError, match=r"envs/dev.yaml, line \d+: release: real_traffic: true reads"):
        load_env(write_env(tmp_path, body), root=tmp_path, environ={})
    logged = AGENT.replace("  cpu: 1\n", "  cpu: 1\n  logConfig: auto\n")
    cfg = load_env(write_env(tmp_path, "region: cn-hangzhou\n" + logged + "release: {real_traffic: true}\n"),
                   root=tmp_path, environ={})
    assert cfg.release.real_traffic is True
