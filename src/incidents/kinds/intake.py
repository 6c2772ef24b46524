"""The optional Snowflake alert intake of sql/06_alert_intake.sql (rendered when config/ingest.yml
exists; run by hand, never by deploy): a stage for NDJSON alert events teams land themselves and a
Snowpipe that copies them into raw_alerts. Its procedure and task are kinds.procedure and kinds.task.

sqlglot reads neither CREATE STAGE's options nor CREATE PIPE's: the pipe's header is checked against
Snowflake's documented syntax and the COPY it runs is parsed."""

from __future__ import annotations

import re
from collections.abc import Sequence

from incidents.errors import ConfigError
from incidents.kinds.access_object import QNAME, STRING
from incidents.kinds.base import CommittedFile, Desired, Kind, ObjectKind, statement
from incidents.kinds.procedure import INTAKE_FILE, INTAKE_GROUP
from incidents.project.deployment import Deployment
from incidents.project.ingest import INGEST_FILE, ingest_file_exists, load_ingest_config
from incidents.sql.parse import parse_statements

STAGE, PIPE = ObjectKind("stage"), ObjectKind("pipe")
STAGE_NAME, PIPE_NAME = "raw_alerts_stage", "raw_alerts_pipe"
_PIPE = re.compile(
    rf"CREATE\s+PIPE\s+IF\s+NOT\s+EXISTS\s+{QNAME}(?:\s+AUTO_INGEST\s*=\s*(?:TRUE|FALSE))?"
    rf"(?:\s+COMMENT\s*=\s*{STRING})?\s+AS\s+(?P<copy>COPY\s+INTO\s.*)", re.S | re.I)


def _has_ingest(dep: Deployment) -> bool:
    return ingest_file_exists(dep.project.root)


class Intake(Kind):
    name = "intake"
    object_kinds = (STAGE, PIPE)
    committed_files = (CommittedFile(INTAKE_FILE, 70, style="statements", present=_has_ingest),)

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        if not ingest_file_exists(dep.project.root):
            return []
        cfg = load_ingest_config(dep.project)
        ctx = {"cfg": cfg, "stage": STAGE_NAME, "pipe": PIPE_NAME}
        return [Desired(STAGE, STAGE_NAME, (statement(dep, "ingest/intake/stage", f"stage {STAGE_NAME}", **ctx),),
                        file=INTAKE_FILE, file_order=(INTAKE_GROUP, 0), deployed=False, source=INGEST_FILE),
                Desired(PIPE, PIPE_NAME, (statement(dep, "ingest/intake/pipe", f"pipe {PIPE_NAME}", **ctx),),
                        file=INTAKE_FILE, file_order=(INTAKE_GROUP, 1), deployed=False, source=INGEST_FILE)]

    def check_statement(self, statement: str, source: str) -> bool:
        """A CREATE PIPE follows the syntax we render (Snowflake's CREATE PIPE reference) and the COPY it
        runs parses. CREATE STAGE is left to sqlglot."""
        text = statement.strip()
        if " ".join(text.split()[:2]).upper() != "CREATE PIPE":
            return False
        found = _PIPE.fullmatch(text)
        if found is None:
            raise ConfigError(f"CREATE PIPE does not follow Snowflake's syntax: {text[:120]}", file=source)
        parse_statements(found.group("copy"), source)
        return True
