"""Run tool calls in a separate worker process, surviving crashes and hangs.

Vela can segfault on malformed input and TFLite Micro aborts the process on degenerate quantisation,
so neither may run in the caller's process. An `IsolatedWorker` keeps one warm child (a tool's import
cost is paid once, not per model), sends it (function, args) and waits with a timeout. A child that
dies is replaced and the call reports `crashed` with the signal; one that overruns is killed, replaced,
and reports `timeout`; an exception in the function comes back as `error` with its message.

The child is a fresh `python -m perfsage.targets.isolation` speaking length-prefixed pickles over a
private copy of its stdout (the tools' own prints go to stderr), so it works whatever the caller's
`__main__` is (a script, `-c`, stdin, a notebook). Functions must be module-level (sent by reference).
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_LEN = struct.Struct("<Q")


@dataclass(slots=True)
class CallResult:
    ok: bool
    value: Any = None
    kind: str = ""  # "", "error", "crashed", "timeout"
    reason: str = ""


@contextlib.contextmanager
def fd_captured():
    """Send C-level and Python stdout/stderr to a temporary file while the block runs (Vela's C++ core
    and TFLite Micro print from C, past sys.stdout). Yields the file, positioned for reading after."""
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(tmp.fileno(), 1)
        os.dup2(tmp.fileno(), 2)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                yield tmp
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _read_exact(f, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def _serve() -> None:
    """The child's loop: read (fn, args, kwargs), answer (ok, value)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    proto = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything the tools print goes to stderr, never into the protocol
    sys.stdout = sys.stderr
    inp = sys.stdin.buffer
    while True:
        try:
            (n,) = _LEN.unpack(_read_exact(inp, _LEN.size))
            fn, args, kwargs = pickle.loads(_read_exact(inp, n))
        except EOFError:
            return
        try:
            reply = (True, fn(*args, **kwargs))
        except BaseException as e:  # everything goes back to the parent
            reply = (False, "".join(traceback.format_exception_only(type(e), e)).strip())
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        proto.write(_LEN.pack(len(data)) + data)
        proto.flush()


class IsolatedWorker:
    def __init__(self, quiet: bool = True) -> None:
        self._proc: subprocess.Popen | None = None
        self._quiet = quiet

    def _start(self) -> None:
        # each entry once: a caller that inserts a path repeatedly must not make the variable too long
        # for exec (one variable may hold 128 KiB)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(dict.fromkeys(p for p in sys.path if p)))
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "perfsage.targets.isolation"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if self._quiet else None, env=env, start_new_session=True)

    def _kill(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait(10)
            for f in (self._proc.stdin, self._proc.stdout):
                if f is not None:
                    f.close()
        self._proc = None

    def _wait_readable(self, deadline: float) -> bool:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self._proc.stdout], [], [], min(left, 1.0))
            if r:
                return True

    def call(self, fn: Callable, *args, timeout: float = 300.0, **kwargs) -> CallResult:
        if self._proc is None or self._proc.poll() is not None:
            self._kill()
            self._start()
        payload = pickle.dumps((fn, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self._proc.stdin.write(_LEN.pack(len(payload)) + payload)
            self._proc.stdin.flush()
            if not self._wait_readable(time.monotonic() + timeout):
                self._kill()
                return CallResult(False, kind="timeout", reason=f"no answer within {timeout:g} s")
            (n,) = _LEN.unpack(_read_exact(self._proc.stdout, _LEN.size))
            ok, value = pickle.loads(_read_exact(self._proc.stdout, n))
        except (EOFError, OSError, BrokenPipeError):
            try:
                code = self._proc.wait(10)
            except subprocess.TimeoutExpired:
                code = None
            self._kill()
            how = (f"signal {signal.Signals(-code).name}" if code is not None and code < 0
                   else f"exit code {code}")
            return CallResult(False, kind="crashed", reason=f"the tool's process died ({how})")
        if ok:
            return CallResult(True, value)
        return CallResult(False, kind="error", reason=value)

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            try:
                self._proc.stdin.close()
                self._proc.wait(2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()

    def __enter__(self) -> IsolatedWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self.close()


def crash_for_test(kind: str) -> str:
    """Used by the tests: die like a segfaulting tool, hang like a stuck one, or fail cleanly."""
    if kind == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif kind == "abort":
        os.abort()
    elif kind == "hang":
        time.sleep(3600)
    elif kind == "ok":
        print("tool chatter on stdout")  # must not corrupt the protocol
        return "fine"
    raise ValueError("bad model")


if __name__ == "__main__":
    _serve()
