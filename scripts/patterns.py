"""Fails on the dangerous constructs of ../shared/docs/STYLE.md, in Python and in templates.

    python scripts/patterns.py [PATH ...]     (default: alliance)

Each finding is one line, `path:line: rule: what to do`; the exit code is 1 when there is any,
2 for a path that does not exist. A line that must keep a construct says why on the line:
`# pattern-ok: <reason>` (Python) or `{# pattern-ok: <reason> #}` (templates).
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Views that may take a POST without a CSRF token, each with its reason. None today: the API's
# views are exempted by django-ninja itself, which checks the token on session requests.
CSRF_EXEMPT_ALLOWED: dict[str, str] = {}
# Command-line modules print to a terminal; anywhere else print() writes to the server's log.
PRINT_ALLOWED = ("cli.py", "server.py", "demo/", "management/commands/", "measurement/cli.py")
# Attributes that hold what a client wrote or who they are (and, in a log, any request body).
CLIENT_DATA = {"display_name", "record_number", "answers"}
LOGGED_DATA = CLIENT_DATA | {"body", "POST", "note", "text"}
SQL_CALLS = {"execute", "executemany", "raw", "RawSQL", "extra"}
LOG_CALLS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
# Tests may tamper on purpose (raw SQL on the audit table, say); they are not the application.
SKIPPED = {"tests", "node_modules", "__pycache__"}
ALLOW = re.compile(r"pattern-ok:\s*\S")
TEMPLATE_RULES = [
    (re.compile(r"\|\s*safe\b"), "safe-filter", "`|safe` turns escaping off; escape, or build it"),
    (re.compile(r"{%\s*autoescape\s+off"), "autoescape-off", "autoescape off: escape instead"),
]


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}: {self.message}"


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _is_built_string(node: ast.AST) -> bool:
    """An f-string, `%` or `+` on strings, or `.format(...)`: SQL built from values."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return not (_is_literal(node.left) and _is_literal(node.right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr == "format"
    return False


def _is_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    return isinstance(node, ast.BinOp) and _is_literal(node.left) and _is_literal(node.right)


def _mentions_client_data(node: ast.AST, attributes: set[str] = CLIENT_DATA) -> bool:
    for inner in ast.walk(node):
        if isinstance(inner, ast.Attribute) and inner.attr in attributes:
            return True
        if isinstance(inner, ast.Name) and inner.id in {"request", "answers"}:
            return True
    return False


class Checker(ast.NodeVisitor):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.findings: list[Finding] = []
        posix = path.as_posix()
        self.may_print = any(part in posix for part in PRINT_ALLOWED)

    def add(self, node: ast.AST, rule: str, message: str) -> None:
        self.findings.append(Finding(self.path, getattr(node, "lineno", 0), rule, message))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(node, alias.name)
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self._check_module(node, node.module or "")
        if any(alias.name == "csrf_exempt" for alias in node.names):
            self._check_csrf_exempt(node)
        self.generic_visit(node)

    def _check_module(self, node: ast.AST, module: str) -> None:
        if module.split(".")[0] in {"pickle", "cPickle", "dill", "shelve", "marshal"}:
            self.add(node, "pickle", "unpickling runs code; use JSON")

    def _check_csrf_exempt(self, node: ast.AST) -> None:
        if self.path.as_posix() not in CSRF_EXEMPT_ALLOWED:
            self.add(node, "csrf-exempt", "csrf_exempt outside the allow-list in patterns.py")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "csrf_exempt" and isinstance(node.ctx, ast.Load):
            self._check_csrf_exempt(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "csrf_exempt" and isinstance(node.ctx, ast.Load | ast.Store):
            self._check_csrf_exempt(node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _name(node.func)
        first = node.args[0] if node.args else None
        if isinstance(node.func, ast.Name) and name in {"eval", "exec"}:
            self.add(node, name, f"{name}() runs arbitrary code")
        if name in {"mark_safe", "SafeString"} and not (first and _is_literal(first)):
            self.add(node, "mark-safe", "mark_safe on a value that is not a literal: escape it")
        if name == "extra" and isinstance(node.func, ast.Attribute):
            self.add(node, "extra", ".extra() takes raw SQL; use the ORM or RawSQL with params")
        if name in SQL_CALLS and first is not None and _is_built_string(first):
            self.add(
                node, "sql-format", f"SQL built with string formatting in {name}(): use params"
            )
        for keyword in node.keywords:
            value = keyword.value
            if keyword.arg == "shell" and not (isinstance(value, ast.Constant) and not value.value):
                self.add(node, "shell", "shell=True: pass an argument list")
        if isinstance(node.func, ast.Name) and name == "print":
            self._check_print(node)
        if name in LOG_CALLS and isinstance(node.func, ast.Attribute):
            self._check_log(node)
        self.generic_visit(node)

    def _check_print(self, node: ast.Call) -> None:
        if not self.may_print:
            self.add(node, "print", "print() outside the command line goes to the server log")
        elif any(_mentions_client_data(arg) for arg in node.args):
            self.add(node, "print-client-data", "print() of client data or a request")

    def _check_log(self, node: ast.Call) -> None:
        receiver = _name(node.func.value) if isinstance(node.func, ast.Attribute) else ""
        if "log" not in receiver.lower():
            return
        if any(_mentions_client_data(a, LOGGED_DATA) for a in [*node.args, *node.keywords]):
            self.add(node, "log-client-data", "logging client data, a note or a request body")


def check_python(path: Path) -> list[Finding]:
    source = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        return [Finding(path, exc.lineno or 0, "syntax", str(exc.msg))]
    checker = Checker(path)
    checker.visit(tree)
    lines = source.splitlines()
    return [f for f in checker.findings if not _allowed(lines, f.line)]


def check_template(path: Path) -> list[Finding]:
    findings = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        for pattern, rule, message in TEMPLATE_RULES:
            if pattern.search(line) and not _allowed(lines, number):
                findings.append(Finding(path, number, rule, message))
    return findings


def _allowed(lines: list[str], number: int) -> bool:
    return 0 < number <= len(lines) and bool(ALLOW.search(lines[number - 1]))


def files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        inside = path.relative_to(root).parts
        if path.suffix in {".py", ".html", ".txt"} and not SKIPPED & set(inside):
            yield path


def main(argv: list[str]) -> int:
    roots = [Path(arg) for arg in argv] or [Path("alliance")]
    for root in roots:
        if not root.exists():
            print(f"patterns: {root} does not exist", file=sys.stderr)
            return 2
    findings: list[Finding] = []
    checked = 0
    for root in roots:
        for path in files(root):
            checked += 1
            check = check_python if path.suffix == ".py" else check_template
            findings.extend(check(path))
    for finding in findings:
        print(finding)
    if findings:
        print(f"patterns: {len(findings)} dangerous constructs in {checked} files", file=sys.stderr)
        return 1
    print(f"patterns: {checked} files checked, no dangerous constructs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
