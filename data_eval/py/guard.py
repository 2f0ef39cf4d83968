"""Tamper evidence for the forked process that runs a sample and its check.

The sample's code and the trusted check share one process (the checks drive the sample's Flask app
in-process, as upstream), so the harness cannot keep the sample from *trying* to forge its verdict.
It can make every known way of doing so visible on a channel the sample cannot take back:

* an audit hook (``sys.addaudithook``; it cannot be removed) watches for introspection that could
  reach the harness's state (frames, the garbage collector, ctypes, /proc/<pid>/mem, patching
  class attributes such as ``unittest.TestCase.assertEqual``) when it comes from the sample;
* a snapshot of the modules the check and the verdict path rely on (builtins, os, json, dgcheck,
  unittest, func_timeout, the check module) is compared after the check returns;
* every piece of evidence is written at once, as a ``{"tamper": ...}`` line, to the verdict pipe
  (an append-only stream read by the harness parent, which is root and another uid). The sample
  can add bytes to that pipe but cannot remove any, and the parent fails a run with any tamper line.

See docs/eval.md ("Verdicts") for the complete protocol and its limits.
"""

import json
import os
import sys

# Audit events that can reach harness state from inside the process.
INTROSPECTION = frozenset({
    "sys._getframe", "sys._current_frames", "sys._current_exceptions",
    "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    "object.__getattr__",  # frame/traceback/generator frame access (tb_frame, gi_frame, ...)
    "sys.settrace", "sys.setprofile",
})
PATCHING = frozenset({"object.__setattr__", "object.__delattr__"})
# Library helpers that perform introspection on behalf of their caller.
HELPER_SUFFIXES = ("/inspect.py", "/traceback.py")

WATCHED_MODULES = ("builtins", "os", "posix", "json", "json.encoder", "dgcheck", "unittest.case",
                   "func_timeout", "func_timeout.dafunc", "func_timeout.StoppableThread",
                   "guard", "sys")


def _snapshot(names):
    snap = {}
    for name in names:
        mod = sys.modules.get(name)
        if mod is None:
            continue
        snap[name] = {k: id(v) for k, v in list(vars(mod).items())}
    return snap


def _class_snapshot():
    import unittest
    return {k: id(v) for k, v in vars(unittest.TestCase).items()}


class Guard:
    """Installed in the sample's process before the sample is loaded; see the module docs."""

    def __init__(self, sample_path, wfd, extra_modules=()):
        self._sample = sample_path
        self._write = os.write
        self._dumps = json.dumps
        self._wfd = wfd
        self._names = WATCHED_MODULES + tuple(extra_modules)
        self._before = _snapshot(self._names)
        self._tc_before = _class_snapshot()
        self._getframe = sys._getframe
        self._busy = False
        self.reported = 0
        sys.addaudithook(self._hook)

    def _line(self, kind, reason):
        try:
            self._write(self._wfd, (self._dumps({kind: str(reason)[:300]}) + "\n").encode())
        except OSError:
            pass

    def report(self, reason):
        """Write one piece of tamper evidence to the verdict pipe (cannot be taken back)."""
        self.reported += 1
        self._line("tamper", reason)

    def report_incomplete(self, reason):
        """An exploit attempt ended abnormally (SystemExit, ...): the phase is inconclusive."""
        self._line("incomplete", reason)

    def _from_sample(self, frame, depth=40):
        while frame is not None and depth > 0:
            name = frame.f_code.co_filename
            if name == self._sample or name.startswith("<") and "frozen" not in name:
                return frame
            frame = frame.f_back
            depth -= 1
        return None

    def _helper_used_by_sample(self, frame):
        """A helper (inspect/traceback) frame called, past any helper frames, by the sample itself.

        Libraries call ``inspect`` too (jinja2 asks ``inspect.iscoroutinefunction``, which reads
        ``function.__code__``, when a sample renders a template): only the helper's own caller counts.
        """
        while frame is not None and frame.f_code.co_filename.endswith(HELPER_SUFFIXES):
            frame = frame.f_back
        if frame is None:
            return False
        name = frame.f_code.co_filename
        return name == self._sample or (name.startswith("<") and "frozen" not in name)

    def _hook(self, event, args):
        if self._busy:
            return
        if event not in INTROSPECTION and event not in PATCHING and not event.startswith("ctypes.") \
                and event != "open":
            return
        self._busy = True
        try:
            caller = self._getframe(1)
            name = caller.f_code.co_filename if caller is not None else ""
            if event == "open":
                path = str(args[0]) if args else ""
                if path.startswith("/proc/") and path.endswith("/mem") and self._from_sample(caller):
                    self.report(f"sample opened {path}")
                return
            if event.startswith("ctypes."):
                if self._from_sample(caller):
                    self.report(f"sample used ctypes ({event})")
                return
            direct = name == self._sample or (name.startswith("<") and "frozen" not in name)
            helper = name.endswith(HELPER_SUFFIXES) and self._helper_used_by_sample(caller)
            if direct or helper:
                what = args[1] if event in PATCHING and len(args) > 1 else ""
                self.report(f"sample called {event} {what}".strip()
                            + f" (line {caller.f_lineno})")
        finally:
            self._busy = False

    def check_snapshot(self):
        """Report every watched module attribute or TestCase method that was replaced."""
        after = _snapshot(self._names)
        for mod, names in self._before.items():
            now = after.get(mod, {})
            for k, v in names.items():
                if now.get(k) != v and k not in ("__warningregistry__",):
                    self.report(f"{mod}.{k} was replaced")
                    return
        if _class_snapshot() != self._tc_before:
            self.report("unittest.TestCase was modified")
