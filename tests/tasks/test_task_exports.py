"""Each module of ``agentrun_tasks.tasks`` declares what a user imports from it: its tasks and
their collection ``ns``, no more and no less (a task added without it is caught here)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from invoke import Collection, Task

import agentrun_tasks.tasks as tasks_package

MODULES = sorted(info.name for info in pkgutil.iter_modules(tasks_package.__path__) if not info.name.startswith("_"))


@pytest.mark.parametrize("name", MODULES)
def test_all_lists_the_tasks_and_the_collection(name):
    module = importlib.import_module(f"agentrun_tasks.tasks.{name}")
    defined = {attr for attr, value in vars(module).items() if isinstance(value, Task)}
    assert isinstance(module.ns, Collection)
    assert sorted(module.__all__) == sorted(defined | {"ns"})
    assert set(module.ns.tasks.values()) == {getattr(module, attr) for attr in defined}


def test_the_package_exports_every_module_it_composes():
    assert set(MODULES) <= set(tasks_package.__all__)
    assert all(hasattr(tasks_package, attr) for attr in tasks_package.__all__)
