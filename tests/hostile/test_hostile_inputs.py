"""The hostile-input corpus: every case is a real ``invoke`` process in a scratch project fed a
hostile input (YAML bombs, huge and negative numbers, links out of the code folder, special
files, odd unicode, empty strings, bad environment names). Each must exit with its documented
code (2 bad input, 3 credentials) within seconds, print no traceback, and change nothing in the
project. The time bound is a subprocess timeout, not a timing assertion."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]  # the checkout under test, not whichever copy is installed
TIMEOUT_S = 30  # "within seconds": a hang is killed and fails the case
AGENT = "agent:\n  name: {name}\n  code: {{src: {src}, language: python3.12, command: [python3, app.py]}}\n"


def env_file(top: str = "", *, name: str = "demo", src: str = "code", agent: str = "") -> str:
    """envs/h.yaml: a valid cloud environment, with ``top`` and ``agent`` lines added."""
    return "region: cn-hangzhou\n" + top + AGENT.format(name=name, src=src) + agent


def s_yaml(value: str, vars: str = "  stage: dev\n") -> dict:
    """deploy/s.yaml whose agent's PROMPT is ``value``, and the project's .env.local with a sentinel."""
    text = ("edition: 3.0.0\nname: app\nvars:\n" + vars + "resources:\n  chat:\n    component: agentrun\n"
            "    props:\n      region: cn-hangzhou\n      agent:\n        name: demo\n"
            "        code: {src: ../code, language: python3.12, command: [python3, app.py]}\n"
            f"        environmentVariables: {{PROMPT: \"{value}\"}}\n")
    return {"deploy/s.yaml": text, ".env.local": "ALIYUN_ACCESS_KEY_SECRET_H=SENTINELhostile0000000002\n",
            "other/.env.local": "GITHUB_TOKEN=SENTINELhostile0000000003\n"}


IMPORT = "s_yaml: {path: deploy/s.yaml}\n"
DEPLOY = ("deploy", "--env", "h", "--yes")


def bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n" + env_file()


@dataclass(frozen=True)
class Case:
    name: str
    argv: tuple[str, ...]
    code: int
    env_yaml: str | bytes | None = None  # envs/h.yaml; None keeps the valid default
    files: dict = field(default_factory=dict)  # extra files: relative path -> text or bytes
    links: dict = field(default_factory=dict)  # relative path -> link target (as written)
    fifos: tuple[str, ...] = ()
    environ: dict = field(default_factory=dict)
    expect: tuple[str, ...] = ()  # what the error paragraph must name


BUILD = ("build", "--env", "h")
CI = {"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main"}

CASES = [
    # -- environment names and flags ---------------------------------------------------------------
    Case("env-empty", ("build", "--env", ""), 2),
    Case("env-blank", ("build", "--env", "   "), 2),
    Case("env-empty-in-ci", ("build", "--env", ""), 2, environ=CI),
    Case("env-path-traversal", ("build", "--env", "../envs/h"), 2),
    Case("env-absolute-path", ("build", "--env", "/etc/passwd"), 2),
    Case("env-with-extension", ("build", "--env", "h.yaml"), 2),
    Case("env-trailing-newline", ("build", "--env", "h\n"), 2),
    Case("env-unicode-lookalike", ("build", "--env", "\u04bb"), 2),  # Cyrillic shha looks like h
    Case("env-bidi-override", ("build", "--env", "\u202eh"), 2),
    Case("env-very-long", ("build", "--env", "h" * 300), 2),
    Case("env-unknown", ("build", "--env", "nosuch"), 2),
    Case("limit-negative", ("history", "--env", "h", "--limit", "-1"), 2),
    Case("limit-huge", ("history", "--env", "h", "--limit", "99999999999999999999"), 2),
    Case("limit-not-a-number", ("history", "--env", "h", "--limit", "1e999"), 2),
    Case("port-negative", ("local.up", "--port", "-1"), 2),
    Case("port-huge", ("local.up", "--port", "99999999999999999999"), 2),
    Case("version-not-a-number", ("release", "--version", "abc", "--yes"), 2),
    Case("version-zero", ("rollback", "--to-version", "0", "--yes"), 2),
    Case("version-a-path", ("endpoint.publish", "--target-version", "../x"), 2),
    Case("version-huge", ("logs", "--version", "99999999999999999999"), 2),
    Case("weight-above-one", ("endpoint.publish", "--env", "h", "--canary-version", "2", "--weight", "1.5"), 2),
    Case("weight-negative-percent", ("endpoint.publish", "--env", "h", "--canary-version", "2", "--weight", "-5%"), 2),
    Case("weight-nan", ("endpoint.publish", "--env", "h", "--canary-version", "2", "--weight", "nan"), 2),
    Case("weight-infinite", ("endpoint.publish", "--env", "h", "--canary-version", "2", "--weight", "1e999"), 2),
    # -- the env file: bombs, numbers, unicode, emptiness, special files ---------------------------
    Case("yaml-alias-bomb", BUILD, 2, env_yaml=bomb()),
    Case("yaml-self-reference", BUILD, 2, env_yaml="a: &a [*a]\n" + env_file()),
    Case("yaml-deep-nesting", BUILD, 2, env_yaml="region: " + "[" * 5000 + "]" * 5000 + "\n"),
    Case("yaml-nesting-past-the-limit", BUILD, 2, env_yaml="region: " + "[" * 150 + "]" * 150 + "\n"),
    Case("yaml-empty-file", BUILD, 2, env_yaml=""),
    Case("yaml-not-utf8", BUILD, 2, env_yaml=b"region: \xff\xfe\x00cn\n"),
    Case("yaml-a-list", BUILD, 2, env_yaml="- region\n- agent\n"),
    Case("yaml-control-character", BUILD, 2, env_yaml=env_file(name="a\x01b"), expect=("line 3", "U+0001")),
    Case("yaml-nul-character", BUILD, 2, env_yaml="region: cn-hangzhou\x00\n", expect=("U+0000",)),
    Case("interval-repeated-unit", BUILD, 2, env_yaml=env_file("release: {interval: 1h1h}\n"), expect=("'1h1h'",)),
    Case("interval-units-reversed", BUILD, 2, env_yaml=env_file("release: {interval: 30s1m}\n")),
    Case("deploy-timeout-two-fractions", BUILD, 2, env_yaml=env_file("deploy_timeout: 1.5h1.5m\n")),
    Case("min-age-repeated-unit", ("rotate-keys", "--env", "h", "--min-age", "1h1h"), 2, expect=("--min-age",)),
    Case("grace-repeated-unit", ("rotate-keys", "--env", "h", "--grace", "5m5m"), 2, expect=("--grace",)),
    Case("since-repeated-unit", ("logs", "--env", "h", "--since", "1d1d"), 2, expect=("--since",)),
    Case("interval-huge", BUILD, 2, env_yaml=env_file("release: {interval: 99999999999999999999d}\n")),
    Case("interval-negative", BUILD, 2, env_yaml=env_file("release: {interval: -5m}\n")),
    Case("interval-zero", BUILD, 2, env_yaml=env_file("release: {interval: 0s}\n")),
    Case("deploy-timeout-huge", BUILD, 2, env_yaml=env_file("deploy_timeout: 1e400\n")),
    Case("notify-timeout-a-year", BUILD, 2, env_yaml=env_file("notify: {timeout: 365d}\n")),
    Case("lock-ttl-a-year", BUILD, 2, env_yaml=env_file("release: {lock_ttl: 365d}\n")),
    Case("zip-limit-huge", BUILD, 2, env_yaml=env_file("inline_zip_limit: 99999999999999GB\n")),
    Case("zip-limit-huge-integer", BUILD, 2, env_yaml=env_file("inline_zip_limit: 99999999999999999999999999\n")),
    Case("zip-limit-negative", BUILD, 2, env_yaml=env_file("inline_zip_limit: -1\n")),
    Case("retry-attempts-huge", BUILD, 2, env_yaml=env_file("retry: {attempts: 99999999999}\n")),
    Case("steps-descending", BUILD, 2, env_yaml=env_file("release: {steps: [0.5, 0.2, 1.0]}\n")),
    Case("steps-above-one", BUILD, 2, env_yaml=env_file("release: {steps: [2.0]}\n")),
    Case("cpu-huge", BUILD, 2, env_yaml=env_file(agent="  cpu: 1e308\n")),
    Case("memory-negative", BUILD, 2, env_yaml=env_file(agent="  memory: -1\n")),
    Case("status-out-of-range", BUILD, 2, env_yaml=env_file("health: {expect_status: 99999}\n")),
    Case("region-zero-width-space", BUILD, 2, env_yaml=env_file().replace("cn-hangzhou", "cn-hangzhou\u200b")),
    Case("agent-name-unicode", BUILD, 2, env_yaml=env_file(name="d\u00e9mo")),
    Case("agent-name-empty", BUILD, 2, env_yaml=env_file(name='""')),
    Case("env-file-links-to-dev-zero", BUILD, 2, links={"envs/h.yaml": "/dev/zero"}),
    Case("env-file-is-a-fifo", BUILD, 2, fifos=("envs/h.yaml",)),
    Case("s-yaml-is-dev-zero", BUILD, 2, env_yaml="region: cn-hangzhou\ns_yaml: {path: /dev/zero}\n"),
    Case("s-yaml-is-a-fifo", BUILD, 2, env_yaml="region: cn-hangzhou\ns_yaml: {path: s.yaml}\n", fifos=("s.yaml",)),
    # -- the code folder: links out of it, special files, bad patterns, src outside the project --
    Case("link-to-dotenv-local", BUILD, 2, links={"code/creds": "../.env.local"},
         files={".env.local": "ALIYUN_ACCESS_KEY_SECRET_LOCAL=SENTINELhostile0000000001\n"}),
    Case("link-to-proc-environ", BUILD, 2, links={"code/environ": "/proc/self/environ"}),
    Case("link-to-dev-zero", BUILD, 2, links={"code/zero": "/dev/zero"}),
    Case("link-to-root-dir", BUILD, 2, links={"code/everything": "/"}),
    Case("link-broken", BUILD, 2, links={"code/gone": "nowhere"}),
    Case("code-folder-is-a-link-out", BUILD, 2, env_yaml=env_file(src="outside"), links={"outside": "/etc"}),
    Case("link-name-with-newline", BUILD, 2, links={"code/evil\nname.py": "app.py"}, expect=("'evil\\nname.py'",)),
    Case("file-name-with-newline", BUILD, 2, files={"code/evil\nname.py": "x = 1\n"}, expect=("U+000A",)),
    Case("ignore-pattern-bad-range", BUILD, 2, files={"code/.agentrunignore": "**/[z-a]\n"}),
    Case("src-empty-is-whole-project", BUILD, 2, env_yaml=env_file(src='""')),
    Case("src-dot-is-whole-project", BUILD, 2, env_yaml=env_file(src=".")),
    Case("src-absolute-outside", BUILD, 2, env_yaml=env_file(src="/etc")),
    Case("src-parent", BUILD, 2, env_yaml=env_file(src="..")),
    Case("src-escapes-by-dots", BUILD, 2, env_yaml=env_file(src="code/../..")),
    # -- an imported s.yaml: file()/path() stay in its folder, away from .env* and .agentrun/ ------
    Case("syaml-file-dotenv-local", DEPLOY, 2, env_yaml=IMPORT, files=s_yaml("${file('../.env.local')}"),
         expect=("${file('../.env.local')}", "/proj/.env.local", "outside the s.yaml's folder")),
    Case("syaml-file-proc-environ", DEPLOY, 2, env_yaml=IMPORT, files=s_yaml("${file('/proc/self/environ')}"),
         expect=("${file('/proc/self/environ')}", "/proc/")),
    Case("syaml-file-etc-passwd", DEPLOY, 2, env_yaml=IMPORT, files=s_yaml("${file('/etc/passwd')}"),
         expect=("${file('/etc/passwd')}", "/etc/passwd")),
    Case("syaml-file-dotenv-by-dots", DEPLOY, 2, env_yaml=IMPORT,
         files=s_yaml("${file('../sub/../../other/.env.local')}"),
         expect=("${file('../sub/../../other/.env.local')}", "/other/.env.local")),
    Case("syaml-path-to-tmp", DEPLOY, 2, env_yaml=IMPORT, files=s_yaml("${path('../../..')}"),
         expect=("${path('../../..')}", "outside the s.yaml's folder")),
    Case("syaml-file-link-to-dotenv", DEPLOY, 2, env_yaml=IMPORT, files=s_yaml("${file('./prompt.txt')}"),
         links={"deploy/prompt.txt": "../.env.local"}, expect=("${file('./prompt.txt')}", "/proj/.env.local")),
    Case("syaml-file-dotenv-beside", DEPLOY, 2, env_yaml=IMPORT,
         files={**s_yaml("${file('.env')}"), "deploy/.env": "TOKEN=SENTINELhostile0000000004\n"},
         expect=("${file('.env')}", "dotenv file .env")),
    Case("syaml-vars-loop", DEPLOY, 2, env_yaml=IMPORT, files=s_yaml("${vars.a}", "  a: '${vars.b}'\n  b: '${vars.a}'\n"),
         expect=("PROMPT", "refer to each other in a loop")),
    # -- credentials ------------------------------------------------------------------------------
    Case("credentials-blank-values", ("credentials.show", "--env", "h"), 3,
         environ={"ALIYUN_ACCESS_KEY_ID_H": "  ", "ALIYUN_ACCESS_KEY_SECRET_H": ""}),
    Case("credentials-half-pair", ("credentials.show", "--env", "h"), 3,
         environ={"ALIYUN_ACCESS_KEY_ID_H": "LTAIFAKEhostile000000001"}),
]


def make_project(root: Path, case: Case) -> None:
    (root / "envs").mkdir(parents=True)
    (root / "code").mkdir()
    (root / "tasks.py").write_text("from agentrun_tasks.tasks import ns  # noqa: F401\n")
    (root / "code" / "app.py").write_text("print('hello')\n")
    (root / "envs" / "local.yaml").write_text("region: cn-hangzhou\nemulator: true\n" + AGENT.format(name="demo", src="code"))
    if "envs/h.yaml" not in case.links and "envs/h.yaml" not in case.fifos:
        text = env_file() if case.env_yaml is None else case.env_yaml
        (root / "envs" / "h.yaml").write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    for rel, content in case.files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    for rel, target in case.links.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, root / rel)
    for rel in case.fifos:
        os.mkfifo(root / rel)


def snapshot(root: Path) -> dict:
    """Every entry under ``root``: its kind, and the content hash of regular files (FIFOs and
    links are never opened)."""
    seen = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                seen[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                seen[rel] = ("dir",)
            elif path.is_file():
                seen[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                seen[rel] = ("special",)
    return seen


def run(root: Path, case: Case) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(root.parent), "LANG": "C.UTF-8", "PYTHONPATH": str(REPO),
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", **case.environ}
    child = subprocess.Popen([sys.executable, "-m", "invoke", *case.argv], cwd=root, env=env, text=True,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
    try:
        out, err = child.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        pytest.fail(f"{case.name}: still running after {TIMEOUT_S}s (killed)")
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


def test_the_corpus_covers_every_kind_of_hostile_input():
    kinds = {"env-", "limit-", "port-", "weight-", "yaml-", "interval-", "zip-limit-", "link-", "src-",
             "ignore-", "credentials-", "fifo", "syaml-"}
    names = " ".join(case.name for case in CASES)
    assert all(kind in names for kind in kinds)
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input_exits_with_its_code_and_changes_nothing(tmp_path, case):
    root = tmp_path / "proj"
    make_project(root, case)
    before = snapshot(root)
    proc = run(root, case)
    assert proc.returncode == case.code, f"{case.name}: exit {proc.returncode}\n{proc.stderr}{proc.stdout}"
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")
    assert snapshot(root) == before
    assert "SENTINELhostile" not in proc.stdout + proc.stderr
    assert all(part in proc.stderr for part in case.expect), proc.stderr
