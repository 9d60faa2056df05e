"""Jenkins (declarative, multibranch): ``Jenkinsfile``.

Approval is a stage-level ``input`` (with ``submitter``), asked before the agent is taken; one
production change at a time is ``lock(resource: 'agentrun-prod')`` (Lockable Resources) plus
``disableConcurrentBuilds()`` per branch. Secrets are Secret-text credentials with the guide's
ids (``aliyun-prod-credentials-access-key-id``, ...), bound by ``withCredentials`` to the names
the library reads. Manual rollback/promote are the ``ACTION`` and ``TO_VERSION`` build
parameters; the weekly rotation is a ``cron`` trigger on main. Aborting a build sends SIGTERM to
``sh`` steps, which the release turns into a rollback.
"""

from __future__ import annotations

from . import model as m

PATH = "Jenkinsfile"
LOCK = "agentrun-prod"
PROD_WHEN = ["branch '%s'" % b for b in m.PROD_BRANCHES] + [f"branch '{m.HOTFIX_PREFIX}*'",
                                                              f"tag '{m.TAG_PREFIX}*'"]


def _credentials(env: str) -> str:
    """withCredentials bindings: the guide's credential ids, the library's variable names."""
    tier = "prod" if env == "prod" else "dev"
    ids = ("access-key-id", "access-key-secret", "account-id")
    indent = " " * 20
    return ",\n".join(f"{indent}string(credentialsId: 'aliyun-{tier}-credentials-{cid}', variable: '{name}')"
                      for cid, name in zip(ids, m.secret_names(env)))


def _stage(name: str, command: str, *, when: list[str], env: str | None = None, approval: str | None = None,
           lock: bool = False) -> str:
    conditions = "\n".join(f"                    {c}" for c in when)
    out = [f"        stage('{name}') {{",
           "            when {",
           "                beforeInput true" if approval else None,
           "                allOf {",
           conditions,
           "                }",
           "            }"]
    if approval:
        out += ["            input {",
                f"                message '{approval}'",
                "                ok 'Go'",
                "                submitter 'agentrun-approvers'",
                "            }"]
    if lock:
        out += ["            options {", f"                lock(resource: '{LOCK}')", "            }"]
    out.append("            steps {")
    if env:
        out += ["                withCredentials([", _credentials(env), "                ]) {",
                f"                    sh '{command}'", "                }"]
    else:
        out.append(f"                sh '{command}'")
    out += ["            }", "        }"]
    return "\n".join(line for line in out if line is not None)


def _any(*conditions: str) -> str:
    return "anyOf { " + "; ".join(conditions) + " }"


def render(opts: m.Options, command: str) -> list[m.GeneratedFile]:
    pipeline_run = "expression { params.ACTION == 'pipeline' }"
    not_timer = "not { triggeredBy 'TimerTrigger' }"
    stages = []
    if opts.has("test"):
        stages.append(_stage("Test", m.TEST, when=[pipeline_run, not_timer]))
    if opts.has("dev"):
        stages.append(_stage("Deploy dev", m.DEPLOY_DEV, env="dev",
                             when=[pipeline_run, not_timer, f"branch '{m.DEV_BRANCH}'"]))
    if opts.has("preview"):
        prefixes = [f"branch '{p}*'" for p in m.PREVIEW_PREFIXES]
        stages.append(_stage("Preview", m.DEPLOY_PREVIEW, env="preview",
                             when=[pipeline_run, not_timer, _any("changeRequest()", *prefixes)]))
        # Multibranch has no branch-deleted hook: build the branch with ACTION=remove-preview first.
        stages.append(_stage("Remove preview", m.REMOVE_PREVIEW, env="preview",
                             when=["expression { params.ACTION == 'remove-preview' }",
                                   _any("changeRequest()", *prefixes)]))
    if opts.has("prod"):
        stages.append(_stage("Release prod", m.RELEASE_PROD, env="prod", approval="Release to prod?", lock=True,
                             when=[pipeline_run, not_timer, _any(*PROD_WHEN)]))
    if opts.has("manual"):
        for action, line in (("rollback", m.ROLLBACK), ("promote", m.PROMOTE)):
            stages.append(_stage(f"{action.capitalize()} prod", line, env="prod", lock=True,
                                 approval=f"{action.capitalize()} prod?",
                                 when=[f"expression {{ params.ACTION == '{action}' }}", _any(*PROD_WHEN[:2])]))
    if opts.has("rotate"):
        stages.append(_stage("Rotate keys", m.ROTATE, env="prod", lock=True,
                             when=["triggeredBy 'TimerTrigger'", _any(*PROD_WHEN[:2])]))
    actions = (["pipeline"] + (["rollback", "promote"] if opts.has("manual") else [])
               + (["remove-preview"] if opts.has("preview") else []))
    cron = ("    triggers {\n"
            f"        cron(env.BRANCH_NAME in {list(m.PROD_BRANCHES)!r} ? '{m.WEEKLY_CRON}' : '')\n"
            "    }\n" if opts.has("rotate") else "")
    text = (
        m.header("jenkins", command, opts.lock_command, comment="//")
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
        + "".join(f"                sh '{line}'\n" for line in opts.install_lines)
        + "            }\n"
        "        }\n"
        + "\n".join(stages) + "\n"
        "    }\n"
        "}\n"
    )
    return [m.GeneratedFile(PATH, text)]
