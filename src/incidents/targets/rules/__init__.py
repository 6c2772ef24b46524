"""The Snowflake-rules target (tests only): the local session made to refuse what Snowflake refuses and
to answer metadata, grants, masking, streams and tasks as Snowflake does, rule by rule, each citing its
page. `wrap_local` is the one entry; `rules_state` and `grant` let tests read and set what it remembers."""

from incidents.targets.rules.session import SnowflakeRulesSession, wrap_local
from incidents.targets.rules.state import RulesState, grant, rules_state

__all__ = ["RulesState", "SnowflakeRulesSession", "grant", "rules_state", "wrap_local"]
