"""Benchmark: what a failed sign-in costs for each kind of username, side by side.

    .venv/bin/python -m benchmarks.signin_timing [--rounds 30] [--file-method scrypt]

Builds the demo console (SQLite, in a temporary folder) with an environment account
and a users file whose account has a ``--file-method`` hash (werkzeug's default,
scrypt, unless told), then sends wrong passwords through Flask's test client for:
the environment account, the users-file account, an unknown name and a very long
unknown name. Prints the median, 10th and 90th percentile milliseconds of each case
and the largest median divided by the smallest (1.0 means one request cannot tell
the names apart). The baseline column is the figure from issue 16 before the change.
"""
from __future__ import annotations

import argparse
import base64
import os
import statistics
import tempfile
import time
from pathlib import Path

from werkzeug.security import generate_password_hash

from console.app import create_app

BASELINE_MS = {"environment account": 2, "users-file account": 237, "unknown name": 99, "long unknown name": None}


def _basic(username: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--file-method", default="scrypt")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        users = Path(folder) / "users"
        users.write_text(f"vera:viewer:{generate_password_hash('vera pass phrase', method=args.file_method)}\n")
        app = create_app({"SECRET_KEY": "bench", "LOG_LEVEL": "ERROR", "OPERATOR_AUTH_USERNAME": "ann",
                          "OPERATOR_AUTH_PASSWORD": "correct horse battery staple",
                          "OPERATOR_AUTH_USERS_FILE": str(users), "OPERATOR_AUTH_RATE_LIMIT_MAX": "100000"})
        client = app.test_client()
        cases = {"environment account": "ann", "users-file account": "vera", "unknown name": "mallory",
                 "long unknown name": "m" * 200}
        timings: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(3):  # warm-up: templates, first connections
            client.get("/admin/", headers=_basic("ann", "wrong"))
        for _ in range(args.rounds):
            for name, username in cases.items():  # interleaved, so machine noise hits every case alike
                started = time.perf_counter()
                status = client.get("/admin/", headers=_basic(username, "wrong password")).status_code
                timings[name].append((time.perf_counter() - started) * 1000)
                assert status == 401, status
    print(f"failed sign-in, {args.rounds} rounds, users file hashed with {args.file_method}")
    print(f"{'case':<22}{'median ms':>11}{'p10':>9}{'p90':>9}{'baseline ms':>13}")
    medians = {}
    for name, values in timings.items():
        values.sort()
        medians[name] = statistics.median(values)
        p10, p90 = values[len(values) // 10], values[(len(values) * 9) // 10]
        base = BASELINE_MS[name]
        print(f"{name:<22}{medians[name]:>11.1f}{p10:>9.1f}{p90:>9.1f}{(str(base) if base else '-'):>13}")
    print(f"largest median / smallest median: {max(medians.values()) / min(medians.values()):.2f} "
          f"(baseline {237 / 2:.0f}x)")


if __name__ == "__main__":
    main()
