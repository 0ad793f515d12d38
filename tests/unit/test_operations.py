"""The operations facade: every command a door can build has exactly one handler, a job
wakes the runner, a refused command changes nothing and wakes nobody."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from typing import Any

import pytest

import ecslite.services
from ecslite.domain import errors
from ecslite.domain.clock import Clock
from ecslite.services.command import Command, JobAccepted, Ports
from ecslite.services.operations import HANDLERS, Operations
from ecslite.services.power import PowerServers


def _command_types() -> set[type[Any]]:
    found: set[type[Any]] = set()
    for mod in pkgutil.iter_modules(ecslite.services.__path__):
        module = importlib.import_module(f"ecslite.services.{mod.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Command) and obj is not Command:
                found.add(obj)
    return found


def test_every_command_has_one_handler() -> None:
    commands = _command_types()
    assert commands, "no command types found"
    assert commands == set(HANDLERS), "a command without a handler, or a handler without one"


def test_an_unregistered_command_is_a_programming_error() -> None:
    @dataclass(frozen=True)
    class Resize(Command[JobAccepted]):
        server_id: str

    ops = Operations(Ports(uow_factory=_no_store, clock=Clock()), wake=lambda: None)
    with pytest.raises(TypeError, match="Resize"):
        ops.submit(Resize("s"))


def _no_store(**_: Any) -> Any:
    raise AssertionError("the store must not be opened")


def test_a_refused_command_wakes_no_runner() -> None:
    woken: list[int] = []
    ops = Operations(Ports(uow_factory=_no_store, clock=Clock()), wake=lambda: woken.append(1))
    # An empty batch is refused by its validator before the store is opened.
    with pytest.raises(errors.EcsError) as exc:
        ops.submit(PowerServers("p", (), stop=True))
    assert exc.value.code == "Ecs.0005"
    assert woken == []
