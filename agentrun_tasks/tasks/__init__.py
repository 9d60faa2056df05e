"""The root collection: every namespace of the library, with all config defaults declared here
too (an outer ``configure`` replaces a whole subtree, so the root must hold complete defaults)."""

from invoke import Collection

from . import build, ci, credentials, deploy, endpoint, local, release, version

DEFAULTS = {
    "agentrun": {
        # Where envs/ lives; None = the nearest directory above cwd holding envs/.
        "root": None,
        # Git-Flow branch patterns -> environment; a PR/MR never maps to prod.
        "branch_map": {},
    },
}


def build_namespace() -> Collection:
    ns = Collection()
    for task in (*build.ns.tasks.values(), *deploy.ns.tasks.values(), *release.ns.tasks.values()):
        ns.add_task(task)
    for module in (ci, credentials, endpoint, local, version):
        ns.add_collection(module.ns)
    ns.configure(DEFAULTS)
    return ns


ns = build_namespace()
