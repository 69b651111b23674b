"""The ways a read or change of client data is refused, and the audit entry each leaves.

A refusal raised inside an action's transaction would take its own audit entry down with the
rollback; `audit_refusals` writes it again after the transaction has ended.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from alliance.audit.log import record
from alliance.audit.models import Outcome

if TYPE_CHECKING:
    from alliance.accounts.actor import Actor

P = ParamSpec("P")
R = TypeVar("R")


class NotFound(Exception):
    """The object does not exist, or the actor may not see it (the same answer for both)."""

    def __init__(self, object_type: str, object_id: object = "") -> None:
        super().__init__(f"{object_type} not found")
        self.object_type = object_type
        self.object_id = object_id


class ActionError(Exception):
    """A change that cannot be made as asked; the message is shown to the user."""


class StaleWrite(ActionError):
    """Someone else changed the record since it was read."""

    def __init__(self) -> None:
        super().__init__("Someone else changed this record meanwhile. Reload and try again.")


def audit_refusals(
    action: str,
) -> Callable[[Callable[Concatenate[Actor, P], R]], Callable[Concatenate[Actor, P], R]]:
    """Record a refused change (not found, not allowed, invalid) once its transaction is over."""

    def decorator(func: Callable[Concatenate[Actor, P], R]) -> Callable[Concatenate[Actor, P], R]:
        @wraps(func)
        def wrapper(actor: Actor, /, *args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return func(actor, *args, **kwargs)
            except NotFound as exc:
                record(
                    action,
                    actor=actor,
                    object_type=exc.object_type,
                    object_id=exc.object_id,
                    outcome=Outcome.DENIED,
                )
                raise
            except ActionError as exc:
                record(
                    action, actor=actor, outcome=Outcome.FAILED, detail={"reason": str(exc)[:200]}
                )
                raise

        return wrapper

    return decorator
