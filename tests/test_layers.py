"""The layers of ARCHITECTURE.md, held: every import of every module (including those inside
functions and under ``TYPE_CHECKING``) is checked against the edges each layer may take.

Run as a script (``python tests/test_layers.py [package_dir]``) it prints the import graph:
modules per layer and the edges between layers.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "agentrun_tasks"

# layer -> the layers it may import (besides itself). "package" is agentrun_tasks/__init__.py.
ALLOWED = {
    "core": set(),
    "adapters": {"core"},
    "flows": {"core", "adapters"},
    "session": {"core", "adapters", "flows", "emulator"},
    "tasks": {"core", "flows", "session"},
    "emulator": {"core"},
    "testing": {"core", "adapters", "flows", "session", "tasks", "emulator"},
    "package": {"cli"},  # __main__ runs the console script
    "cli": {"tasks"},  # the console script: invoke's Program, falling back to tasks.init without a tasks.py
}
# Only the session starts, stops or asks after the emulator.
EMULATOR_LIFECYCLE = "agentrun_tasks.emulator.lifecycle"
LIFECYCLE_IMPORTERS = {"session", "emulator", "testing"}


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "package"
    return parts[1] if parts[1] in ALLOWED else "package"


def imports_of(path: Path, package: Path) -> set[str]:
    """Every agentrun_tasks module ``path`` imports, resolved to absolute names."""
    module = module_name(path, package)
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return {name for name in found if name == "agentrun_tasks" or name.startswith("agentrun_tasks.")}


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(path, package): path for path in sorted(package.rglob("*.py"))}


def edges(package: Path = PACKAGE) -> list[tuple[str, str]]:
    known = modules(package)
    result = []
    for module, path in known.items():
        for target in imports_of(path, package):
            if target in known and target != module:
                result.append((module, target))
    return result


def violations(package: Path = PACKAGE) -> list[str]:
    found = []
    for source, target in edges(package):
        src, dst = layer_of(source), layer_of(target)
        if target == EMULATOR_LIFECYCLE and src not in LIFECYCLE_IMPORTERS:
            found.append(f"{source} -> {target}: only the session starts the emulator")
        elif src != dst and dst != "package" and dst not in ALLOWED[src]:
            found.append(f"{source} -> {target}: {src} may import {sorted(ALLOWED[src]) or 'only itself'}")
    return sorted(found)


def test_no_import_crosses_a_forbidden_edge():
    assert violations() == []


def driver_methods() -> set[str]:
    """The methods of the ``Driver`` protocol in ``core/ports.py``: the AgentRun API a driver speaks."""
    tree = ast.parse((PACKAGE / "core" / "ports.py").read_text())
    driver = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Driver")
    return {node.name for node in driver.body if isinstance(node, ast.FunctionDef)}


def driver_calls_in_tasks(package: Path = PACKAGE) -> list[str]:
    """``<x>.<driver method>(...)`` calls in task modules, as ``module:line name``: a task opens the
    session and hands the driver to a flow, which reads and writes (a task that reads would grow
    its own logic around what it read)."""
    methods = driver_methods()
    found = []
    for module, path in modules(package).items():
        if layer_of(module) != "tasks":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in methods:
                found.append(f"{module}:{node.lineno} {node.func.attr}")
    return found


def flow_package_reaches(package: Path = PACKAGE) -> list[str]:
    """A flow importing a module inside another flow package (``flows.release.records`` from
    ``flows.deploy``): a package's modules are its own; others use what it exports or a shared
    flow module (``flows.records``)."""
    found = []
    for source, target in edges(package):
        if layer_of(source) != "flows" or layer_of(target) != "flows":
            continue
        parts = target.split(".")
        inner = len(parts) > 3 and (package / parts[1] / parts[2]).is_dir()
        if inner and not source.startswith(".".join(parts[:3]) + ".") and source != ".".join(parts[:3]):
            found.append(f"{source} -> {target}")
    return found


def test_driver_methods_are_read_from_the_protocol():
    assert {"require_runtime", "list_versions", "find_endpoint", "put_endpoint", "caller_identity"} <= driver_methods()


def test_tasks_call_drivers_through_flows_and_flows_keep_out_of_each_others_packages():
    assert driver_calls_in_tasks() == []
    assert flow_package_reaches() == []


@pytest.mark.parametrize(("module", "source", "caught"), [
    ("tasks.endpoint", "def publish(driver):\n    driver.put_endpoint('rt', 'prod', target_version='1')\n", True),
    ("tasks.endpoint", "def show(driver):\n    return driver.list_endpoints('rt')\n", True),
    ("tasks.logs", "def logs(session):\n    return session.driver().require_runtime('agent')\n", True),
    ("tasks.endpoint", "def show(driver, runtime):\n    return endpoints.endpoint(driver, runtime, 'prod')\n", False),
    ("flows.deploy", "def later():\n    from .release.records import Records\n", True),
    ("flows.deploy", "def later():\n    from .records import Records\n", False),
], ids=["task-writes", "task-reads", "task-reads-a-fresh-driver", "task-hands-the-driver-to-a-flow", "flow-reaches-in",
        "shared-flow-module"])
def test_the_task_and_flow_rules_themselves(tmp_path, module, source, caught):
    package = tmp_path / "agentrun_tasks"
    for name in ("tasks/__init__", "flows/__init__", "flows/records", "flows/release/__init__", "flows/release/records"):
        path = package / f"{name}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    (package / "__init__.py").touch()
    (package / f"{module.replace('.', '/')}.py").write_text(source)
    assert bool(driver_calls_in_tasks(package) + flow_package_reaches(package)) is caught


def test_core_imports_neither_invoke_nor_subprocess_nor_network():
    banned = {"invoke", "subprocess", "socket", "urllib.request", "aiohttp", "http.client"}
    for module, path in modules().items():
        if layer_of(module) != "core":
            continue
        tree = ast.parse(path.read_text())
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not (names & banned), f"{module} imports {sorted(names & banned)}"


@pytest.mark.parametrize(("source", "target", "allowed"), [
    ("agentrun_tasks.core.config", "agentrun_tasks.adapters.openapi", False),
    ("agentrun_tasks.adapters.probe", "agentrun_tasks.flows.release.gates", False),
    ("agentrun_tasks.flows.deploy", "agentrun_tasks.session", False),
    ("agentrun_tasks.flows.release.run", "agentrun_tasks.emulator.lifecycle", False),
    ("agentrun_tasks.tasks.local", "agentrun_tasks.emulator.lifecycle", False),
    ("agentrun_tasks.emulator.server", "agentrun_tasks.adapters.openapi", False),
    ("agentrun_tasks.session", "agentrun_tasks.emulator.lifecycle", True),
    ("agentrun_tasks.flows.deploy", "agentrun_tasks.adapters.health", True),
], ids=lambda value: value if isinstance(value, bool) else value.split(".", 1)[1])
def test_the_rule_itself(tmp_path, source, target, allowed):
    """A planted import in a copy of the layout is caught (or not) by the same walker."""
    package = tmp_path / "agentrun_tasks"
    for module in (source, target):
        path = package.joinpath(*module.split(".")[1:]).with_suffix(".py")
        for parent in [path.parent, *path.parent.parents]:
            if parent == tmp_path:
                break
            parent.mkdir(parents=True, exist_ok=True)
            (parent / "__init__.py").touch()
        path.touch()
    source_path = package.joinpath(*source.split(".")[1:]).with_suffix(".py")
    source_path.write_text(f"def later():\n    import {target}\n")  # inside a function: still counted
    assert (violations(package) == []) is allowed


def graph_summary(package: Path = PACKAGE) -> str:
    per_layer = Counter(layer_of(module) for module in modules(package))
    cross = Counter((layer_of(s), layer_of(t)) for s, t in edges(package) if layer_of(s) != layer_of(t))
    lines = ["modules per layer: " + ", ".join(f"{layer} {n}" for layer, n in sorted(per_layer.items()))]
    lines += [f"  {src:>9} -> {dst:<9} {n}" for (src, dst), n in sorted(cross.items())]
    return "\n".join(lines)


if __name__ == "__main__":
    target = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else PACKAGE
    print(graph_summary(target))
    for line in violations(target):
        print("violation:", line)
