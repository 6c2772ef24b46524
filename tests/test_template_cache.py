"""Compiled templates are kept between runs and never used for a template that changed (issue 26.3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from incidents.sql import template_cache, templating


def fresh_render(templates: Path, name: str) -> str:
    templating.environment.cache_clear()  # a new process: a new Jinja environment, only the files remain
    return templating.render_template(templates, name, value="x")


def test_cached_templates_are_used_until_the_template_changes(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("INCIDENTS_CACHE_DIR", str(cache))
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "t.sql.j2").write_text("SELECT {{ value | literal }} AS a\n", encoding="utf-8")
    assert fresh_render(templates, "t.sql.j2") == "SELECT 'x' AS a\n"
    folder = template_cache.cache_dir()
    assert folder is not None and len(list(folder.iterdir())) == 1
    (templates / "t.sql.j2").write_text("SELECT {{ value | literal }} AS b\n", encoding="utf-8")
    assert fresh_render(templates, "t.sql.j2") == "SELECT 'x' AS b\n"
    (templates / "bad.sql.j2").write_text("SELECT\n{{ missing }}\n", encoding="utf-8")
    for _ in range(2):  # compiled, then from the cache: the error still names the template's line
        with pytest.raises(Exception, match="undefined") as error:
            fresh_render(templates, "bad.sql.j2")
        assert getattr(error.value, "line", None) == 2
    templating.environment.cache_clear()


def test_the_cache_can_be_turned_off_and_an_unwritable_folder_is_no_error(tmp_path: Path) -> None:
    assert template_cache.bytecode_cache({"INCIDENTS_CACHE_DIR": "off"}) is None
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert template_cache.bytecode_cache({"INCIDENTS_CACHE_DIR": str(blocker / "sub")}) is None
    assert template_cache.cache_dir({"XDG_CACHE_HOME": "/c"}) == Path(
        f"/c/incidents/templates-{template_cache.__version__}-py{template_cache.sys.version_info.major}"
        f"{template_cache.sys.version_info.minor}")
