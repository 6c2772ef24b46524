"""Query results as pandas DataFrames, for the few reads that move many rows (the features of every
incident, the daily counts). Through the session's own error mapping and trace; the rows come as
Arrow (`fetch_pandas_all`, on fakesnow and the Snowflake connector alike), ten times faster than
tuples at 100k incidents."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from incidents.errors import StatementCountError, TargetError, first_line
from incidents.sql.session import Session, Statement
from incidents.sql.text import count_statements

if TYPE_CHECKING:
    import pandas as pd


def fetch_frame(session: Session, sql: str, *, obj: str) -> pd.DataFrame:
    """Run one query; its rows as a DataFrame with lower-case column names."""
    import pandas as pd

    if count_statements(sql) != 1:
        raise StatementCountError(f"{obj}: refusing to run SQL text that is not exactly one statement")
    start = time.perf_counter()
    cur = session.conn.cursor()
    try:
        cur.execute(session.rewrite(sql))
        if hasattr(cur, "fetch_pandas_all"):
            frame = cur.fetch_pandas_all()
            if len(frame.columns) == 0 and cur.description:  # no rows: the connector may drop the columns too
                frame = pd.DataFrame(columns=[d[0] for d in cur.description])
        else:  # a connection without Arrow results
            frame = pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description or ()])
    except Exception as exc:
        if not session.is_target_error(exc):
            raise
        raise TargetError(first_line(exc), obj=obj, statement=sql) from exc
    finally:
        session.trace.append(Statement(sql, obj, time.perf_counter() - start))
        cur.close()
    frame.columns = [str(c).lower() for c in frame.columns]
    return frame
