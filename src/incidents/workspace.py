"""The Python API: one project, one environment, one target, and what you can do with them.

    import incidents

    with incidents.Workspace.open("path/to/project", env="dev") as ws:
        ws.deploy()
        assert ws.diff().in_sync
        rows = ws.query("SELECT COUNT(*) AS n FROM incidents")   # [{'N': 0}]

The CLI is a thin layer over this class: options -> one Workspace call -> a formatter -> an exit
code. A Workspace opens its connection on the first call that needs one and keeps it until
`close()` (or the end of a `with` block); the local target allows one open connection at a time.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from incidents.errors import ConfigError, NotDeployedError
from incidents.project.deployment import Deployment
from incidents.project.models import Environment, Project
from incidents.results import (
    DiffResult,
    IngestResult,
    QueryResult,
    RelatedResult,
    RenderResult,
    SeedResult,
    ValidationResult,
)
from incidents.sql.text import count_statements, split_statements

if TYPE_CHECKING:
    from incidents.checks import CheckResult
    from incidents.doctor import DoctorResult
    from incidents.engine.apply import DeployReport, StepResult
    from incidents.engine.status import HistoryResult, StatusResult
    from incidents.importers.result import ImportResult
    from incidents.predict.results import BacktestResult, ScoreResult, TrainResult
    from incidents.purge import PurgeResult
    from incidents.report import ReportResult
    from incidents.sql.session import Session, Statement
    from incidents.sql.streaming import StreamedResult


# Above this a seed would run for hours and need hundreds of GB: almost surely a typo.
MAX_SEED_INCIDENTS = 50_000_000
MAX_RANDOM_SEED = 2**32 - 1  # numpy's seed range
DEPLOY_THREADS = 4  # sessions a Snowflake deploy applies independent steps over
MAX_DEPLOY_THREADS = 32  # far beyond what helps a ~50-statement deploy; a typo above this


def init_project(dest: str | os.PathLike[str]) -> list[str]:
    """Copy the bundled example project (config/, templates/) into `dest`, with a .gitignore, a
    README stub and the GitHub Actions workflows of examples/github-actions/ (deploy on merge,
    nightly drift check) in .github/workflows/; refuse to overwrite an existing project. Returns the
    paths written."""
    import shutil

    from incidents.project.config import PACKAGED_PROJECT, SOURCE_PROJECT

    root = Path(dest).expanduser()
    source = next((p for p in (PACKAGED_PROJECT, SOURCE_PROJECT) if (p / "config" / "project.yml").is_file()), None)
    if source is None:
        raise ConfigError("the bundled example project is missing from this installation; reinstall incidents")
    try:
        if (root / "config" / "project.yml").exists():
            raise ConfigError(f"{root} already holds a project (config/project.yml); choose an empty folder",
                              key="DIR")
        in_the_way = _in_the_way(source, root)
        if in_the_way:
            shown = ", ".join(in_the_way[:5]) + (f" and {len(in_the_way) - 5} more" if len(in_the_way) > 5 else "")
            raise ConfigError(f"{root} already has {shown}; init never overwrites a file: move them away or "
                              "choose an empty folder", key="DIR")
        root.mkdir(parents=True, exist_ok=True)
        for part in ("config", "templates"):
            shutil.copytree(source / part, root / part, dirs_exist_ok=True)
        written = ["config/", "templates/"]
        workflows = root / ".github" / "workflows"
        for example in sorted((source / "examples" / "github-actions").glob("*.yml")):
            if not (workflows / example.name).exists():
                workflows.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(example, workflows / example.name)
                written.append(f".github/workflows/{example.name}")
        for name, text in (_STUBS.items()):
            if not (root / name).exists():
                (root / name).write_text(text, encoding="utf-8")
                written.append(name)
        written += _ignore_local_target(root)
    except OSError as exc:
        raise ConfigError(f"cannot write the project: {exc.strerror or exc}", key="DIR") from None
    return written


def _in_the_way(source: Path, root: Path) -> list[str]:
    """The files of the example project that already exist under `root` (relative paths)."""
    return sorted(str(path.relative_to(source)) for part in ("config", "templates")
                  for path in (source / part).rglob("*") if path.is_file()
                  and (root / path.relative_to(source)).exists())


def _ignore_local_target(root: Path) -> list[str]:
    """An existing .gitignore gets the local target's folder (a new one has it already)."""
    ignore = root / ".gitignore"
    text = ignore.read_text(encoding="utf-8", errors="replace") if ignore.is_file() else ""
    if ".incidents/" in text.split():
        return []
    ignore.write_text(text + ("" if not text or text.endswith("\n") else "\n") + ".incidents/\n", encoding="utf-8")
    return [".gitignore (+ .incidents/)"]


_STUBS = {
    ".gitignore": ("# The embedded local target (fakesnow/DuckDB files): never commit it.\n.incidents/\n"
                   "# Reports `incidents report` writes: outputs, not sources.\nreports/\n"),
    "README.md": (
        "# Incident warehouse\n\nSchema-as-code for our incident-management warehouse, managed with "
        "the `incidents` tool.\n\n```bash\nincidents deploy && incidents seed   "
        "# local target\nincidents render                      # refresh sql/ and setup.sql, then commit\n"
        "incidents diff --env prod             # drift check against Snowflake\n```\n\n"
        "Edit `config/` (tables, views, environments) and `templates/` (SQL).\n"
    ),
}


TRACE_KEPT = 10_000  # statements `Workspace.trace` keeps over closed sessions


@dataclass(eq=False)
class Workspace:
    """A project (config/ + templates/) in one environment, with a lazily opened target session.

    Build one with `Workspace.open()`; every method returns a typed result with `to_dict()` and
    `to_json()`. Errors are `incidents.IncidentsError` subclasses: `ConfigError` (the user's input,
    exit code 2 in the CLI), `TargetError` (the database refused, 3)."""

    project: Project
    env: Environment
    connection: str | None = None
    _session: Session | None = field(default=None, repr=False)
    _read_only: bool = field(default=False, repr=False)  # the open session is an empty stand-in
    _trace: list[Statement] = field(default_factory=list, repr=False)

    @classmethod
    def open(cls, project_dir: str | os.PathLike[str] | None = None, env: str | None = None,
             connection: str | None = None) -> Workspace:
        """Load and validate the project's config (no connection yet).

        project_dir: a folder with config/project.yml; default: the current folder if it has one,
        else the example project shipped with the package. env: an environment of project.yml;
        default: its default_env. connection: a Snowflake connection name (connections.toml);
        giving one means the Snowflake target whatever the environment says."""
        from incidents.project.config import environment, find_project_dir, load_project

        project = load_project(find_project_dir(project_dir))
        return cls(project, environment(project, env), connection)

    # ----------------------------------------------------------------------- connection

    @property
    def dep(self) -> Deployment:
        """The project bound to this workspace's environment: what every template renders against."""
        return Deployment(self.project, self.env)

    @property
    def session(self) -> Session:
        """The open session to the target, opened on first use (creating the local database folder)."""
        if self._session is not None and self._read_only:
            self.close()  # an empty stand-in for reading; writing needs the real target
        if self._session is None:
            from incidents.targets import open_session

            self._session = open_session(self.dep, connection=self.connection)
        return self._session

    @property
    def _reader(self) -> Session:
        """A session for reading: on a local target never deployed, an empty in-memory one, so
        reading creates no files (diff then reports every object missing)."""
        if self._session is None:
            from incidents.targets import open_session

            self._session = open_session(self.dep, connection=self.connection, read_only=True)
            self._read_only = self.never_deployed_locally
        return self._session

    @property
    def never_deployed_locally(self) -> bool:
        """True on a local target whose database file does not exist yet (no connection needed)."""
        from incidents.targets import local_database_file

        return (self.connection is None and self.env.target == "local"
                and not local_database_file(self.dep).is_file())

    def require_deployed(self) -> None:
        """NotDeployedError (exit 2 in the CLI) on a local target nothing was deployed to; no files made."""
        if self.never_deployed_locally:
            raise NotDeployedError("nothing deployed on the local target yet: run `incidents deploy`")

    @property
    def where(self) -> str:
        """The target in words, e.g. `local:/path/.incidents (env dev)`; needs the session."""
        return f"{self._reader.label} (env {self.env.name})"

    @property
    def trace(self) -> list[Statement]:
        """Every statement sent so far, with its duration (also after close(); the latest TRACE_KEPT of closed
        sessions)."""
        return self._trace + (self._session.trace if self._session else [])

    def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            # a long-lived Workspace (a service opening a session per request) keeps the latest statements only
            self._trace = (self._trace + session.trace)[-TRACE_KEPT:]
            self._read_only = False
            session.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------- offline

    def render(self, *, validate: bool = True) -> RenderResult:
        """The committed files (sql/, setup.sql, docs/views.md) as they should be; write nothing.
        Call `.write()` on the result to write them, `.stale()` to list those that differ. First
        the checks of `validate()` (ConfigError on a problem), so no file that Snowflake would
        reject, or a view that mislabels its columns, is ever written."""
        files = committed_files(self.dep)
        if validate:
            _validate(self.dep, files)
        return RenderResult(self.project.root, files)

    def validate(self) -> ValidationResult:
        """Config, templates and every rendered statement, offline; raises ConfigError on a problem."""
        count = _validate(self.dep, committed_files(self.dep))
        return ValidationResult(self.env.name, len(self.project.tables), len(self.project.views), count)

    # ----------------------------------------------------------------------- against the target

    def diff(self) -> DiffResult:
        """Declared vs live schema; `.in_sync` is True when nothing differs."""
        from incidents.engine.apply import snapshot

        snap = snapshot(self._reader, self.dep, allow_destructive=True)
        return DiffResult(self.env.name, self.where, snap.changes, snap.steps)

    def _require_edition(self, session: Session) -> None:
        """Masking policies and tags exist on Enterprise Edition and higher only; Standard gets secure
        views. Access on a Snowflake account therefore needs the edition declared, never guessed."""
        if (session.backend == "snowflake" and session.access_control and self.env.access is not None
                and self.env.edition is None):
            raise ConfigError(
                f"environment {self.env.name!r} declares access but not the account's edition: declare "
                "`edition: standard` (secure views mask PII) or `edition: enterprise` (masking policies and tags)",
                file="config/project.yml", key=f"environments.{self.env.name}.edition")

    def plan(self, *, allow_destructive: bool = False) -> DeployReport:
        """The steps deploy would run now, in order; changes nothing."""
        return self.deploy(dry_run=True, allow_destructive=allow_destructive)

    def deploy(self, *, allow_destructive: bool = False, dry_run: bool = False,
               on_step: Callable[[StepResult], None] | None = None, lock_timeout: float | None = None,
               threads: int = DEPLOY_THREADS) -> DeployReport:
        """Bring the target to the declared state. Destructive changes are refused (listed in
        `.refused`) unless allow_destructive; `on_step` sees every step as it ends. A deploy that
        changes anything holds the deploy lock, waiting up to lock_timeout seconds (default 300)
        for another one; a failed step raises DeployFailed (a TargetError) carrying `.report`.
        On Snowflake, independent steps run at the same time over up to `threads` extra sessions
        (1: one at a time); the local target always applies one step at a time."""
        from incidents.engine.apply import LOCK_TIMEOUT, deploy

        if lock_timeout is not None and lock_timeout < 0:
            raise ConfigError(f"expected 0 or more seconds, got {lock_timeout}", key="--lock-timeout")
        if not 1 <= threads <= MAX_DEPLOY_THREADS:
            raise ConfigError(f"expected 1 to {MAX_DEPLOY_THREADS} threads, got {threads}", key="--threads")
        session = self._reader if dry_run else self.session
        self._require_edition(session)
        more = None if session.backend == "local" or dry_run else self._another_session
        return deploy(session, self.dep, dry_run=dry_run, allow_destructive=allow_destructive,
                      on_step=on_step, lock_timeout=LOCK_TIMEOUT if lock_timeout is None else lock_timeout,
                      threads=threads, open_session=more)

    def _another_session(self) -> Session:
        """A further session to the same target (a parallel deploy's worker)."""
        from incidents.targets import open_session

        return open_session(self.dep, connection=self.connection)

    def status(self) -> StatusResult:
        """Where this workspace points, whether the target is in sync (and how many changes it
        lacks), the last deploy and the row counts of the declared tables. Reads only."""
        from incidents.engine.apply import snapshot
        from incidents.engine.status import StatusResult, read_history, row_counts, session_identity
        from incidents.targets import local_dir

        session = self._reader
        snap = snapshot(session, self.dep, allow_destructive=True)
        deployed = snap.live.schema_exists and not self.never_deployed_locally
        if session.backend == "local":
            target: dict[str, object] = {"backend": "local", "path": str(local_dir(self.project))}
        else:
            target = {"backend": "snowflake", **session_identity(session, self.dep)}
        history = read_history(session, self.dep, 1, snap.live) if deployed else ()
        return StatusResult(
            project=str(self.project.root), env=self.env.name, target=target, database=self.env.database,
            schema=self.env.schema, deployed=deployed, changes=len(snap.changes),
            destructive=sum(1 for s in snap.steps if s.destructive), last_deploy=history[0] if history else None,
            row_counts=row_counts(session, self.dep, snap.live) if deployed else {},
        )

    def doctor(self) -> DoctorResult:
        """The account privileges the deploy role needs for access, masking and tasks, read with SHOW
        GRANTS; `.missing` names those it lacks (Snowflake only: `.checked` is False on the local target)."""
        from incidents.doctor import run_doctor

        return run_doctor(self._reader, self.dep)

    def history(self, *, limit: int = 10) -> HistoryResult:
        """The last `limit` deploys, newest first, each with its steps (ok, failed, refused)."""
        from incidents.engine.status import HistoryResult, read_history
        from incidents.errors import TargetError
        from incidents.sql.session import is_missing_object

        if limit < 1:
            raise ConfigError(f"expected a limit of 1 or more deploys, got {limit}", key="--limit")
        self.require_deployed()
        try:
            deploys = read_history(self._reader, self.dep, limit)
        except TargetError as exc:
            if not is_missing_object(exc):
                raise
            deploys = ()  # the schema or its history table was never created
        return HistoryResult(self.env.name, self.where, deploys)

    def unlock(self) -> str | None:
        """Free the deploy lock whoever holds it (a deploy that died); return who held it, or None."""
        from incidents.engine.lock import unlock

        holder = unlock(self._reader, self.dep)
        return str(holder) if holder else None

    def seed(self, *, incidents: int = 5000, random_seed: int = 42, replace: bool = False,
             start: dt.date | None = None, end: dt.date | None = None, progress: bool = False) -> SeedResult:
        """Generate and bulk-load deterministic sample data (see README, "Sample data")."""
        from incidents.seed import SeedOptions, seed, window

        if not 1 <= incidents <= MAX_SEED_INCIDENTS:
            raise ConfigError(f"expected 1 to {MAX_SEED_INCIDENTS:,} incidents, got {incidents:,}", key="--incidents")
        if not 0 <= random_seed <= MAX_RANDOM_SEED:
            raise ConfigError(f"expected a random seed from 0 to {MAX_RANDOM_SEED}, got {random_seed}",
                              key="--random-seed")
        options = SeedOptions(incidents=incidents, random_seed=random_seed, replace=replace, start=start,
                              end=end, progress=progress)
        window(options)  # a bad --start/--end is the user's mistake, said before the target's state
        self.require_deployed()
        report = seed(self.session, self.dep, options)
        refreshed = sum(t for phase, t in report.phases.items() if phase.startswith("refresh "))
        return SeedResult(self.env.name, self.where, dict(report.rows), report.seconds, report.delete_seconds,
                          refreshed)

    def ingest(self, text: str | bytes | BinaryIO, *, format: str = "auto", name: str = "<input>") -> IngestResult:
        """Land monitoring alerts (Alertmanager, Grafana Alerting or PagerDuty v3 webhook payloads, or
        NDJSON alert events; see README, "Alerts in") in raw_alerts in bulk and turn them into incidents
        in one set-based pass. `text` is the input itself or a binary stream, read in blocks (memory does
        not grow with it).
        Malformed documents are landed with an error and counted in `.malformed`, PagerDuty events that
        open and resolve nothing in `.ignored` (not landed); `.stopped` says
        why reading ended early (a document over 64 MiB, more than 4 GiB in all). ConfigError when
        the input holds no document, or 1,000 documents and not one alert (nothing landed)."""
        from incidents.ingest import ingest_text

        report = ingest_text(self.session, self.dep, text, format, name=name)
        return IngestResult(self.env.name, self.where, **vars(report))

    def related(self, number: str, *, hours: int = 24) -> RelatedResult:
        """An incident's cluster of overlapping incidents of its service (v_incident_clusters) and the
        changes to its services in the `hours` before it started (the one v_change_incidents links it to
        marked `linked`). ConfigError when no incident has that number."""
        from incidents.correlate.related import related

        self.require_deployed()
        found = related(self.session, self.dep, number, hours=hours)
        return RelatedResult(self.env.name, found.incident, found.cluster, found.changes, found.hours)

    def ingest_ready(self) -> None:
        """Raise unless ingest can run here: config/ingest.yml valid, tables deployed, its category
        codes present (what `receive` checks before it starts listening)."""
        from incidents.ingest import Pass, now_utc
        from incidents.project.ingest import load_ingest_config

        Pass(self.session, self.dep, load_ingest_config(self.project), now_utc()).prepare()

    def import_(self, source: str, path: str | os.PathLike[str], *, date_format: str | None = None,
                on_progress: Callable[[str, int, int, str], None] | None = None) -> ImportResult:
        """Import a ticketing export (see README, "Importing history"): source "servicenow" (the incident
        list export or audit event log, CSV) or "jira" (REST search API issues with expand=changelog,
        JSON). Rows land in raw_import_rows in bulk, then one set-based pass merges incidents, their
        status and assignment history and users by source key. Rows that cannot make an incident are
        landed with their error and counted in `.rejected`. `date_format` (ServiceNow): day-first,
        month-first, iso or a strptime pattern; default config/import.yml's (auto: from the data).
        `on_progress(phase, done, total, detail)`: "read" over the file's bytes, then "pass" steps."""
        from incidents.importers import import_file

        self.require_deployed()
        return import_file(self.session, self.dep, source, Path(path), date_format=date_format, where=self.where,
                           on_progress=on_progress)

    def purge(self, *, dry_run: bool = False, as_of: dt.datetime | str | None = None) -> PurgeResult:
        """Delete the rows older than each table's `retention:` (children first, one DELETE per
        table), ages measured from `as_of` (default: now, UTC); `dry_run` only counts them."""
        from incidents.purge import parse_as_of, purge

        moment = parse_as_of(as_of)
        self.require_deployed()
        return purge(self.session, self.dep, as_of=moment, dry_run=dry_run)

    def check(self, *, record: bool = True) -> CheckResult:
        """The declared data checks (keys unique, references resolve, allowed values, lifecycle
        order) on live data; `.ok` is False with each failed check, its count and sample keys.
        `record` (default) stores the run in data_quality_results, which v_data_quality_issues and
        v_data_quality_checks read."""
        from incidents.checks import run_checks

        self.require_deployed()
        return run_checks(self.session, self.dep, self.where, record=record)

    def report(self, *, start: dt.date | str | None = None, end: dt.date | str | None = None,
               on_progress: Callable[[int, int, str, float | None], None] | None = None) -> ReportResult:
        """The analytics report: one query per section over the views (templates/report/), for the
        incidents created from `start` to `end` (dates or YYYY-MM-DD, both included; default: the 28
        days ending on the last day with incidents). Render it with `.to_html()` or `.to_text()`, or
        `.write(path, "html")`; `.to_dict()` holds every figure. `on_progress(done, total, query,
        seconds)` sees each query start (seconds None) and end."""
        from incidents.report import build_report, parse_date

        start_date, end_date = parse_date(start, "--from"), parse_date(end, "--to")
        self.require_deployed()
        return build_report(self.session, self.dep, self.where,
                            start=start_date, end=end_date, on_progress=on_progress)

    def predict(self, action: str = "score", *, on_progress: Callable[[str], None] | None = None
                ) -> TrainResult | ScoreResult | BacktestResult:
        """Predictions and planning (see README): "train" fits the model tier (models on for the
        environment in config/predict.yml), "score" writes estimates for every open incident and a 12-week
        volume forecast into incident_predictions and volume_forecast, "backtest" measures the model
        against the SQL baseline on time-split folds and writes nothing. `on_progress(message)` sees
        each step; too little history raises TooLittleHistory (exit 2 in the CLI)."""
        from incidents import predict

        if action not in ("train", "score", "backtest"):
            raise ConfigError(f"expected train, score or backtest, got {action!r}", key="action")
        predict.check_config(self.dep, action)
        self.require_deployed()
        session = self.session
        if action == "train":
            return predict.train(session, self.dep, self.where, on_progress=on_progress)
        if action == "score":
            return predict.score(session, self.dep, self.where, on_progress=on_progress)
        return predict.backtest(session, self.dep, self.where, on_progress=on_progress)

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None, *,
              limit: int | None = None) -> QueryResult:
        """Run exactly one statement; the result is a sequence of dicts keyed by column name.
        Text holding several statements raises ConfigError before anything runs; `limit` fetches
        at most that many rows."""
        self._one_statement(sql, limit)
        columns, rows = self.session.execute(sql, params, obj="query", max_rows=limit)  # type: ignore[arg-type]
        return QueryResult(columns, rows)

    def stream(self, sql: str, params: Sequence[Any] | None = None, *, limit: int | None = None) -> StreamedResult:
        """Like `query`, but the rows come in chunks (Arrow record batches on the local target, lists of
        tuples on Snowflake) read while the workspace is open: output of any size in bounded memory."""
        from incidents.sql.streaming import stream

        self._one_statement(sql, limit)
        return stream(self.session, sql, params, obj="query", max_rows=limit)

    def _one_statement(self, sql: str, limit: int | None) -> None:
        count = count_statements(sql)
        if count == 0:
            raise ConfigError("no SQL given (only blanks or comments); pass one statement", key="SQL")
        if count > 1:
            raise ConfigError(f"the SQL holds {count} statements; `incidents query` runs exactly one, "
                              "so nothing was run: pass them one at a time (or a file with --file)", key="SQL")
        if limit is not None and limit < 0:
            raise ConfigError(f"expected a limit of 0 or more rows, got {limit}", key="--limit")
        self.require_deployed()

    def run_script(self, sql: str, *, limit: int | None = None) -> Iterator[tuple[str, QueryResult]]:
        """Run the statements of a script one by one, yielding (statement, result) as each ends; the
        first failure raises (TargetError names the statement) and later statements do not run."""
        statements = split_statements(sql)
        if not statements:
            raise ConfigError("no SQL given (only blanks or comments)", key="--file")
        self.require_deployed()
        for statement in statements:
            columns, rows = self.session.execute(statement, obj="query", max_rows=limit)
            yield statement, QueryResult(columns, rows)


# --------------------------------------------------------------------------- committed files

def committed_files(dep: Deployment) -> dict[str, str]:
    """The engine's committed files of every kind, with the seed's sample data among them."""
    from incidents.engine.files import FeatureFile, render_files
    from incidents.kinds.base import CommittedFile
    from incidents.seed import SAMPLE_FILE, render_sample_sql

    sample = CommittedFile(SAMPLE_FILE, 30, empty="-- No sample data is declared.\n", sourced=True)
    return render_files(dep, {SAMPLE_FILE: FeatureFile(sample, render_sample_sql(dep))})


def _validate(dep: Deployment, files: dict[str, str]) -> int:
    """The engine's offline checks, with the statements of `incidents check`, of an import, of the ingest
    pass and of `incidents predict` too."""
    from incidents.checks import statements_to_validate
    from incidents.engine.validate import validate
    from incidents.importers.statements import statements_to_validate as import_statements
    from incidents.ingest import statements_to_validate as ingest_statements
    from incidents.ingest.parse import check_landing_table
    from incidents.predict.snowflake import statements_to_validate as predict_statements

    check_landing_table(dep.project)
    return validate(dep, files, [*statements_to_validate(dep), *import_statements(dep), *predict_statements(dep),
                                 *ingest_statements(dep)])
