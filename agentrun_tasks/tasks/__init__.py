"""The root collection: every namespace of the library, with all config defaults declared here
too (an outer ``configure`` replaces a whole subtree, so the root must hold complete defaults)."""

from invoke import Collection

from . import ci, credentials, local

DEFAULTS = {
    "agentrun": {
        # Where envs/ lives; None = the nearest directory above cwd holding envs/.
        "root": None,
        # Git-Flow branch patterns -> environment; a PR/MR never maps to prod.
        "branch_map": None,
    },
}


def build_namespace() -> Collection:
    ns = Collection()
    for module in (ci, credentials, local):
        ns.add_collection(module.ns)
    ns.configure(DEFAULTS)
    return ns


ns = build_namespace()
