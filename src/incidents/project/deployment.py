"""A project bound to one of its environments: what every template renders against.

Everything that renders SQL for an environment takes a Deployment, never a (project, environment)
pair, so the two cannot be mixed up and the context every template sees is built in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from incidents.project.models import HISTORY_TABLE, Environment, Project
from incidents.sql import identifiers
from incidents.sql.templating import render_template


@dataclass(frozen=True)
class Deployment:
    project: Project
    env: Environment

    @property
    def database(self) -> str:
        return self.env.database

    @property
    def schema(self) -> str:
        return self.env.schema

    @property
    def templates_dir(self) -> Path:
        return self.project.templates_dir

    def fq(self, name: str) -> str:
        """`name` qualified with the environment's database and schema."""
        return identifiers.qualify(self.env.database, self.env.schema, name)

    def context(self, **extra: Any) -> dict[str, Any]:
        """What every template sees (plus `extra`)."""
        return {"project": self.project, "env": self.env, "fq": self.fq, "vars": self.project.variables,
                "currency": self.project.currency, "history_table": HISTORY_TABLE, **extra}

    def render(self, template: str, **extra: Any) -> str:
        """One template (its path under templates/) rendered as it is."""
        return render_template(self.project.templates_dir, template, **self.context(**extra))

    def sql(self, template: str, **extra: Any) -> str:
        """`templates/<template>.sql.j2` rendered and stripped: one statement."""
        return self.render(f"{template}.sql.j2", **extra).strip()
