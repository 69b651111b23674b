"""Database triggers that refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE) of audit entries,
and on SQLite the triggers that append an entry after its chain's head.

The guards are installed by migration 0002. Tests that must empty the database between runs
lift them and put them back (see conftest.py); no application code path does.

SQLite has no data-modifying WITH clause, so a statement cannot both check the chain's head and
move it, as PostgreSQL's append does (alliance.audit.log). There, migration 0003 installs two
triggers instead: an entry goes in only right after its chain's head (seq and hash), and its
insert moves the head. One INSERT is then the whole append, atomic on its own.
"""

from __future__ import annotations

from typing import Any

INSTALL = {
    "sqlite": [
        """CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_auditentry
           BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
        """CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_auditentry
           BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
    ],
    "postgresql": [
        """CREATE OR REPLACE FUNCTION audit_entry_refuse_change() RETURNS trigger AS $$
           BEGIN RAISE EXCEPTION 'audit entries are append-only'; END; $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_auditentry
           FOR EACH ROW EXECUTE FUNCTION audit_entry_refuse_change()""",
        """CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_auditentry
           FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_refuse_change()""",
    ],
}
REMOVE = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS audit_entry_no_update",
        "DROP TRIGGER IF EXISTS audit_entry_no_delete",
    ],
    "postgresql": [
        "DROP TRIGGER IF EXISTS audit_entry_no_truncate ON audit_auditentry",
        "DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_auditentry",
        "DROP FUNCTION IF EXISTS audit_entry_refuse_change()",
    ],
}


HEAD_MOVED = "audit chain head moved"  # the error an entry that does not follow its head gets
APPEND = {
    "sqlite": [
        f"""CREATE TRIGGER IF NOT EXISTS audit_entry_follows_head BEFORE INSERT ON audit_auditentry
           WHEN NOT EXISTS (SELECT 1 FROM audit_chainhead h WHERE h.chain = NEW.chain
                            AND h.seq = NEW.seq - 1 AND h.hash = NEW.prev_hash)
           BEGIN SELECT RAISE(ABORT, '{HEAD_MOVED}'); END""",  # noqa: S608 (a constant)
        """CREATE TRIGGER IF NOT EXISTS audit_entry_moves_head AFTER INSERT ON audit_auditentry
           BEGIN UPDATE audit_chainhead SET seq = NEW.seq, hash = NEW.hash
                 WHERE chain = NEW.chain; END""",
    ],
}
UNAPPEND = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS audit_entry_follows_head",
        "DROP TRIGGER IF EXISTS audit_entry_moves_head",
    ],
}


def install(connection: Any) -> None:
    _run(connection, INSTALL)


def remove(connection: Any) -> None:
    _run(connection, REMOVE)


APPEND_TRIGGERS = ("audit_entry_follows_head", "audit_entry_moves_head")
_present: dict[str, bool] = {}  # per database: whether the append triggers were found


def install_append(connection: Any) -> None:
    _run(connection, APPEND)
    _present.pop(str(connection.settings_dict["NAME"]), None)


def remove_append(connection: Any) -> None:
    _run(connection, UNAPPEND)
    _present.pop(str(connection.settings_dict["NAME"]), None)


def appends_by_trigger(connection: Any) -> bool:
    """Whether an INSERT alone appends after the head: on SQLite, with both triggers in place.

    A migration that rebuilds the audit table on SQLite drops its triggers; the post_migrate
    handler of audit.apps puts them back. Until it has, entries are appended as on a database
    without them (the head moved by an UPDATE in the same transaction). Looked up once per
    database and process."""
    if connection.vendor not in APPEND:
        return False
    name = str(connection.settings_dict["NAME"])
    found = _present.get(name)
    if found is None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (%s, %s)",
                list(APPEND_TRIGGERS),
            )
            found = _present[name] = cursor.fetchone()[0] == len(APPEND_TRIGGERS)
    return found


def _run(connection: Any, statements: dict[str, list[str]]) -> None:
    with connection.cursor() as cursor:
        for statement in statements.get(connection.vendor, []):
            cursor.execute(statement)
