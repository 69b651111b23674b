"""scripts/patterns.py finds each dangerous construct of STYLE.md, and passes the code we ship."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "patterns.py"

# Each snippet is one file; the rule it must trip (None: it must pass).
SNIPPETS = {
    "views/mark_safe_value.py": (
        "from django.utils.safestring import mark_safe\ndef f(x):\n    return mark_safe(x)\n",
        "mark-safe",
    ),
    "views/mark_safe_fstring.py": (
        "from django.utils.safestring import mark_safe\n"
        "def f(x):\n    return mark_safe(f'<b>{x}</b>')\n",
        "mark-safe",
    ),
    "templates/page.html": ("<p>{{ client.note|safe }}</p>\n", "safe-filter"),
    "templates/spaced.html": ("<p>{{ note | safe }}</p>\n", "safe-filter"),
    "templates/off.html": ("{% autoescape off %}{{ x }}{% endautoescape %}\n", "autoescape-off"),
    "models/extra.py": ("def f(qs):\n    return qs.extra(where=['1=1'])\n", "extra"),
    "models/rawsql.py": (
        "from django.db.models.expressions import RawSQL\n"
        "def f(x):\n    return RawSQL('SELECT %s' % x, [])\n",
        "sql-format",
    ),
    "models/execute_fstring.py": (
        "def f(cursor, name):\n    cursor.execute(f'SELECT * FROM t WHERE n = {name}')\n",
        "sql-format",
    ),
    "models/execute_format.py": (
        "def f(cursor, name):\n    cursor.execute('SELECT {}'.format(name))\n",
        "sql-format",
    ),
    "models/raw_concat.py": (
        "def f(m, name):\n    return m.objects.raw('SELECT * FROM t WHERE n = ' + name)\n",
        "sql-format",
    ),
    "code/evil_eval.py": ("def f(x):\n    return eval(x)\n", "eval"),
    "code/evil_exec.py": ("def f(x):\n    exec(x)\n", "exec"),
    "code/pickled.py": ("import pickle\n", "pickle"),
    "code/pickled_from.py": ("from pickle import loads\n", "pickle"),
    "code/shell.py": (
        "import subprocess\ndef f(x):\n    subprocess.run(x, shell=True)\n",
        "shell",
    ),
    "views/exempt.py": (
        "from django.views.decorators.csrf import csrf_exempt\n"
        "@csrf_exempt\ndef view(request):\n    pass\n",
        "csrf-exempt",
    ),
    "views/printing.py": ("def view(request):\n    print(request.POST)\n", "print"),
    "cli.py": ("def show(client):\n    print(client.display_name)\n", "print-client-data"),
    "views/logging_body.py": (
        "import logging\nlogger = logging.getLogger(__name__)\n"
        "def view(request):\n    logger.info('got %s', request.body)\n",
        "log-client-data",
    ),
    # What must pass: literals, parameters, escaping, a printed count, a justified line.
    "ok/literal.py": (
        "from django.utils.safestring import mark_safe\nICON = mark_safe('<svg></svg>')\n",
        None,
    ),
    "ok/params.py": (
        "def f(cursor, name):\n    cursor.execute('SELECT * FROM t WHERE n = %s', [name])\n",
        None,
    ),
    "ok/shell_false.py": (
        "import subprocess\ndef f(x):\n    subprocess.run([x], shell=False)\n",
        None,
    ),
    "ok/cli.py": ("def show(n):\n    print(f'{n} clients')\n", None),
    "ok/escaped.html": ("<p>{{ client.note }}</p>\n", None),
    "ok/justified.py": (
        "def f(cursor, table):\n"
        "    cursor.execute(f'DROP TABLE {table}')  # pattern-ok: a catalog name, quoted\n",
        None,
    ),
    "ok/tests/test_raw.py": ("def test(c, x):\n    c.execute(f'UPDATE t SET a = {x}')\n", None),
}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    folder = tmp_path_factory.mktemp("snippets")
    for name, (text, _) in SNIPPETS.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    done = run(str(folder))
    assert done.returncode == 1, done.stdout + done.stderr
    found: dict[str, set[str]] = {name: set() for name in SNIPPETS}
    for line in done.stdout.splitlines():
        where, _, rule, *_ = (part.strip() for part in line.split(":"))
        found[Path(where).relative_to(folder).as_posix()].add(rule)
    return found


@pytest.mark.parametrize("name", [n for n, (_, rule) in SNIPPETS.items() if rule])
def test_it_finds_the_dangerous_construct(findings, name):
    assert findings[name] == {SNIPPETS[name][1]}


@pytest.mark.parametrize("name", [n for n, (_, rule) in SNIPPETS.items() if rule is None])
def test_it_lets_the_safe_form_pass(findings, name):
    assert findings[name] == set()


def test_the_shipped_code_has_none():
    done = run()

    assert done.returncode == 0, done.stdout
    assert "no dangerous constructs" in done.stdout


def test_a_missing_path_is_one_line_and_exit_code_2(tmp_path):
    done = run(str(tmp_path / "nowhere"))

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
