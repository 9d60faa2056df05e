"""The rotation flow against the emulator's RAM/STS and local GitHub, GitLab, Jenkins, Bitbucket,
CircleCI, Yunxiao and KMS servers, plus a keyring and the emulator's .env.local (every scope of every
platform): a dry run then a full rotation, the grace period, an unknown second key, one rotation at a
time, and a GitHub sink killed right after its write. Each test has its own world (on the emulator its
worker shares, its account set back first), and its teardown searches everything it printed, raised
and stored for a secret (agentrun_tasks.testing.rotation_world).
The kill-at-every-write matrix is tests/flows/test_rotate_faults.py."""

from __future__ import annotations

import pytest

from agentrun_tasks.core.errors import BusyError, ConfigError, CredentialError
from agentrun_tasks.core.rotation import Options
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.emulator.account import BOOTSTRAP_USER
from agentrun_tasks.testing.rotation import ID_VAR, PAIR_VAR, SECRET_VAR, Killed, job_reads, local_ram
from agentrun_tasks.testing.rotation_world import NEXT_RUN, converged, make_world


@pytest.fixture
def world(tmp_path, rotation_emulator):
    with make_world(tmp_path, one_per_type=False, emulator=rotation_emulator) as w:
        yield w



def statuses(w) -> dict[str, str]:
    return {key_id: k["status"] for key_id, k in w.keys().items()}


def test_dry_run_then_a_full_rotation_then_the_next_run_deletes_the_old_key(world):
    before, held = statuses(world), world.platforms.held()
    planned = world.run(dry=True)
    assert planned.result == "planned"
    assert statuses(world) == before
    assert world.platforms.held() == held
    assert [s.split(":")[0] for s in planned.steps][:3] == ["create a new key", "verify key <new key> with STS "
                                                           "GetCallerIdentity", "write key <new key> to dotenv"]
    (old_id,) = before
    outcome = world.run()
    assert outcome.result == "rotated"
    assert outcome.old_key == f"****{old_id[-4:]}"
    assert all(ok is not False for ok in outcome.read_back.values())
    assert outcome.read_back["dotenv:.env.local"] is True
    assert outcome.read_back["kms:agentrun/local"] is True
    assert statuses(world)[old_id] == "Inactive"
    assert not world.problems()
    with pytest.raises(CredentialError):  # the old key is refused by STS now
        local_ram(world.emu.root, world.emu.endpoint).verify(old_id, Secret(held["dotenv"][1]), timeout=0.1)
    again = world.run(options=NEXT_RUN)
    assert again.result == "nothing-to-do"
    assert "younger than --min-age" in again.message
    assert old_id not in converged(world)


def test_the_grace_period_keeps_the_old_key_active_then_deactivates_it(world):
    outcome = world.run(options=Options(grace=1.0), sleep=lambda s: None, now=_clock(step=0.5))
    assert any(step.startswith("wait until") for step in outcome.steps)
    assert outcome.steps[-1].startswith("deactivate")
    world.run(options=NEXT_RUN)
    converged(world)


def _clock(step: float):
    """A clock a minute behind that moves ``step`` seconds each time it is read: the grace period
    passes without a sleep, and still before the next run starts."""
    from datetime import datetime, timedelta, timezone

    moment = [datetime.now(timezone.utc) - timedelta(minutes=1)]

    def now():
        moment[0] += timedelta(seconds=step)
        return moment[0]
    return now


def test_an_unknown_second_key_stops_the_run_unless_force(world):
    stranger, secret = local_ram(world.emu.root, world.emu.endpoint).create_key(BOOTSTRAP_USER)
    world.secrets_seen.add(secret.reveal())
    before = statuses(world)
    with pytest.raises(ConfigError, match="--force") as refused:
        world.run()
    assert statuses(world) == before
    assert stranger not in str(refused.value)
    outcome = world.run(options=Options(force=True))
    assert outcome.result == "rotated"
    assert stranger not in world.keys()  # noqa: SIM118 - reads RAM
    world.run(options=NEXT_RUN)
    converged(world)


def test_force_never_deletes_a_key_a_sink_holds(world):
    (in_use,) = world.keys()
    # Another environment's credentials rotate this user: the sinks hold a key that is not theirs.
    other, secret = local_ram(world.emu.root, world.emu.endpoint).create_key(BOOTSTRAP_USER)
    world.secrets_seen.add(secret.reveal())
    run = world.rotation(options=Options(force=True))
    from agentrun_tasks.testing.rotation import LocalCredentials

    run.credentials = LocalCredentials(Secret(other), secret)
    run.ram.switch(other, secret)
    from agentrun_tasks.flows.rotation import rotate

    with pytest.raises(ConfigError, match="a sink holds it"):
        rotate(run)
    assert set(world.keys()) == {in_use, other}


def test_one_rotation_per_user_at_a_time(world):
    from datetime import datetime, timezone

    from agentrun_tasks.core import lock

    now = datetime.now(timezone.utc)
    other = lock.Lock.new("ci@elsewhere", f"rotate-{BOOTSTRAP_USER}", None, ttl=600, now=now, host="elsewhere", pid=1)
    key = f"locks/rotate-{BOOTSTRAP_USER}.json"
    assert world.store.create(key, other.to_json())
    with pytest.raises(BusyError, match="ci@elsewhere") as busy:
        world.run()
    assert busy.value.exit_code == 7


def test_a_github_sink_killed_right_after_its_first_write_holds_a_working_pair_at_once_and_after_the_rerun(world):
    github = world.platforms.github
    old_id, old_secret = world.platforms.held()["github repo"]
    # A setup made by hand: the repository also has the separate variables, holding the key in use.
    github.values["org/app"].update({ID_VAR: old_id, SECRET_VAR: old_secret})
    run = world.rotation()
    sink = next(s for s in run.sinks if s.name == "github:org/app")
    puts = []

    def killed_after_the_first_put(response):
        if response.request.method == "PUT":
            puts.append(response.request.url.path)
            raise Killed("killed right after the GitHub sink's first write")
    sink.api.client.event_hooks["response"].append(killed_after_the_first_put)
    from agentrun_tasks.flows.rotation import rotate

    with pytest.raises(Killed):
        rotate(run)
    new_id = world.journal().new_id
    assert puts == [f"/repos/org/app/actions/secrets/{PAIR_VAR}"]  # the pair goes first, in one request
    reads = job_reads(github.values["org/app"])  # a job mapping the pair (the chain reads it first)
    assert reads[0] == new_id
    assert world.keys()[new_id]["secret"] == reads[1]
    only_separate = job_reads({k: v for k, v in github.values["org/app"].items() if k != PAIR_VAR})
    assert only_separate == (old_id, old_secret)
    assert world.keys()[old_id]["status"] == "Active"
    assert not world.problems()  # every sink works at once
    world.run(options=NEXT_RUN)
    world.run(options=NEXT_RUN)
    key_id = converged(world)
    assert job_reads(github.values["org/app"])[0] == key_id
    assert (github.values["org/app"][ID_VAR], github.values["org/app"][SECRET_VAR]) == (key_id, world.keys()[key_id][
        "secret"])
