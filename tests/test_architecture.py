"""The shape of ``app/`` that CONTRIBUTING.md describes: small modules and functions (in
``tests/`` and ``bench/`` too), and imports that only point down the layers (lazy imports
inside functions included)."""

from __future__ import annotations

import ast
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Kept short on purpose: a new entry needs a reason a reviewer agrees with.
MODULE_EXCEPTIONS: dict[str, str] = {}
FUNCTION_EXCEPTIONS: dict[str, str] = {}

# Lowest first: a module may import its own layer and the layers listed before it. A module
# belongs to its longest matching pattern (``app.*.endpoints`` beats ``app.items``).
LAYERS: list[tuple[str, list[str]]] = [
    (
        "kernel",
        [
            "app",
            "app.config",
            "app.errors",
            "app.fields",
            "app.text",
            "app.secret_strength",
            "app.filemodes",
            "app.jsonbody",
            "app.limits",
            "app.heap",
        ],
    ),
    ("learning", ["app.learning"]),
    ("compute", ["app.scaling"]),
    ("storage", ["app.db", "app.lookups", "app.migrate", "app.models"]),
    (
        "services",
        [
            "app.annotations",
            "app.audit",
            "app.items",
            "app.oracles",
            "app.projects",
            "app.queue",
            "app.review",
            "app.training",
            "app.users",
        ],
    ),
    (
        "http",
        [
            "app.routing",
            "app.deps",
            "app.*.access",
            "app.ratelimits",
            "app.web.security",
            "app.web.templating",
            "app.web.ratelimit",
            "app.web.charts",
            "app.web.problems",
        ],
    ),
    ("adapters", ["app.*.endpoints", "app.web", "app.health", "app.scheduler"]),
    ("composition", ["app.main", "app.cli", "app.cli_users", "app.cli_oracle", "app.demo"]),
]
# The learning core is pure: numpy in, numpy out, no database and no web framework.
LEARNING_FORBIDDEN = ("sqlalchemy", "fastapi", "starlette")


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(APP.rglob("*.py")):
        parts = list(path.relative_to(APP.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()
# Held to the same sizes: the tests and the benchmarks (migrations are frozen history).
SIZED = {
    **MODULES,
    **{
        str(path.relative_to(APP.parent)): path
        for folder in ("tests", "bench")
        for path in sorted((APP.parent / folder).rglob("*.py"))
    },
}


def _imports(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports, at the top or inside a function (``from a import b``
    counts as ``a.b`` when ``b`` is a module)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add(sub if sub in MODULES else module)
    return found


def _layer(module: str) -> int:
    best: tuple[int, int] | None = None  # (pattern length, layer index)
    for index, (_, patterns) in enumerate(LAYERS):
        for pattern in patterns:
            size = pattern.count(".") + 1
            prefix = ".".join(module.split(".")[:size])
            exact_only = pattern == "app"
            if fnmatchcase(module if exact_only else prefix, pattern) and (
                best is None or size > best[0]
            ):
                best = (size, index)
    assert best is not None, f"{module} is in no layer: add it to LAYERS (and CONTRIBUTING.md)"
    return best[1]


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef)
    return [node for node in ast.walk(tree) if isinstance(node, kinds)]


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        _layer(module)


def test_imports_point_down_the_layers() -> None:
    upward = []
    for name, path in MODULES.items():
        own = _layer(name)
        for target in sorted(_imports(name, path)):
            if target.split(".")[0] == "app" and _layer(target) > own:
                upward.append(
                    f"{name} ({LAYERS[own][0]}) imports {target} ({LAYERS[_layer(target)][0]})"
                )
    assert not upward, "\n".join(upward)


def test_the_learning_core_imports_no_database_or_web_code() -> None:
    impure = [
        f"{name} imports {target}"
        for name, path in MODULES.items()
        if name.startswith("app.learning")
        for target in sorted(_imports(name, path))
        if target.split(".")[0] in LEARNING_FORBIDDEN
    ]
    assert not impure, "\n".join(impure)


@pytest.mark.parametrize(
    "kind, limit", [("module", MAX_MODULE_LINES), ("function", MAX_FUNCTION_LINES)]
)
def test_modules_and_functions_stay_small(kind: str, limit: int) -> None:
    exceptions = MODULE_EXCEPTIONS if kind == "module" else FUNCTION_EXCEPTIONS
    too_long = []
    for name, path in SIZED.items():
        source = path.read_text()
        if kind == "module":
            sizes = {name: len(source.splitlines())}
        else:
            sizes = {
                f"{name}:{node.name} (line {node.lineno})": (node.end_lineno or 0) - node.lineno + 1
                for node in _functions(ast.parse(source, str(path)))
            }
        too_long += [
            f"{where}: {lines} lines"
            for where, lines in sizes.items()
            if lines > limit and where.split(" ")[0] not in exceptions
        ]
    assert not too_long, f"over {limit} lines:\n" + "\n".join(too_long)
