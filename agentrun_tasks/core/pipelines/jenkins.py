"""Jenkins (declarative, multibranch): ``Jenkinsfile``.

Approval is a stage-level ``input`` (with ``submitter``); the prod lock
(``lock(resource: 'agentrun-prod')``, Lockable Resources) is taken by a nested stage after it, so
a release waiting for its approver blocks nobody. ``disableConcurrentBuilds()`` per branch.
Secrets are credentials bound by ``withCredentials`` to the names the library reads: the
Secret-text ids of the usual CI guide (README, "What it fixes in the usual CI guide"), or for prod
the Username-with-password credential a ``jenkins`` sink rotates.
Manual rollback/promote are the ``ACTION`` and ``TO_VERSION`` build parameters; the weekly
rotation is a ``cron`` trigger on main. Tags build only with tag discovery and a tag build
strategy (docs/ci.md). Aborting a build sends SIGTERM to ``sh`` steps, which the release turns
into a rollback.
"""

from __future__ import annotations

from . import model as m

PATH = "Jenkinsfile"
LOCK = "'agentrun-prod'"
# A feature branch with an open PR builds twice (the branch and PR-n, both its preview): the two
# deploys take turns instead of one meeting the other's lock (exit 7).
PREVIEW_LOCK = '"agentrun-preview-${env.CHANGE_BRANCH ?: env.BRANCH_NAME}"'
# The release tag rule as a REGEXP (the default GLOB comparator has no character classes).
TAG_WHEN = f"tag pattern: '{m.TAG_REGEX.lstrip('^')}.*', comparator: 'REGEXP'"
PROD_WHEN = [f"branch '{b}'" for b in m.PROD_BRANCHES] + [f"branch '{m.HOTFIX_PREFIX}*'", TAG_WHEN]
INDENT = " " * 20


def _credentials(env: str, opts: m.Options, rotation: bool = False) -> str:
    """withCredentials bindings, named as the library reads them. Prod reads the credential the
    env file's jenkins sink writes, if it has one (a Username with password: id and secret), so a
    rotation updates what every later stage reads; otherwise the usual CI guide's Secret-text ids."""
    tier = "prod" if env == "prod" else "dev"
    key_id, secret, account = m.secret_names(opts.profile(env))
    sink = opts.sinks.jenkins_credential if env == "prod" else None
    if sink:
        bindings = [f"usernamePassword(credentialsId: '{sink}', usernameVariable: '{key_id}', "
                    f"passwordVariable: '{secret}')"]
    else:
        bindings = [f"string(credentialsId: 'aliyun-{tier}-credentials-{cid}', variable: '{name}')"
                    for cid, name in (("access-key-id", key_id), ("access-key-secret", secret))]
    bindings.append(f"string(credentialsId: 'aliyun-{tier}-credentials-account-id', variable: '{account}')")
    if rotation:  # the sinks' API tokens, each a Secret text named after its variable
        bindings += [f"string(credentialsId: '{token_credential(name)}', variable: '{name}')"
                     for name in opts.sinks.tokens]
    return ",\n".join(INDENT + b for b in bindings)


def token_credential(variable: str) -> str:
    """The Secret-text credential id holding a sink's token: JENKINS_TOKEN -> agentrun-jenkins-token."""
    return "agentrun-" + variable.lower().replace("_", "-")


def _steps(command: str, opts: m.Options, env: str | None, rotation: bool, pad: str = "") -> list[str]:
    out = [pad + "            steps {"]
    if env:
        out += [pad + "                withCredentials([",
                *(pad + line for line in _credentials(env, opts, rotation).split("\n")),
                pad + "                ]) {", f"{pad}                    sh '{command}'", pad + "                }"]
    else:
        out.append(f"{pad}                sh '{command}'")
    return [*out, pad + "            }"]


def _stage(name: str, command: str, opts: m.Options, *, when: list[str], env: str | None = None,
           approval: str | None = None, lock: str | None = None, rotation: bool = False) -> str:
    """One stage. With an approval the input is asked in this stage and the lock is taken by a
    nested one, so nobody holds the prod lock while a release waits for its approver."""
    conditions = "\n".join(f"                    {c}" for c in when)
    out = [f"        stage('{name}') {{",
           "            when {",
           "                beforeInput true" if approval else None,
           "                allOf {",
           conditions,
           "                }",
           "            }"]
    locked = ["            options {", f"                lock(resource: {lock})", "            }"] if lock else []
    if approval:
        out += ["            input {",
                f"                message '{approval}'",
                "                ok 'Go'",
                "                submitter 'agentrun-approvers'",
                "            }",
                "            stages {",
                f"                stage('{name}: locked') {{",
                *("        " + line for line in locked),
                *_steps(command, opts, env, rotation, pad="        "),
                "                }",
                "            }"]
    else:
        out += locked + _steps(command, opts, env, rotation)
    out.append("        }")
    return "\n".join(line for line in out if line is not None)


def _cache(path: str, lock: str, lines: list[str]) -> list[str]:
    """Job Cacher: the uv cache folder, restored and saved while ``lock`` is unchanged."""
    return [f"                cache(maxCacheSize: 1024, caches: [arbitraryFileCache(path: '{path}', "
            f"cacheValidityDecidingFile: '{lock}')]) {{",
            *(f"                    sh '{line}'" for line in lines),
            "                }"]


def _any(*conditions: str) -> str:
    return "anyOf { " + "; ".join(conditions) + " }"


def render(opts: m.Options, command: str) -> list[m.GeneratedFile]:
    pipeline_run = "expression { params.ACTION == 'pipeline' }"
    not_timer = "not { triggeredBy 'TimerTrigger' }"
    # Tag builds test only release tags: the one tag rule of every platform.
    release_tag_or_branch = _any("not { buildingTag() }", TAG_WHEN)
    stages = []
    if opts.has("test"):
        # The test tools go in here, not in the Install stage that every build runs.
        test_env = ["            environment {", "                UV_CACHE_DIR = \"${env.WORKSPACE}/.uv-cache-test\"",
                    "            }"]
        test_install = ["            steps {",
                        *_cache(".uv-cache-test", m.TEST_LOCK, [opts.install_project(m.TEST_LOCK)]),
                        f"                sh '{m.TEST}'", "            }"]
        stages.append("\n".join(["        stage('Test') {", "            when {", "                allOf {",
                                  f"                    {pipeline_run}", f"                    {not_timer}",
                                  f"                    {release_tag_or_branch}",
                                  "                }", "            }", *test_env, *test_install, "        }"]))
    if opts.has("dev"):
        stages.append(_stage("Deploy dev", m.DEPLOY_DEV, opts, env="dev",
                             when=[pipeline_run, not_timer, f"branch '{m.DEV_BRANCH}'"]))
    if opts.has("preview"):
        prefixes = [f"branch '{p}*'" for p in m.PREVIEW_PREFIXES]
        stages.append(_stage("Preview", m.DEPLOY_PREVIEW, opts, env="preview", lock=PREVIEW_LOCK,
                             when=[pipeline_run, not_timer, _any("changeRequest()", *prefixes)]))
        # Multibranch has no branch-deleted hook: build the branch with ACTION=remove-preview first.
        stages.append(_stage("Remove preview", m.REMOVE_PREVIEW, opts, env="preview", lock=PREVIEW_LOCK,
                             when=["expression { params.ACTION == 'remove-preview' }",
                                   _any("changeRequest()", *prefixes)]))
    if opts.has("prod"):
        stages.append(_stage("Release prod", m.RELEASE_PROD, opts, env="prod", approval="Release to prod?", lock=LOCK,
                             when=[pipeline_run, not_timer, _any(*PROD_WHEN)]))
    if opts.has("manual"):
        for action, line in (("rollback", m.ROLLBACK), ("promote", m.PROMOTE)):
            stages.append(_stage(f"{action.capitalize()} prod", line, opts, env="prod", lock=LOCK,
                                 approval=f"{action.capitalize()} prod?",
                                 when=[f"expression {{ params.ACTION == '{action}' }}", _any(*PROD_WHEN[:2])]))
    if opts.has("rotate"):
        stages.append(_stage("Rotate keys", m.ROTATE, opts, env="prod", lock=LOCK, rotation=True,
                             when=["triggeredBy 'TimerTrigger'", _any(*PROD_WHEN[:2])]))
    actions = (["pipeline"] + (["rollback", "promote"] if opts.has("manual") else [])
               + (["remove-preview"] if opts.has("preview") else []))
    cron = ("    triggers {\n"
            f"        cron(env.BRANCH_NAME in {list(m.PROD_BRANCHES)!r} ? '{m.WEEKLY_CRON}' : '')\n"
            "    }\n" if opts.has("rotate") else "")
    text = (
        m.header("jenkins", command, opts, comment="//")
        + "pipeline {\n"
        "    agent {\n"
        "        docker {\n"
        f"            image 'python:{opts.python}-slim'\n"
        "            args '-u root'\n"  # the install goes into the container's own Python
        "        }\n"
        "    }\n"
        "    options {\n"
        "        disableConcurrentBuilds()\n"
        "        timeout(time: 3, unit: 'HOURS')\n"
        "    }\n"
        "    parameters {\n"
        f"        choice(name: 'ACTION', choices: {actions!r}, description: 'pipeline: test and deploy this "
        "branch; rollback or promote: change prod (main only); remove-preview: delete this branch preview')\n"
        "        string(name: 'TO_VERSION', defaultValue: '', description: 'rollback: the version to send all "
        "traffic to (default: the stable one)')\n"
        "    }\n"
        + cron
        + "    environment {\n"
        + "".join(f"        {k} = '{v}'\n" for k, v in m.CI_ENV.items())
        + "        UV_CACHE_DIR = \"${env.WORKSPACE}/.uv-cache\"\n"
        "    }\n"
        "    stages {\n"
        "        stage('Install') {\n"
        "            steps {\n"
        + "".join(line + "\n" for line in _cache(".uv-cache", m.RUNTIME_LOCK, opts.install_lines()))
        + "            }\n"
        "        }\n"
        + "\n".join(stages) + "\n"
        "    }\n"
        "}\n"
    )
    return [m.GeneratedFile(PATH, text)]
