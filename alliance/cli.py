"""The `alliance` command: the jobs a user runs, each failing with one clear line.

Scoring needs no database and runs before Django starts; every other job sets Django up first.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

EXIT_USAGE = 2


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """Usage mistakes are one line on stderr and exit code 2, like every other error here."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} -h)\n")


def bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low} to {high}")
        return value

    return parse


def fail(message: str) -> int:
    print(f"alliance: {message}", file=sys.stderr)
    return EXIT_USAGE


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance.settings")
    from alliance.config import SettingsError

    try:
        import django

        django.setup()
    except SettingsError as exc:
        raise CliError(f"setting error: {exc}") from None


def _check_database() -> None:
    from django.db import connection
    from django.db.utils import OperationalError

    try:
        connection.ensure_connection()
    except OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliError(f"cannot reach the database: {first_line}") from None


def _require_migrated() -> None:
    """A command that writes through the models refuses a database whose schema is behind."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise CliError("the database schema is not up to date: run `alliance migrate` first")


def _require_tables(app: str | None = None) -> None:
    """A command that only reads refuses a database never migrated (for `app`, when named),
    and takes one a migration or two behind: a backup before an upgrade's migrate is the point."""
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connection)
    applied = recorder.applied_migrations() if recorder.has_table() else {}
    if not any(app is None or label == app for label, _ in applied):
        raise CliError("this database was never migrated: run `alliance migrate` first")


def _check_can_listen(host: str, port: int) -> None:
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    _check_can_listen(args.host, args.port)
    setup_django()
    _check_database()
    from alliance.server import serve

    serve(host=args.host, port=args.port, workers=args.workers, demo_if_empty=args.demo_if_empty)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    setup_django()
    _check_database()
    from django.core.management import call_command

    options: dict[str, object] = {"queue_name": "*", "interval": args.interval}
    if args.batch:
        options["batch"] = True
    call_command("db_worker", **options)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    setup_django()
    _check_database()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    setup_django()
    _check_database()
    from django.core.management import call_command

    from alliance.accounts.models import Organisation
    from alliance.demo.generate import DEMO_SLUG, load_demo, print_logins

    call_command("migrate", interactive=False, verbosity=0)
    if not args.if_empty and Organisation.objects.filter(slug=DEMO_SLUG).exists():
        raise CliError("the demo clinic is already in this database (use --if-empty to skip)")
    created = load_demo(seed=args.seed, clients=args.clients, if_empty=args.if_empty)
    if created:
        print_logins()
    else:
        print("The database already holds data; the demo clinic was not loaded.")
    return 0


def cmd_trajectories_fit(args: argparse.Namespace) -> int:
    setup_django()
    _check_database()
    _require_migrated()
    from alliance.accounts.models import Organisation
    from alliance.trajectories.fitting import FITTED, TooLittleData, fit_clinic

    orgs = Organisation.objects.all()
    if args.organisation:
        orgs = orgs.filter(slug=args.organisation)
        if not orgs.exists():
            raise CliError(f"no clinic has the slug {args.organisation!r}")
    elif orgs.count() > 1:
        slugs = ", ".join(orgs.order_by("slug").values_list("slug", flat=True)[:10])
        raise CliError(f"several clinics here; choose one with --organisation ({slugs})")
    instruments = FITTED if args.instrument == "all" else (args.instrument,)
    fitted = 0
    for org in orgs.order_by("pk"):
        for instrument in instruments:
            try:
                fit = fit_clinic(org, instrument, min_episodes=args.min_episodes)
            except TooLittleData as exc:
                print(f"{instrument}: not fitted: {exc}", file=sys.stderr)
                continue
            fitted += 1
            model = fit.model
            print(
                f"{org.slug} {instrument}: fitted from {fit.episodes} finished episodes "
                f"({fit.observations} scores after intake); REML converged: "
                f"{model.get('converged')}; the not-on-track alert now uses this band"
            )
    if not fitted:
        raise CliError("nothing fitted; the rule-based not-on-track method stays on")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    setup_django()
    _check_database()
    import re

    from alliance.reports.synth import SynthError, progress_bar, synthesize

    if not re.fullmatch(r"[a-z0-9-]{2,60}", args.slug):
        raise CliError("--slug needs 2 to 60 lower-case letters, digits or dashes")
    _require_migrated()
    try:
        loaded = synthesize(
            episodes=args.episodes, seed=args.seed, slug=args.slug, progress=progress_bar
        )
    except SynthError as exc:
        raise CliError(str(exc)) from None
    print(loaded.summary())
    return 0


def cmd_createadmin(args: argparse.Namespace) -> int:
    setup_django()
    _check_database()
    import getpass

    from alliance.accounts.actions import AccountError, create_organisation_with_admin

    _check_admin_args(args)
    password = os.environ.get("ALLIANCE_ADMIN_PASSWORD", "")
    if not password and sys.stdin.isatty():
        try:
            password = getpass.getpass("Password: ")
        except EOFError:
            password = ""
    if not password:
        raise CliError("no password given: set ALLIANCE_ADMIN_PASSWORD or run in a terminal")
    _require_migrated()
    try:
        membership = create_organisation_with_admin(
            name=args.organisation,
            slug=args.slug,
            username=args.username,
            password=password,
            email=args.email,
        )
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(f"Created admin {args.username!r} of {membership.organisation.name!r}.")
    print("They must set up two-factor sign-in at their first sign-in.")
    return 0


def _check_admin_args(args: argparse.Namespace) -> None:
    import re

    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    if not re.fullmatch(r"[A-Za-z0-9._-]{3,40}", args.username):
        raise CliError("the username needs 3 to 40 letters, digits, dots, dashes or underscores")
    if not 1 <= len(args.organisation.strip()) <= 200:
        raise CliError("--organisation needs a name of 1 to 200 characters")
    if not re.fullmatch(r"[a-z0-9-]{2,60}", args.slug):
        raise CliError("--slug needs 2 to 60 lower-case letters, digits or dashes")
    if args.email:
        try:
            validate_email(args.email)
        except ValidationError:
            raise CliError(f"--email {args.email!r} is not an email address") from None


def cmd_reset_two_factor(args: argparse.Namespace) -> int:
    setup_django()
    _check_database()
    _require_migrated()
    from django.db import transaction

    from alliance.accounts.models import User
    from alliance.audit.log import record

    user = User.objects.filter(username=args.username).first()
    if user is None:
        raise CliError(f"no user is called {args.username!r}")
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(totp_secret="", totp_confirmed_at=None)
        membership = user.memberships.order_by("pk").first()
        record(
            "totp.reset",
            user=user,
            organisation_id=membership.organisation_id if membership else None,
            detail={"by": "command line"},
        )
    print(f"Two-factor sign-in of {args.username!r} is reset; they set it up at next sign-in.")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    setup_django()
    _check_database()
    _require_tables("audit")
    from alliance.audit.verify import verify_all

    verdict = verify_all()
    print(verdict.line())
    return 0 if verdict.ok else 1


def cmd_backup(args: argparse.Namespace) -> int:
    setup_django()
    _check_database()
    from alliance.backup import BackupError, make_backup
    from alliance.backup.archive import check_destination

    try:
        check_destination(Path(args.file).absolute())
        _require_tables()
        manifest = make_backup(Path(args.file).absolute())
    except BackupError as exc:
        raise CliError(str(exc)) from None
    print(
        f"Backed up {manifest.rows} rows in {len(manifest.tables)} tables "
        f"({manifest.engine}) to {args.file}."
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    setup_django()
    _check_database()
    from alliance.audit.verify import verify_all
    from alliance.backup import BackupError, restore_backup

    try:
        restored = restore_backup(Path(args.file).absolute(), force=args.force)
    except BackupError as exc:
        raise CliError(str(exc)) from None
    manifest = restored.manifest
    if restored.problems:
        print(f"Restored {args.file}, but it does not match its manifest:", file=sys.stderr)
        for problem in restored.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(
        f"Restored {manifest.rows} rows in {len(manifest.tables)} tables from {args.file} "
        f"(taken {manifest.created_at}); every table matches its row count and hash."
    )
    verdict = verify_all()
    print(f"Audit trail: {verdict.line()}")
    return 0 if verdict.ok else 1


def cmd_journal_rotate_key(args: argparse.Namespace) -> int:
    setup_django()
    _check_database()
    _require_migrated()
    from alliance.config import SettingsError
    from alliance.journal import rotation

    try:
        if not args.reencrypt:
            rotation.add_key()
            print("Added a new journal key in front of the old ones (kept, to read old entries).")
        done = rotation.reencrypt()
    except rotation.KeysInEnvironment as exc:
        print(exc.new_key)  # stdout, so a script can capture it; the explanation goes to stderr
        raise CliError(str(exc)) from None
    except (SettingsError, OSError) as exc:
        raise CliError(f"journal keys: {exc}") from None
    print(f"Re-encrypted {done.entries} entries and {done.revisions} earlier wordings.")
    if done.unreadable:
        print(f"{done.unreadable} could not be read (altered, or their key is gone); left as is.")
        return 1
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    setup_django()
    import json

    from alliance.api import schema

    print(json.dumps(schema(), indent=2, sort_keys=True))
    return 0


def cmd_manage(args: argparse.Namespace) -> int:
    setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["alliance manage", *args.rest])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="alliance", description="Run and administer Alliance.")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )

    serve = sub.add_parser("serve", help="migrate, then serve on a production WSGI server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=bounded(1, 65535), default=8000)
    serve.add_argument("--workers", type=bounded(1, 64), default=4)
    serve.add_argument(
        "--demo-if-empty",
        action="store_true",
        help="load the demo clinic when the database is empty",
    )
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run the background worker (emails, reminders)")
    worker.add_argument(
        "--interval", type=float, default=1.0, help="seconds between looks at an empty queue"
    )
    worker.add_argument("--batch", action="store_true", help="stop when the queue is empty")
    worker.set_defaults(func=cmd_worker)

    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        func=cmd_migrate
    )

    demo = sub.add_parser("demo", help="create the fictional demo clinic")
    demo.add_argument("--seed", type=bounded(0, 2**31), default=2026)
    demo.add_argument("--clients", type=bounded(1, 1_000_000), default=40)
    demo.add_argument("--if-empty", action="store_true", help="do nothing if data exists")
    demo.set_defaults(func=cmd_demo)

    synth = sub.add_parser(
        "synth", help="create a fictional clinic with a synthetic population (benchmarks)"
    )
    synth.add_argument("--episodes", type=bounded(1, 10_000_000), required=True)
    synth.add_argument("--seed", type=bounded(0, 2**31), default=2026)
    synth.add_argument("--slug", default="synth", help="the new clinic's short id")
    synth.set_defaults(func=cmd_synth)

    admin = sub.add_parser("createadmin", help="create a clinic admin (and the clinic)")
    admin.add_argument("username")
    admin.add_argument("--organisation", required=True, help="the clinic's name")
    admin.add_argument("--slug", required=True, help="a short id for the clinic, e.g. riverside")
    admin.add_argument("--email", default="")
    admin.set_defaults(func=cmd_createadmin)

    reset = sub.add_parser("reset-two-factor", help="clear a user's two-factor (lost phone)")
    reset.add_argument("username")
    reset.set_defaults(func=cmd_reset_two_factor)

    audit = sub.add_parser("audit", help="audit-trail jobs")
    audit_sub = audit.add_subparsers(
        dest="audit_command", required=True, metavar="JOB", parser_class=Parser
    )
    audit_sub.add_parser("verify", help="check every hash chain").set_defaults(
        func=cmd_audit_verify
    )

    journal = sub.add_parser("journal", help="clinician journal jobs")
    journal_sub = journal.add_subparsers(
        dest="journal_command", required=True, metavar="JOB", parser_class=Parser
    )
    rotate = journal_sub.add_parser(
        "rotate-key", help="add a new encryption key and re-encrypt every entry with it"
    )
    rotate.add_argument(
        "--reencrypt",
        action="store_true",
        help="add no key: re-encrypt with the first key given (after adding one yourself)",
    )
    rotate.set_defaults(func=cmd_journal_rotate_key)

    trajectories = sub.add_parser("trajectories", help="expected-recovery bands")
    trajectories_sub = trajectories.add_subparsers(
        dest="trajectories_command", required=True, metavar="JOB", parser_class=Parser
    )
    fit = trajectories_sub.add_parser(
        "fit", help="fit the clinic's own bands from its finished episodes (REML growth model)"
    )
    fit.add_argument("--organisation", default="", help="the clinic's slug")
    fit.add_argument("--instrument", choices=["phq9", "gad7", "all"], default="all")
    fit.add_argument(
        "--min-episodes",
        type=bounded(200, 10_000_000),
        default=200,
        help="refuse to fit with fewer finished episodes (default 200)",
    )
    fit.set_defaults(func=cmd_trajectories_fit)

    backup = sub.add_parser("backup", help="write a consistent backup of the whole database")
    backup.add_argument("file", help="the backup file to create (it must not exist)")
    backup.set_defaults(func=cmd_backup)

    restore = sub.add_parser("restore", help="restore a backup into an empty database")
    restore.add_argument("file", help="a file written by `alliance backup`")
    restore.add_argument(
        "--force", action="store_true", help="replace everything in a database that holds data"
    )
    restore.set_defaults(func=cmd_restore)

    sub.add_parser("openapi", help="print the API's OpenAPI schema").set_defaults(func=cmd_openapi)

    manage = sub.add_parser("manage", help="run a Django management command")
    manage.add_argument("rest", nargs=argparse.REMAINDER)
    manage.set_defaults(func=cmd_manage)

    sub.add_parser("score", help="score FHIR QuestionnaireResponse files (see: alliance score -h)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["score"]:
        from alliance.measurement.cli import main as score_main

        return score_main(args_list[1:])
    parser = build_parser()
    args = parser.parse_args(args_list)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except CliError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
