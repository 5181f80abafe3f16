"""Waiting for a served app to answer, and stopping the process that serves it."""
from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["wait_until_serving", "stop_process"]


def wait_until_serving(url: str, process: subprocess.Popen, limit: float = 120.0,
                       log: Path | None = None) -> int:
    """Poll ``url`` until an HTTP answer comes back; return its status.

    Raises RuntimeError, with the end of the server's output (its stderr pipe, or
    ``log``), when the process exits first, or when nothing answered after ``limit``
    seconds. The limit only stops a hung start from waiting forever: it is far
    above any start-up time and is not a measure of speed.
    """
    deadline = time.monotonic() + limit
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                response.read()
                return response.status
        except urllib.error.HTTPError as answered:
            answered.read()
            return answered.code
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with status {process.returncode} before {url} answered:\n"
                                   + _output_tail(process, log)) from None
            if time.monotonic() > deadline:
                stop_process(process)
                raise RuntimeError(f"{url} did not answer within {limit:.0f} s:\n" + _output_tail(process, log)) \
                    from None
            time.sleep(0.2)


def stop_process(process: subprocess.Popen, limit: float = 30.0, sig: int = signal.SIGTERM) -> int | None:
    """Send ``sig`` (to its process group when it leads one), wait, kill after ``limit`` s.

    Returns the exit status (None when it had to be killed).
    """
    if process.poll() is not None:
        return process.returncode
    own_group = _leads_group(process)
    (os.killpg(process.pid, sig) if own_group else process.send_signal(sig))
    try:
        return process.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        (os.killpg(process.pid, signal.SIGKILL) if own_group else process.kill())
        process.wait()
        return None


def _leads_group(process: subprocess.Popen) -> bool:
    try:
        return os.getpgid(process.pid) == process.pid
    except ProcessLookupError:
        return False


def _output_tail(process: subprocess.Popen, log: Path | None) -> str:
    if log is not None and Path(log).exists():
        return Path(log).read_text(errors="replace")[-3000:]
    stream = process.stderr
    if stream is not None and process.poll() is not None:
        data = stream.read()
        return (data.decode(errors="replace") if isinstance(data, bytes) else data)[-3000:]
    return "(output not captured)"
