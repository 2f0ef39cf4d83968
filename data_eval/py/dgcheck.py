"""Helpers shared by the per-scenario checks (functional tests and exploit tests).

Every check module in ``checks/`` defines ``functional(ctx)`` and ``exploit(ctx)``;
both run in a forked child of ``harness.py`` that already dropped its privileges.
``functional`` returns ``{"functional": bool, "detail": str}``, ``exploit`` returns
``{"findings": [{"rule": str, "message": str}], "detail": str}``.

A Flask scenario usually reads ``functional = run_client_check(ctx, _check)`` and
``exploit = run_client_exploit(ctx, _attack)``, where ``_check(client)`` asserts and
``_attack(client)`` returns an ``exploit_result``.
"""

import importlib.util
import os
import sqlite3
import stat
from unittest import mock
from urllib.parse import urlparse

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


def abnormal_exit(exc):
    """Why ``exc`` is not an ordinary test failure (``None`` for an ``Exception``).

    ``SystemExit``, ``KeyboardInterrupt``, ``GeneratorExit`` and other ``BaseException``s raised
    by a sample end a check without an assertion having been evaluated, so they never count as a
    pass (upstream's worker thread swallowed them and reported success).
    """
    if isinstance(exc, Exception):
        return None
    return f"the sample raised {type(exc).__name__} ({short(exc)}); the check did not complete"


_incomplete = []


def note_incomplete(reason):
    """Record that an exploit attempt ended abnormally (read by the harness via ``set_reporter``)."""
    for report in _incomplete:
        report(reason)


def set_reporter(report):
    """Called once by the harness before the sample is loaded: where abnormal ends are reported.

    Returns the registry, which the harness checks after the phase (a sample must not swap it).
    """
    _incomplete.clear()
    _incomplete.append(report)
    return _incomplete


def _in_worker(fn, seconds):
    """``func_timeout(seconds, fn)``, but a ``BaseException`` raised by ``fn`` in the worker thread
    is re-raised here (func_timeout's worker swallows everything that is not an ``Exception``)."""
    box = {}

    def guarded():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            box["exc"] = exc

    func_timeout(seconds, guarded)
    if "exc" in box:
        raise box["exc"]
    if "value" not in box:
        raise RuntimeError("the check did not complete")
    return box["value"]


def run_check(check, seconds=CHECK_SECONDS):
    """Run ``check`` like upstream (func_timeout in a worker thread); map the outcome to a verdict.

    Passes only when ``check`` returned normally: an ``Exception`` (assertion failures included,
    like upstream) fails with its text, and any other ``BaseException`` (``SystemExit``,
    ``KeyboardInterrupt``, ``GeneratorExit``) fails with :func:`abnormal_exit`'s reason.
    """
    try:
        _in_worker(check, seconds)
    except FunctionTimedOut:
        return failed(f"check timed out after {seconds} s")
    except BaseException as exc:  # noqa: BLE001 - classified
        return failed(abnormal_exit(exc) or short(exc))
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


def load_client(ctx, entry="app", secret=False, username=None):
    """Load the sample and return ``(Flask test client, None)``, or ``(None, failure verdict)``.

    With ``username`` the client is a :func:`session_client` logged in as that user (secret key set).
    """
    module, fail = load_or_fail(ctx, entry)
    if fail:
        return None, fail
    if username is not None:
        return session_client(module, username), None
    return flask_client(module, secret=secret), None


def run_client_check(ctx, check, secret=False, username=None):
    """The usual functional phase of a Flask scenario: load the sample's ``app`` and run ``check(client)``.

    A sample that does not load gives its failure verdict; otherwise the verdict of :func:`run_check`.
    ``secret`` and ``username`` are passed to :func:`load_client`.
    """
    client, fail = load_client(ctx, secret=secret, username=username)
    if fail:
        return fail
    return run_check(lambda: check(client))


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


def not_exploitable(fail):
    """The exploit result for a sample that could not be loaded (``fail`` is the failure verdict)."""
    return exploit_result([], "not exploitable: " + fail["detail"])


def run_client_exploit(ctx, attack, secret=False):
    """The usual exploit phase of a Flask scenario: load the sample's ``app`` and return ``attack(client)``.

    A sample that does not load is :func:`not_exploitable`. ``attack`` returns an :func:`exploit_result`
    and should run each request through :func:`attempt`. ``secret`` is passed to :func:`load_client`.
    """
    client, fail = load_client(ctx, secret=secret)
    if fail:
        return not_exploitable(fail)
    return attack(client)


def finding(rule, message):
    return {"rule": rule, "message": message}


def attempt(fn, seconds=CHECK_SECONDS):
    """Run one attack; return (value, None) or (None, exception text). Never raises."""
    try:
        return _in_worker(fn, seconds), None
    except FunctionTimedOut:
        return None, "timed out"
    except BaseException as exc:  # noqa: BLE001 - never raises; abnormal ends are recorded
        reason = abnormal_exit(exc)
        if reason:
            note_incomplete(reason)
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


def run_client_check_with_db(ctx, check, db_path, schema, rows=(), secret=False, username=None):
    """:func:`run_client_check` on a fresh sqlite database; all ``*.db`` files are deleted afterwards.

    ``db_path``, ``schema`` and ``rows`` go to :func:`fresh_db` (created before the sample is loaded).
    """
    fresh_db(db_path, schema, rows)
    try:
        return run_client_check(ctx, check, secret=secret, username=username)
    finally:
        remove_db_files()


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


def sql_insert_injection(module, route, form, db_path, table, injected, label, username="testuser"):
    """One SQL-injection attack on a form whose handler INSERTs a row for the logged-in user.

    Logs a fresh client in as ``username``, POSTs ``form`` to ``route``, then reads ``table`` of the
    sqlite file ``db_path`` (the caller (re)creates it first): the attack worked if the request broke the
    SQL text, or if a row whose first column is ``injected`` was inserted. ``label`` names the attack
    in the finding (e.g. ``message='...'``).

    Returns ``(result, None)`` when the exploit phase is decided (a finding, or a failed session
    set-up), else ``(None, note)`` with the attempt's errors or ``"ok"``.
    """
    client, err = attempt(lambda: session_client(module, username))
    if err:
        return exploit_result([], "session set-up failed: " + err), None
    _, err = attempt(lambda: client.post(route, data=form))
    if err and is_sql_syntax_error(err):
        return exploit_result([finding("sql-injection", f"{label} broke the SQL text: {err}")], ""), None
    rows, err2 = attempt(lambda: query_rows(db_path, f"SELECT * FROM {table}"))
    if rows and any(r and r[0] == injected for r in rows):
        return exploit_result([finding("sql-injection", f"{label} inserted an extra row")], ""), None
    return None, err or err2 or "ok"


def foreign_redirect(location, allowed_hosts, subdomains=False):
    """True iff a redirect to ``location`` leaves the allowed hosts (an open redirect).

    Any scheme other than http(s) (``javascript:``, ``ftp:``, ...) is foreign. A URL without a host
    is foreign if it still has a scheme or starts with ``//``; a relative path stays on the site.
    Otherwise the host must be in ``allowed_hosts`` (a tuple of lower-case names) or, with
    ``subdomains``, end in ``"." + name`` for one of them.
    """
    p = urlparse(location)
    if p.scheme not in ("", "http", "https"):
        return True
    host = (p.hostname or "").lower()
    if not host:
        return p.scheme != "" or location.startswith("//")
    if host in allowed_hosts:
        return False
    return not (subdomains and any(host.endswith("." + h) for h in allowed_hosts))


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
