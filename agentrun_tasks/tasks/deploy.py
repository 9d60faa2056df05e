"""Top-level tasks of the main job: ``deploy``, ``info``, ``remove``."""

from __future__ import annotations

from invoke import task

from ._common import ENV_HELP, JSON_HELP, YES_HELP, cli_errors, collection

__all__ = ["deploy", "info", "ns", "remove"]


@task(help={"env": ENV_HELP, "json": JSON_HELP, "yes": YES_HELP,
            "force": "rebuild the package even when its inputs are unchanged",
            "wait": "if the runtime is still busy with a killed deploy, wait for it instead of exiting 7 (a live "
                    "deploy or release holding the environment's lock is exit 7 either way)"})
@cli_errors
def deploy(c, env=None, json=False, yes=False, force=False, wait=False):
    """Build, deploy, wait until READY, health-check; print the endpoint URL.

    Builds the package (skipped when its inputs are unchanged), creates or updates the runtime
    named in envs/<env>.yaml, waits for READY, then sends a real chat-completion request to the
    environment's endpoint until it answers. The URL also goes to the CI platform's outputs
    (GITHUB_OUTPUT, GitLab dotenv report, ...). Exit codes: 2 bad input, 3 credentials,
    4 health check failed, 5 platform failure, 6 timeout, 7 another deploy or release holds the
    environment (its lock).
    """
    from ..core.health import client_urls
    from ..core.notify import DEPLOY_FAILED, DEPLOY_STARTED, DEPLOY_SUCCEEDED, event_from_ci, failure_reason
    from ..core.results import TaskResult
    from ..flows.build import build_artifact
    from ..flows.deploy import deploy_session
    from ..flows.records import Records
    from ..session import open_control

    session, driver = open_control(c, env, json=json, mutating=True, yes=yes)
    reporter, notifier = session.reporter, session.notifier()

    def event(kind, **facts):
        return event_from_ci(kind, session.env, session.ci, **facts)

    notifier.send(event(DEPLOY_STARTED))
    with notifier.finishing(failed=lambda error: event(DEPLOY_FAILED, reason=failure_reason(error))):
        with reporter.section("build"):
            artifact = build_artifact(session.env, root=session.root, force=force, reporter=reporter)
        result = deploy_session(session, driver, artifact, wait=wait, records=lambda: Records.of(session))
        data = {**result.to_dict(), **client_urls(result.endpoint.url, session.env.health)}
        reporter.output("endpoint_url", result.endpoint.url)
        reporter.output("chat_url", data["chat_url"])
        if data["base_url"]:
            reporter.output("openai_base_url", data["base_url"])
        reporter.output("runtime_id", result.runtime.id)
        data["artifact"] = {"path": str(artifact.path), "sha256": artifact.sha256, "reused": artifact.reused}
        data["timings"]["build"] = round(artifact.seconds, 3)
        notifier.send(event(DEPLOY_SUCCEEDED, endpoint_url=result.endpoint.url), summary=True)
        reporter.result(data, _show_deploy)
    return TaskResult(data, url=result.endpoint.url, version="LATEST", timings=data["timings"])


def _show_deploy(reporter, data):
    t = data["timings"]
    reporter.line(f"runtime   {data['runtime']['name']} ({data['runtime']['id']}) {data['action']}, "
                  f"{data['runtime']['status']}")
    reporter.line(f"health    HTTP {data['health']['status']} in {data['health']['latency_ms']} ms "
                  f"after {data['health']['attempts']} attempt(s)")
    reporter.line(f"timings   build {t['build']}s, lookup {t['lookup']}s, submit {t['submit']}s, "
                  f"ready {t['ready']}s, health {t['health']}s")
    if data["checked_url"] != data["url"]:
        reporter.line(f"checked   {data['checked_url']} (LATEST; the endpoint below serves released versions)")
    reporter.line(f"endpoint  {data['url']}")
    reporter.line(f"chat      {data['chat_url']} (POST a chat completion here, as curl does)")
    if data["base_url"]:
        reporter.line(f"base URL  {data['base_url']} (an OpenAI client's base_url)")


@task(help={"env": ENV_HELP, "json": JSON_HELP})
@cli_errors
def info(c, env=None, json=False):
    """Show the runtime, its versions and endpoints (with traffic split)."""
    from ..core.results import TaskResult
    from ..flows.endpoints import describe
    from ..session import open_runtime

    session, driver, runtime = open_runtime(c, env, json=json)
    data = describe(driver, runtime).to_dict()
    session.reporter.result(data, _show_info)
    return TaskResult(data)


def _show_info(reporter, data):
    from ..core.report import show_endpoints

    r = data["runtime"]
    reporter.line(f"runtime {r['name']} ({r['id']}): {r['status']} {r['statusReason']}".rstrip())
    reporter.line(f"versions: {', '.join(v['version'] for v in data['versions']) or 'none published'}")
    show_endpoints(reporter, data["endpoints"])


@task(help={"env": ENV_HELP, "yes": YES_HELP, "json": JSON_HELP})
@cli_errors
def remove(c, env=None, yes=False, json=False):
    """Delete the environment's runtime and its endpoints (asks first unless --yes).

    Used to tear down a preview environment when its branch merges. Removing a runtime that
    does not exist succeeds, so the task can be rerun.
    """
    from ..core.results import TaskResult
    from ..flows.deploy import remove_runtime
    from ..session import open_control

    def question(cfg):
        return f"Delete runtime {cfg.agent_name} of '{cfg.name}' and all its endpoints?"

    session, driver = open_control(c, env, json=json, mutating=True, yes=yes, destructive=question)
    removed = remove_runtime(driver, session.env.agent_name)
    data = {"removed": removed, "existed": bool(removed)}
    session.reporter.result(data, lambda r, d: r.line(
        f"removed {', '.join(d['removed'])}" if d["removed"] else "nothing to remove: the runtime does not exist"))
    return TaskResult(data)


ns = collection("deploy", deploy, info, remove, default=deploy)
