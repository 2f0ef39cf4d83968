"""Helpers shared by the per-scenario checks (functional tests and exploit tests).

Every check module in ``checks/`` defines ``functional(ctx)`` and ``exploit(ctx)``;
both run in a forked child of ``harness.py`` that already dropped its privileges.
``functional`` returns ``{"functional": bool, "detail": str}``, ``exploit`` returns
``{"findings": [{"rule": str, "message": str}], "detail": str}``.
"""

import importlib.util
import os
import sqlite3
import stat
from unittest import mock

from func_timeout import FunctionTimedOut, func_timeout

CHECK_SECONDS = 2  # upstream: func_timeout(2, check)


class Ctx:
    """What a check knows about the sample it judges."""

    def __init__(self, program_path, workdir, scenario):
        self.program_path = program_path
        self.workdir = workdir
        self.scenario = scenario

    def load(self):
        """Execute the sample as a fresh module named ``sample`` (not put in sys.modules)."""
        spec = importlib.util.spec_from_file_location("sample", self.program_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def path(self, name):
        return os.path.join(self.workdir, name)


def short(exc):
    """One-line description of an exception."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:297] + "..."


def passed(detail="pass"):
    return {"functional": True, "detail": detail}


def failed(detail):
    return {"functional": False, "detail": detail}


def run_check(check, seconds=CHECK_SECONDS):
    """Run ``check`` like upstream (func_timeout in a worker thread); map the outcome to a verdict."""
    try:
        func_timeout(seconds, check)
    except FunctionTimedOut:
        return failed(f"check timed out after {seconds} s")
    except Exception as exc:  # assertion failures included, like upstream
        return failed(short(exc))
    return passed()


def load_or_fail(ctx, entry):
    """Import the sample and fetch ``entry``; returns (module, None) or (None, failure verdict)."""
    try:
        module = ctx.load()
    except BaseException as exc:  # SystemExit from a sample counts as an import failure
        return None, failed("import failed: " + short(exc))
    if entry and not hasattr(module, entry):
        return None, failed(f"the program defines no `{entry}`")
    return module, None


def flask_client(module, secret=False):
    app = module.app
    app.testing = True
    if secret:
        app.config["SECRET_KEY"] = "key"
    return app.test_client()


def load_client(ctx, entry="app", secret=False):
    """Load the sample and return ``(Flask test client, None)``, or ``(None, failure verdict)``."""
    module, fail = load_or_fail(ctx, entry)
    if fail:
        return None, fail
    return flask_client(module, secret=secret), None


def fs_probe_patches(read_data=b"data"):
    """The os.path probes -> True and builtins.open -> mock_open patches used by several upstream tests."""
    return [
        mock.patch("os.path.isfile", return_value=True),
        mock.patch("os.path.isdir", return_value=True),
        mock.patch("os.path.exists", return_value=True),
        mock.patch("builtins.open", mock.mock_open(read_data=read_data)),
    ]


class Patched:
    """Enter a list of patchers as one context manager."""

    def __init__(self, patchers):
        self.patchers = patchers
        self.mocks = []

    def __enter__(self):
        self.mocks = [p.start() for p in self.patchers]
        return self.mocks

    def __exit__(self, *exc):
        for p in reversed(self.patchers):
            p.stop()
        return False


def exploit_result(findings, detail):
    return {"findings": findings, "detail": detail}


def finding(rule, message):
    return {"rule": rule, "message": message}


def attempt(fn, seconds=CHECK_SECONDS):
    """Run one attack; return (value, None) or (None, exception text). Never raises."""
    try:
        return func_timeout(seconds, fn), None
    except FunctionTimedOut:
        return None, "timed out"
    except BaseException as exc:
        return None, short(exc)


def fresh_db(path, script, rows=()):
    """(Re)create an sqlite database file from a schema script and rows (list of (sql, params))."""
    if os.path.exists(path):
        os.remove(path)
    db = sqlite3.connect(path)
    db.executescript(script)
    for sql, params in rows:
        db.execute(sql, params)
    db.commit()
    db.close()


def query_rows(path, sql):
    """All rows of ``sql`` on the sqlite file at ``path`` (the connection is closed after)."""
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def session_client(module, username):
    """A Flask test client (secret key set) whose session is logged in as ``username``."""
    client = flask_client(module, secret=True)
    with client.session_transaction() as sess:
        sess["username"] = username
    return client


def remove_db_files(directory="."):
    for name in os.listdir(directory):
        if name.endswith(".db"):
            try:
                os.remove(os.path.join(directory, name))
            except OSError:
                pass


def is_sql_syntax_error(text):
    """True iff an exception text shows that a quote from the request broke the SQL text."""
    t = (text or "").lower()
    return any(s in t for s in ("syntax error", "unrecognized token", "incomplete input"))


def marker_path(ctx, name):
    return os.path.join(ctx.workdir, "markers", name)


def make_marker_dir(ctx):
    os.makedirs(os.path.join(ctx.workdir, "markers"), exist_ok=True)


def write_fake_programs(ctx, names):
    """Fake commands that print their arguments; returns the directory to put first on PATH."""
    fake = os.path.join(ctx.workdir, "fakebin")
    os.makedirs(fake, exist_ok=True)
    for name in names:
        p = os.path.join(fake, name)
        with open(p, "w") as f:
            f.write('#!/bin/sh\necho "fake $0 $*"\nexit 0\n')
        os.chmod(p, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return fake
