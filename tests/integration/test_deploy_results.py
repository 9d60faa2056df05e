"""What a deploy leaves and returns: removed settings are cleared on the runtime, failure marks
of a removed runtime do not block a new one, and tasks return a result a user's task can use.
Real ``invoke`` processes against the emulator."""

from __future__ import annotations

import json
import textwrap

from agentrun_tasks.testing.project import chat


def runtime_record(project) -> dict:
    state = json.loads((project.root / ".agentrun" / "local" / "state.json").read_text())
    (runtime,) = state["runtimes"].values()
    return runtime


def test_removed_environment_variables_are_cleared_on_the_runtime_and_its_next_version(project):
    project.configure_release(agent_env={"AGENT_FAULT_RATE": "0.5", "KEEP": "1"})
    assert project.invoke_json("deploy")["action"] == "created"
    env_file = project.root / "envs" / "local.yaml"
    env_file.write_text(env_file.read_text().replace('    AGENT_FAULT_RATE: "0.5"\n', ""))
    assert project.invoke_json("deploy")["action"] == "updated"  # it said "already matches" before
    runtime = runtime_record(project)
    assert runtime["environmentVariables"] == {"KEEP": "1"}
    assert runtime["_spec"]["env"] == {"KEEP": "1"}
    env_file.write_text(env_file.read_text().replace('  environmentVariables:\n    KEEP: "1"\n', ""))
    assert project.invoke_json("deploy")["action"] == "updated"
    assert not runtime_record(project)["environmentVariables"]
    assert runtime_record(project)["_spec"]["env"] == {}
    assert project.invoke_json("deploy")["action"] == "unchanged"
    project.invoke_json("version.publish")
    state = json.loads((project.root / ".agentrun" / "local" / "state.json").read_text())
    (published,) = state["versions"][runtime["agentRuntimeId"]]
    assert published["_spec"]["env"] == {}


def test_a_failed_version_of_a_removed_runtime_does_not_block_a_new_runtimes_version(project):
    project.configure_release(interval="3s")
    project.invoke_json("release")
    project.configure_release(agent_env={"AGENT_FAULT_RATE": "0.5"})
    assert project.invoke("release").returncode == 4  # version 2 is marked failed
    assert project.invoke_json("remove", "--yes")["existed"]
    env_file = project.root / "envs" / "local.yaml"
    env_file.write_text(env_file.read_text().replace('  environmentVariables:\n    AGENT_FAULT_RATE: "0.5"\n', ""))
    assert project.invoke_json("release")["result"] == "first-release"
    project.set_greeting("New code on a new runtime")
    second = project.invoke("release", "--json")  # version 2 again, by number: different code
    assert second.returncode == 0, second.stderr + second.stdout
    assert json.loads(second.stdout)["candidate"] == "2"


def test_a_users_own_task_uses_the_url_version_and_timings_deploy_and_release_return(project):
    (project.root / "tasks.py").write_text(textwrap.dedent('''\
        import json

        from invoke import Collection, task

        from agentrun_tasks.tasks import ns
        from agentrun_tasks.tasks.deploy import deploy
        from agentrun_tasks.tasks.release import release


        @task
        def smoke(c):
            deployed = deploy(c)
            released = release(c)
            print(json.dumps({"deploy": [deployed.url, deployed.version, sorted(deployed.timings)],
                              "release": [released.url, released.version, released["result"]]}))


        ns.add_task(smoke)
        '''))
    proc = project.invoke("smoke")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    url, version, timings = seen["deploy"]
    assert version == "LATEST"
    assert {"total", "build", "ready", "health"} <= set(timings)
    assert seen["release"][1:] == ["1", "first-release"]
    assert seen["release"][0] == url
    assert chat(url)[0] == 200


def test_every_read_task_returns_its_json_document_as_a_result(project):
    """Called from Python, the namespaced tasks hand back what --json prints (a list as ``items``)."""
    (project.root / "tasks.py").write_text(textwrap.dedent('''\
        import json

        from invoke import task

        from agentrun_tasks.tasks import ci, credentials, deploy, endpoint, local, ns, version


        @task
        def collect(c):
            deploy.deploy(c)
            results = {"info": deploy.info(c), "versions": version.list_(c), "endpoints": endpoint.list_(c),
                       "status": local.status(c), "show": credentials.show(c), "ci": ci.env_(c)}
            print(json.dumps({name: sorted(result) for name, result in results.items()}))


        ns.add_task(collect)
        '''))
    proc = project.invoke("collect")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    keys = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"runtime", "versions", "endpoints"} <= set(keys["info"])
    assert keys["versions"] == ["items"]
    assert keys["endpoints"] == ["items"]
    assert {"url", "pid"} <= set(keys["status"])
    assert "env" in keys["ci"]
    assert "env" in keys["show"]
