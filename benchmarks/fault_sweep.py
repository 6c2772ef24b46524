"""Cut the network after every statement k of a cold deploy (both ways: the statement lost, or its
answer lost) and check that the next deploy converges, diff is clean and history shows the attempt.

    python benchmarks/fault_sweep.py [--lose request|response|both] [--every N]

Prints one line per k and a summary; exit 1 if any k fails to converge. Runs the real connector
against a fakesnow server on loopback through tests/faultproxy.py (several seconds per k).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def count_statements(server: dict, scratch: Path) -> int:
    from faultproxy import FaultProxy
    from test_faults import deploy_process, fault_project, snowflake_home

    proxy = FaultProxy((server["host"], server["port"]))
    try:
        project = fault_project(scratch / "count", "FAULT_COUNT")
        done = deploy_process(project, snowflake_home(scratch / "h0", proxy.port))
        assert done.returncode == 0, done.stderr
        return proxy.statements
    finally:
        proxy.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lose", choices=["request", "response", "both"], default="both")
    parser.add_argument("--every", type=int, default=1, help="try every Nth k")
    args = parser.parse_args()
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    import fakesnow

    from test_faults import assert_converged, cut_and_recover

    modes = ["request", "response"] if args.lose == "both" else [args.lose]
    failures = 0
    with fakesnow.server() as server, tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        total = count_statements(server, scratch)
        print(f"a cold deploy sends {total} statements; cutting after each k in 0..{total - 1}, every {args.every}")
        start = time.perf_counter()
        for lose in modes:
            for k in range(0, total, args.every):
                t0 = time.perf_counter()
                outcome = cut_and_recover(server, scratch / f"{lose}-{k}", k, lose)
                try:
                    assert_converged(outcome)
                    verdict = "converged"
                except AssertionError as exc:
                    failures += 1
                    verdict = f"FAILED: {(str(exc) or 'assertion in assert_converged').splitlines()[0][:150]}"
                attempt = [d.outcome for d in outcome["history"].deploys[1:]]  # type: ignore[union-attr]
                print(f"lose {lose:<8} k={k:>3}  {time.perf_counter() - t0:5.1f}s  attempt in history: "
                      f"{attempt[0] if attempt else 'none (cut before the history table existed)':<12} {verdict}")
        runs = len(modes) * len(range(0, total, args.every))
        print(f"{runs - failures}/{runs} cuts converged in {time.perf_counter() - start:.0f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
