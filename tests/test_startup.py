"""Start-up of local commands: the local target does not import pandas until something uses it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys, types
from pathlib import Path
from incidents.project.config import environment, load_project
from incidents.targets.local import open_local
project = load_project(Path({repo!r}))
env = environment(project, "dev")
session = open_local(Path({db!r}), env)
print(session.execute("SELECT 1 + 1")[1])
pandas = sys.modules.get("pandas")
print("real pandas loaded:", type(pandas).__name__ != "_LazyPandas")
import pandas as pd
print(pd.DataFrame({{"a": [1, 2]}})["a"].sum(), type(sys.modules["pandas"]).__name__)
from snowflake.connector.options import installed_pandas, pandas as probe
print(installed_pandas, probe.DataFrame is pd.DataFrame)
"""


def test_local_session_leaves_pandas_unimported_until_used(repo: Path, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(repo=str(repo), db=str(tmp_path / "db"))],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["[(2,)]", "real pandas loaded: False", "3 module", "True True"]
