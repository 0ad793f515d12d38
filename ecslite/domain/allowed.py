"""Which servers an operation may start on, declared as data beside each operation.

Like Nova's ``@check_instance_state(vm_state=[...], task_state=[...])``: an operation names the
``vm_state`` values it starts from, and one function checks a server against that declaration,
so no operation spells its own if-chain. Every operation needs an idle server (no task_state)
that is not locked (Nova's lock, which every door's operations respect).
The refusal's wording is part of the declaration because each API words it its own way.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecslite.domain import errors
from ecslite.domain.server import Server, VmState

# Fields a refusal may name: {id}, {status}, {vm_state}, {task_state}.
_BATCH = "Server {id} is {status}; it cannot be {verb} now."


@dataclass(frozen=True)
class AllowedStates:
    vm_states: frozenset[VmState]
    # A server left ERROR by a reinstall that could not be rolled back is accepted too.
    after_failed_reinstall: bool = False
    refusal: str = _BATCH
    # Said instead of ``refusal`` when the server is busy; None: ``refusal``.
    busy_refusal: str | None = None
    verb: str = "changed"

    def allows(self, server: Server) -> bool:
        if server.busy or server.locked:
            return False
        if server.vm_state in self.vm_states:
            return True
        return self.after_failed_reinstall and server.reinstall_failed

    def check(self, server: Server) -> None:
        """Refuse with Ecs.0100 when ``server`` is busy or in a state not declared here."""
        if self.allows(server):
            return
        if server.locked:
            raise errors.EcsError(
                errors.BAD_SERVER_STATE, f"Instance {server.id} is locked; unlock it first."
            )
        template = self.busy_refusal if server.busy and self.busy_refusal else self.refusal
        raise errors.EcsError(
            errors.BAD_SERVER_STATE,
            template.format(
                id=server.id,
                status=server.status,
                vm_state=server.vm_state.value,
                task_state=server.task_state.value if server.task_state else "none",
                verb=self.verb,
            ),
        )

    def with_states(self, *more: VmState) -> AllowedStates:
        return AllowedStates(
            self.vm_states | frozenset(more),
            self.after_failed_reinstall,
            self.refusal,
            self.busy_refusal,
            self.verb,
        )


def batch(*vm_states: VmState, verb: str) -> AllowedStates:
    """The declaration of a batch action (stop, start, reboot, delete) on ECS's wording."""
    return AllowedStates(frozenset(vm_states), verb=verb)
