"""The `alliance` command: the jobs a user runs, each failing with one clear line.

Scoring needs no database and runs before Django starts; every other job sets Django up first.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

EXIT_USAGE = 2


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


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


def cmd_serve(args: argparse.Namespace) -> int:
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
    from alliance.demo.generate import load_demo, print_logins

    created = load_demo(seed=args.seed, clients=args.clients, if_empty=args.if_empty)
    if created:
        print_logins()
    else:
        print("The database already holds data; the demo clinic was not loaded.")
    return 0


def cmd_createadmin(args: argparse.Namespace) -> int:
    setup_django()
    _check_database()
    import getpass

    from alliance.accounts.actions import AccountError, create_organisation_with_admin

    password = os.environ.get("ALLIANCE_ADMIN_PASSWORD") or getpass.getpass("Password: ")
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


def cmd_audit_verify(args: argparse.Namespace) -> int:
    setup_django()
    _check_database()
    from alliance.audit.verify import verify_all

    verdict = verify_all()
    print(verdict.line())
    return 0 if verdict.ok else 1


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
    parser = argparse.ArgumentParser(prog="alliance", description="Run and administer Alliance.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="migrate, then serve on a production WSGI server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=2)
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
    demo.add_argument("--seed", type=int, default=2026)
    demo.add_argument("--clients", type=int, default=40)
    demo.add_argument("--if-empty", action="store_true", help="do nothing if data exists")
    demo.set_defaults(func=cmd_demo)

    admin = sub.add_parser("createadmin", help="create a clinic admin (and the clinic)")
    admin.add_argument("username")
    admin.add_argument("--organisation", required=True, help="the clinic's name")
    admin.add_argument("--slug", required=True, help="a short id for the clinic, e.g. riverside")
    admin.add_argument("--email", default="")
    admin.set_defaults(func=cmd_createadmin)

    audit = sub.add_parser("audit", help="audit-trail jobs")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="JOB")
    audit_sub.add_parser("verify", help="check every hash chain").set_defaults(
        func=cmd_audit_verify
    )

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
