"""Start-up of local commands: the local target imports neither the Snowflake connector's package nor pandas
(issue 26), and the real connector still works beside it in the same process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
from pathlib import Path
from incidents.project.config import environment, load_project
from incidents.targets.local import open_local
project = load_project(Path({repo!r}))
env = environment(project, "dev")
session = open_local(Path({db!r}), env)
print(session.execute("SELECT 1 + 1")[1])
print("loaded:", sorted(m for m in ("pandas", "snowflake.connector", "fakesnow", "boto3", "botocore")
                        if m in sys.modules))
import pandas as pd
print(pd.DataFrame({{"a": [1, 2]}})["a"].sum())
import fakesnow
import snowflake.connector
from snowflake.connector.options import installed_pandas, pandas as probe
print(installed_pandas, probe.DataFrame is pd.DataFrame)
with fakesnow.server() as params:
    with snowflake.connector.connect(**params, database="D", schema="S") as real:
        print(real.cursor().execute("SELECT 40 + 2").fetchall())
print(session.execute("SELECT 3 AS a, 4 AS a"))
"""


def test_local_session_imports_neither_connector_nor_pandas(repo: Path, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(repo=str(repo), db=str(tmp_path / "db"))],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    out = [line for line in out if not line.startswith("INFO:")]  # the fakesnow server's access log
    assert out == ["[(2,)]", "loaded: []", "3", "True True", "[(42,)]", "(['A', 'A'], [(3, 4)])"]


HELP = """
import sys
from incidents.cli import fasthelp
fasthelp.install()
sys.argv = ["incidents", "--help"]
from incidents.cli import main
try:
    main()
except SystemExit:
    pass
print("deferred:", type(sys.modules["rich.markdown"]).__name__, type(sys.modules["rich.traceback"]).__name__)
from rich.console import Console
from rich.markdown import Markdown
Console(width=20).print(Markdown("# Title"))
print("after use:", type(sys.modules["rich.markdown"]).__name__)
"""


def test_help_defers_rich_markdown_and_traceback_until_used() -> None:
    done = subprocess.run([sys.executable, "-c", HELP], capture_output=True, text=True, check=True)
    lines = done.stdout.splitlines()
    assert any("Usage:" in line for line in lines) and any("query" in line for line in lines)
    assert "deferred: _DeferredModule _DeferredModule" in lines
    assert any(line.strip() == "Title" for line in lines) and lines[-1] == "after use: module"
