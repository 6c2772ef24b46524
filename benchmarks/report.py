"""File size and render time of `incidents report` at the demo size and at 100k incidents.

    python benchmarks/report.py [--incidents 5000 100000] [--repeat 2] [--browser/--no-browser] [--dir DIR]

For each size: deploy into a fresh local database (temporary folder; with --dir, DIR/<N> is kept and
reused: deployed again, which replaces the views, and seeded only the first time), seed N incidents,
then print
  - baselines: `SELECT COUNT(*)` of every view the report reads (each view computed, nothing sent),
    and `SELECT *` of the same views fetched bare (what printing them with `incidents query` costs);
  - report queries: Workspace.report() (the 16 queries of templates/report/), best of --repeat, and
    the time of each query in that best run;
  - HTML and text rendering time and size (the HTML: inline SVG charts, inline CSS, JSON island);
  - with /usr/bin/chromium and playwright: the browser's time from navigation to the load event and
    to a full-page screenshot (render + paint of every chart).
  - the report queries again with the materialized views (`materialize:` in config/views.yml: tables on
    the local target) read as the plain views of the same SELECT (the tables set aside for the run): the
    baseline of what materializing them bought, in the same run.
Prints figures, each with the load average; asserts nothing.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, nargs="+", default=[5000, 100_000])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--browser", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--dir", type=Path, help="keep the seeded databases in DIR/<N> and reuse them")
    args = parser.parse_args(argv)
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*Arrow output.*")
    print(f"load average {os.getloadavg()[0]:.1f} (2-core machine; figures swing with it)")
    for n in args.incidents:
        if args.dir:
            measure(n, args.dir / str(n), args.repeat, args.browser and CHROMIUM.exists())
            continue
        with tempfile.TemporaryDirectory() as tmp:
            measure(n, Path(tmp), args.repeat, args.browser and CHROMIUM.exists())
    return 0


def measure(n: int, tmp: Path, repeat: int, browser: bool) -> None:
    import incidents
    from incidents.report import SECTIONS

    os.environ["INCIDENTS_LOCAL_DIR"] = str(tmp / "local")
    with incidents.Workspace.open(ROOT) as ws:
        t0 = time.perf_counter()
        seeded = (tmp / "local").is_dir()
        ws.deploy()
        if not seeded:
            ws.seed(incidents=n)
        print(f"\n== {n:,} incidents ({'reused and deployed' if seeded else 'deployed and seeded'} in "
              f"{time.perf_counter() - t0:.1f} s)")
        views = sorted({v for s in SECTIONS for v in s.views})
        counted = best(repeat, lambda: [ws.query(f"SELECT COUNT(*) FROM {v}") for v in views])
        baseline = best(repeat, lambda: [ws.query(f"SELECT * FROM {v}") for v in views])
        runs = []

        def run() -> None:
            runs.append(ws.report())

        queries = best(repeat, run)
        load_materialized = os.getloadavg()[0]
        with unmaterialized(ws.session, ws.dep):
            plain = best(repeat, ws.report)
        load_plain = os.getloadavg()[0]
    report = min(runs, key=lambda r: r.seconds)
    html_s = best(repeat, report.to_html)
    text_s = best(repeat, report.to_text)
    out = tmp / "report.html"
    size = report.write(out, "html")
    text_size = len(report.to_text().encode("utf-8"))
    charts = out.read_text(encoding="utf-8").count("<svg")
    print(f"{'baseline: SELECT COUNT(*) of the ' + str(len(views)) + ' views the report reads':55} {counted:8.2f} s")
    print(f"{'baseline: SELECT * of the same views, fetched':55} {baseline:8.2f} s")
    print(f"{'report queries (one per section, plus bounds)':55} {queries:8.2f} s  "
          f"({queries / counted:.2f}x COUNT(*), {queries / baseline:.2f}x SELECT *)")
    print("  per query: " + ", ".join(f"{s.key} {s.seconds:.2f}" for s in report.sections))
    print(f"  load average after the queries {load_materialized:.1f}")
    print(f"{'report queries, the materialized views read as plain views':55} {plain:8.2f} s  "
          f"({plain / queries:.2f}x the materialized; load {load_plain:.1f})")
    print(f"{'HTML rendering':55} {html_s * 1000:8.1f} ms  size {size / 1024:,.0f} kB ({charts} inline SVG charts)")
    print(f"{'text rendering':55} {text_s * 1000:8.1f} ms  size {text_size / 1024:,.0f} kB")
    if browser:
        load, shot = browser_times(out)
        print(f"chromium: navigation to load event {load * 1000:.0f} ms; "
              f"to a full-page screenshot {shot * 1000:.0f} ms")


@contextmanager
def unmaterialized(session, dep):  # type: ignore[no-untyped-def]
    """The materialized views' tables set aside and the plain views of the same SELECT in their place,
    for the duration; then the tables back."""
    views = [v for v in dep.project.views if v.materialize is not None]
    for view in views:
        session.execute(f"ALTER TABLE {dep.fq(view.name)} RENAME TO {dep.fq(view.name + '_kept')}")
    try:
        for view in views:
            session.execute(f"CREATE VIEW {dep.fq(view.name)} AS {dep.render(view.template, view=view).strip()}")
        yield
    finally:
        for view in views:
            session.execute(f"DROP VIEW IF EXISTS {dep.fq(view.name)}")
            session.execute(f"ALTER TABLE {dep.fq(view.name + '_kept')} RENAME TO {dep.fq(view.name)}")


def best(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def browser_times(path: Path) -> tuple[float, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        page.goto("about:blank")
        t0 = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load")
        load = time.perf_counter() - t0
        page.screenshot(path=str(path.with_suffix(".png")), full_page=True)
        shot = time.perf_counter() - t0
        browser.close()
    return load, shot


if __name__ == "__main__":
    sys.exit(main())
