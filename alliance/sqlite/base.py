"""SQLite with a fair queue for writers.

SQLite lets one writer in at a time. A writer that finds the database busy sleeps and retries
(1, 2, 5 ... 100 ms), so under load a transaction can wait far longer than the one ahead of it
took. Here each write transaction first takes an exclusive `flock` on a file beside the
database: the kernel wakes the next waiter the moment the lock is released, in the order they
came, across every worker process. `BEGIN IMMEDIATE` then finds the database free at once.
A single write statement outside a transaction takes the queue too (`queued_write`); the busy
timeout stays as a backstop for any other.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.sqlite3 import base


class DatabaseWrapper(base.DatabaseWrapper):
    _writer_fd: int | None = None
    _writer_locked = False

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        if not self.is_in_memory_db() and self._writer_fd is None:
            path = f"{self.settings_dict['NAME']}.writers"
            # Each connection opens its own descriptor: flock does not block within one.
            self._writer_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        return connection

    def _start_transaction_under_autocommit(self) -> None:
        if self._writer_fd is not None and not self._writer_locked:
            fcntl.flock(self._writer_fd, fcntl.LOCK_EX)
            self._writer_locked = True
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # private in the stubs
        except BaseException:
            self._release_writer()
            raise

    @contextmanager
    def queued_write(self) -> Iterator[None]:
        """One write statement outside a transaction (atomic on its own) waits in the same
        queue as the transactions, instead of retrying against the busy timeout."""
        if self._writer_fd is None or self._writer_locked or not self.get_autocommit():
            yield
            return
        fcntl.flock(self._writer_fd, fcntl.LOCK_EX)
        self._writer_locked = True
        try:
            yield
        finally:
            self._release_writer()

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]  # private in the stubs
        finally:
            self._release_writer()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]  # private in the stubs
        finally:
            self._release_writer()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]  # private in the stubs
        finally:
            self._release_writer()
            if self._writer_fd is not None:
                os.close(self._writer_fd)
                self._writer_fd = None

    def _release_writer(self) -> None:
        if self._writer_locked and self._writer_fd is not None:
            fcntl.flock(self._writer_fd, fcntl.LOCK_UN)
        self._writer_locked = False
