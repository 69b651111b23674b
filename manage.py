#!/usr/bin/env python
"""Django's command-line utility; a bad setting prints one line, not a traceback."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance.settings")
    from django.core.management import execute_from_command_line

    from alliance.config import SettingsError

    try:
        execute_from_command_line(sys.argv)
    except SettingsError as exc:
        print(f"manage.py: setting error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
