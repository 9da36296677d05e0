"""The package's floors (docs/architecture.md, "Floors"): no import cycle between modules
of different packages. The import-linter contract in pyproject.toml (`lint-imports`, run by
.ci/run) holds the order of the floors; this test holds the weaker property for every
package, those the contract does not name included, and names the cycle it finds."""

from __future__ import annotations

import pytest

grimp = pytest.importorskip("grimp")  # the dev extra's import-linter brings it


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _package_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the package graph as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _package_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _package_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_between_packages() -> None:
    graph = grimp.build_graph("signcli", cache_dir=None)  # imports inside functions count
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            a, b = _package(module), _package(imported)
            if a != b and b != "signcli":  # the root package only holds __version__
                edges.setdefault(a, set()).add(b)
    cycle = _package_cycle(edges)
    assert cycle is None, "import cycle between packages: " + " -> ".join(cycle or [])


def test_every_module_of_the_package_imports() -> None:
    """A module moved to another floor leaves no import of its old path behind."""
    import importlib
    import pkgutil

    import signcli

    broken = []
    for module in pkgutil.walk_packages(signcli.__path__, "signcli."):
        try:
            importlib.import_module(module.name)
        except Exception as exc:  # noqa: BLE001 - any failure is the finding
            broken.append(f"{module.name}: {exc!r}")
    assert not broken, "\n".join(broken)
