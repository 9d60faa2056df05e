"""The modules a user imports (``agentrun_tasks.testing.*``, ``agentrun_tasks.tasks.*`` and
``agentrun_tasks.cli``) say what they export: each declares ``__all__``, and every name in it
exists, once."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "agentrun_tasks"

def public_modules(package: Path = PACKAGE) -> list[str]:
    paths = [*sorted((package / "testing").rglob("*.py")), *sorted((package / "tasks").rglob("*.py")),
             package / "cli.py"]
    names = []
    for path in paths:
        parts = path.relative_to(package.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def problems(module: ModuleType) -> list[str]:
    """What is wrong with ``module.__all__``: missing, not a list of strings, a name twice, or a
    name the module does not have."""
    exported = getattr(module, "__all__", None)
    if exported is None:
        return ["declares no __all__"]
    if not isinstance(exported, (list, tuple)) or not all(isinstance(name, str) for name in exported):
        return [f"__all__ is not a list of names: {exported!r}"]
    found = [f"{name} is in __all__ twice" for name in sorted(set(exported)) if exported.count(name) > 1]
    return found + [f"{name} is in __all__ but not in the module" for name in exported if not hasattr(module, name)]


@pytest.mark.parametrize("name", public_modules())
def test_every_public_module_declares_what_it_exports(name):
    assert problems(importlib.import_module(name)) == []


@pytest.mark.parametrize(("exported", "expected"), [
    (None, ["declares no __all__"]),
    ("here", ["__all__ is not a list of names: 'here'"]),
    (["here", "gone"], ["gone is in __all__ but not in the module"]),
    (["here", "here"], ["here is in __all__ twice"]),
    (["here"], []),
], ids=["none", "a-string", "missing-name", "twice", "fine"])
def test_the_check_itself(exported, expected):
    module = ModuleType("planted")
    module.here = 1
    if exported is not None:
        module.__all__ = exported
    assert problems(module) == expected
