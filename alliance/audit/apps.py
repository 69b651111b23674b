from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate

APPEND_MIGRATION = ("audit", "0003_sqlite_append_triggers")


class AuditConfig(AppConfig):
    name = "alliance.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        post_migrate.connect(_restore_append_triggers, sender=self)


def _restore_append_triggers(using: str = "default", **kwargs: Any) -> None:
    """On SQLite a migration that rebuilds the audit table (to alter a column) drops its
    triggers. After every migrate, put back the append triggers (audit.guards) if migration
    0003 stands; the statements do nothing where they are in place."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    from alliance.audit import guards

    connection = connections[using]
    if connection.vendor not in guards.APPEND:
        return
    if APPEND_MIGRATION in MigrationRecorder(connection).applied_migrations():
        guards.install_append(connection)
