"""MkDocs hooks (mkdocs.yml `hooks:`): the pages generated from the code, and a nav that
takes in pages it does not list yet.

- `reference/commands.md`, `reference/settings.md`, `reference/exit-codes.md` are written by
  `signcli/reference.py` at every build, from this checkout's code, so they cannot drift;
  `changelog.md` is the repository's CHANGELOG.md.
- A page under docs/ that mkdocs.yml's nav does not list still gets a nav entry: one in
  `docs/benchmarks/` under "Benchmarks" (benchmark scripts write their tables there), any
  other at the end of "Guide". `mkdocs build --strict` fails on a nav entry whose file is missing, so
  new pages land here first and move into the nav when someone places them.

Plain hooks, no plugin: nothing is fetched, the site builds offline.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # document this checkout's code, not another installed copy

import typer.main  # noqa: E402

from signcli import reference  # noqa: E402
from signcli.cli import app  # noqa: E402

GENERATED = {
    "reference/commands.md": lambda: reference.commands_markdown(typer.main.get_command(app)),
    "reference/settings.md": reference.settings_markdown,
    "reference/exit-codes.md": reference.exit_codes_markdown,
    "changelog.md": lambda: (REPO / "CHANGELOG.md").read_text(encoding="utf-8"),
}
BENCHMARKS_SECTION = "Benchmarks"
GUIDE_SECTION = "Guide"


def on_config(config: Any) -> Any:
    docs_dir = Path(config["docs_dir"])
    listed = set(_nav_paths(config["nav"] or []))
    for path in sorted(docs_dir.rglob("*.md")):
        page = path.relative_to(docs_dir).as_posix()
        if page in listed or page in GENERATED or page.startswith("_"):
            continue
        folder = BENCHMARKS_SECTION if page.startswith("benchmarks/") else GUIDE_SECTION
        _section(config["nav"], folder).append(page)
    return config


def on_files(files: Files, config: Any) -> Files:
    for page, write in GENERATED.items():
        files.append(File.generated(config, page, content=write()))
    return files


def _nav_paths(nav: list[Any]) -> list[str]:
    paths = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        paths.extend(_nav_paths(value) if isinstance(value, list) else [value])
    return paths


def _section(nav: list[Any], title: str) -> list[Any]:
    for item in nav:
        if isinstance(item, dict) and isinstance(item.get(title), list):
            return item[title]
    nav.append({title: []})
    return nav[-1][title]
