"""The floor plan holds: schemas ← core ← services ← catalens, every import points down.

- `schemas/` imports only itself (pydantic + stdlib contracts);
- `core/` imports `schemas` and itself;
- a service imports `schemas`, `core` and itself, never a sibling (models several services run,
  like the embedding models, live in `core`);
- `infra/` imports `schemas`, `core` and itself;
- `catalens/` may import everything below it; nothing imports `bench/` or `tests/`;
- no two modules import each other, directly or round a longer circle;
- nothing is wired through `importlib.import_module` with a project module name."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "core", "services", "infra", "catalens")
ALLOWED = {
    "schemas": {"schemas"},
    "core": {"schemas", "core"},
    "infra": {"schemas", "core", "infra"},
    "catalens": {"schemas", "core", "services", "infra", "catalens"},
}
SIBLING_EXCEPTIONS: set[tuple[str, str]] = set()  # (importer, imported): none today
PROJECT = (*PACKAGES, "bench", "tests")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import of a project module, lazy ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = (package or module_name(path)).split(".")
                base = ".".join(anchor[: len(anchor) - node.level + 1] + ([base] if base else []))
            for alias in node.names:  # `from pkg import module` names a module too
                yield node.lineno, f"{base}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
        ):
            yield node.lineno, "importlib:" + ast.unparse(node.args[0] if node.args else node)


def source_files(packages: tuple[str, ...] = PACKAGES) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))


def resolve(name: str, known: set[str]) -> str | None:
    """The project module `name` refers to (a `from pkg import function` names `pkg`)."""
    while name and name.split(".")[0] in PROJECT:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def violations(files: list[Path]) -> list[str]:
    known = {module_name(p) for p in source_files(PROJECT)}
    found = []
    for path in files:
        importer = module_name(path)
        layer = importer.split(".")[0]
        for line, name in imports_of(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if name.startswith("importlib:"):
                if any(pkg in name for pkg in PROJECT):
                    found.append(f"{where} wires {name[10:]} through importlib")
                continue
            target = resolve(name, known)
            if target is None:
                continue
            top = target.split(".")[0]
            if layer == "services":
                own = importer.split(".")[1] if importer.count(".") else ""
                other = target.split(".")[1] if top == "services" and target.count(".") else ""
                if top in ("schemas", "core") or (top == "services" and other in ("", own)):
                    continue
                if top == "services" and (own, other) in SIBLING_EXCEPTIONS:
                    continue
                found.append(f"{where} {importer} imports {target}")
            elif top not in ALLOWED[layer]:
                found.append(f"{where} {importer} imports {target}")
    return found


def cycles(files: list[Path]) -> list[list[str]]:
    """Strongly connected groups of more than one module in the import graph."""
    known = {module_name(p) for p in files}
    graph: dict[str, set[str]] = {m: set() for m in known}
    for path in files:
        for _, name in imports_of(path):
            target = resolve(name, known) if not name.startswith("importlib:") else None
            if target and target != module_name(path) and not _is_package_of(target, path):
                graph[module_name(path)].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _is_package_of(target: str, path: Path) -> bool:
    """`from pkg import sub` inside `pkg/__init__.py`'s own children is not an edge to pkg."""
    return (ROOT / target.replace(".", "/") / "__init__.py").is_file() and module_name(
        path
    ).startswith(target + ".")


def test_every_import_points_down_and_no_service_imports_a_sibling() -> None:
    assert violations(source_files()) == []


def test_no_two_modules_import_each_other() -> None:
    assert cycles(source_files()) == []


@pytest.mark.parametrize(
    ("path", "source", "complaint"),
    [
        ("schemas/x.py", "from core.domain import Box\n", "schemas.x imports core.domain"),
        ("core/x.py", "from services.detector import handler\n", "imports services.detector"),
        ("services/indexer/x.py", "from services.query import ports\n", "imports services.query"),
        ("infra/x.py", "import catalens.cli.main\n", "imports catalens.cli.main"),
        (
            "core/y.py",
            "import importlib\nimportlib.import_module(f'services.{n}.app')\n",
            "through importlib",
        ),
    ],
)
def test_the_rule_check_catches_an_upward_or_sideways_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, source: str, complaint: str
) -> None:
    file = ROOT / path
    assert not file.exists()
    try:
        file.write_text(source, encoding="utf-8")
        found = violations([file])
    finally:
        file.unlink()
    assert any(complaint in line for line in found), found


def test_the_cycle_check_catches_two_modules_importing_each_other() -> None:
    a, b = ROOT / "core" / "_cycle_a.py", ROOT / "core" / "_cycle_b.py"
    try:
        a.write_text("from core import _cycle_b\n", encoding="utf-8")
        b.write_text("def f():\n    from core._cycle_a import g\n", encoding="utf-8")
        assert ["core._cycle_a", "core._cycle_b"] in cycles(source_files())
    finally:
        a.unlink()
        b.unlink()
