"""The root collection of this project's ``tasks.py``: the main jobs at the top level
(``invoke deploy``, ``invoke release``, ``invoke rotate-keys``, ...), the other namespaces under
their names (``invoke endpoint.list``).

Every module's ``ns`` is a named, configured collection a user can compose alone under any
name (``ns.add_collection(deploy.ns)`` gives ``invoke deploy`` and ``invoke deploy.info``). The
root declares every module's config defaults too: an outer ``configure`` replaces a whole
subtree, and invoke only merges the collections on the path to the task that runs.
"""

from invoke import Collection

from . import build, ci, credentials, deploy, doctor, endpoint, init, local, logs, notify, release, rotate_keys, version

__all__ = [  # the root collection, how it is made, and every module a user composes
    "NAMESPACES",
    "TOP_LEVEL",
    "build",
    "build_namespace",
    "ci",
    "credentials",
    "deploy",
    "doctor",
    "endpoint",
    "init",
    "local",
    "logs",
    "notify",
    "ns",
    "release",
    "rotate_keys",
    "version",
]

TOP_LEVEL = (build, deploy, doctor, init, logs, release, notify, rotate_keys)
NAMESPACES = (ci, credentials, endpoint, local, version)


def build_namespace() -> Collection:
    ns = Collection()
    for module in TOP_LEVEL:
        for task in module.ns.tasks.values():
            ns.add_task(task)
    for module in NAMESPACES:
        ns.add_collection(module.ns)
    for module in (*TOP_LEVEL, *NAMESPACES):
        ns.configure(module.ns.configuration())
    return ns


ns = build_namespace()
