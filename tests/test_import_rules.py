"""The layers of docs/architecture.md, enforced by walking every import statement
(module level and inside functions): data flows core -> inputs/outputs -> live, asyncio
lives at the edges, nothing imports in a circle, and the simulators use only the public
API, the core's types and the input codecs."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Layer -> the packages and modules in it (dotted prefixes).
LAYERS: dict[str, tuple[str, ...]] = {
    "core": ("monitor.core", "monitor.dsp", "monitor.detect"),
    "inputs": ("monitor.inputs",),
    "outputs": ("monitor.outputs",),
    "app": ("monitor.replay", "monitor.analysis"),
    "live": ("monitor.live",),
    "tools": ("monitor.tools",),
    "cli": ("monitor.cli",),
}
#: What each layer may import from the monitor. The public ``monitor`` package itself
#: (``monitor/__init__.py``) re-exports from core, inputs and app.
MAY_IMPORT: dict[str, set[str]] = {
    "core": {"core"},
    "inputs": {"core", "inputs"},
    "outputs": {"core", "outputs"},
    "app": {"core", "inputs", "outputs", "app"},
    "live": {"core", "inputs", "outputs", "live"},
    "tools": {"core", "inputs", "outputs", "app", "live", "tools"},
    "cli": set(LAYERS),
}
#: Imports across the rules, each with its reason.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("monitor.core.source_settings", "monitor.inputs.ble.registry"): (
        "a [[ble.devices]] table's options are checked by its driver when settings load, so "
        "a typo fails at start-up with its key (called inside BleSettings.validate)"
    ),
}
ASYNC = {
    "asyncio",
    "aiomqtt",
    "paho",
    "bleak",
    "bumble",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "websockets",
    "amqtt",
}
#: Where an event loop may be used: the live layer, the sources that wrap async device
#: libraries (bleak, pylsl's threads handed to the loop), the tools and the CLI.
ASYNC_ALLOWED = (
    "monitor.live",
    "monitor.inputs.ble.source",
    "monitor.inputs.lsl",
    "monitor.inputs.brainflow",
    "monitor.tools",
    "monitor.cli",
)
PURE_FORBIDDEN = ASYNC | {"socket", "sqlite3", "simulators", "pandas"}
SIMULATORS_MAY_IMPORT = (
    "monitor.core.model",
    "monitor.core.errors",
    "monitor.core.config",
    "monitor.core.source_settings",
    "monitor.core.broker_url",
    "monitor.inputs",
)


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: str) -> dict[str, Path]:
    return {module_name(p): p for p in (ROOT / package).rglob("*.py")}


def imports(path: Path, known: set[str], runtime_only: bool = False) -> Iterator[tuple[str, int]]:
    """Every module ``path`` imports (absolute names, submodules resolved), with lines;
    ``runtime_only`` leaves out those under ``if TYPE_CHECKING:``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    typing_only: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                typing_only |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield (sub if sub in known else base), node.lineno


def layer_of(module: str) -> str | None:
    for layer, prefixes in LAYERS.items():
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return layer
    return None


def test_every_monitor_module_has_a_layer() -> None:
    orphans = [m for m in modules("monitor") if m != "monitor" and layer_of(m) is None]
    assert not orphans, f"modules outside the layers of docs/architecture.md: {orphans}"


def test_layers_import_only_what_they_may() -> None:
    mods = modules("monitor")
    bad = []
    for name, path in mods.items():
        layer = layer_of(name)
        for target, line in imports(path, set(mods)):
            if not target.startswith("monitor") or (name, target) in EXCEPTIONS:
                continue
            other = layer_of(target)
            allowed = MAY_IMPORT[layer] if layer else {"core", "inputs", "app"}
            if other is not None and other not in allowed:
                bad.append(f"{name}:{line} ({layer}) imports {target} ({other})")
    assert not bad, "\n".join(bad)


def test_core_is_pure_and_asyncio_stays_at_the_edges() -> None:
    mods = modules("monitor")
    bad = []
    for name, path in mods.items():
        roots = {t.split(".")[0] for t, _ in imports(path, set(mods))}
        if layer_of(name) == "core" and (hit := roots & PURE_FORBIDDEN):
            bad.append(f"{name} (core) imports {sorted(hit)}")
        elif not name.startswith(ASYNC_ALLOWED) and (hit := roots & ASYNC):
            bad.append(f"{name} imports {sorted(hit)} outside the live layer")
    assert not bad, "\n".join(bad)


def test_no_import_cycles() -> None:
    """Cycles at run time; an import for type hints only is no cycle."""
    mods = modules("monitor")
    graph = {
        name: {t for t, _ in imports(path, set(mods), True) if t in mods and t != name}
        for name, path in mods.items()
    }
    graph["monitor"] = set()  # the public package only re-exports, lazily
    cycles = [scc for scc in _strongly_connected(graph) if len(scc) > 1]
    assert not cycles, f"import cycles: {cycles}"


def test_simulators_use_the_public_api_core_types_and_input_codecs() -> None:
    mods = modules("monitor")
    for path in (ROOT / "simulators").rglob("*.py"):
        for target, line in imports(path, set(mods)):
            if target.startswith("monitor") and target != "monitor":
                assert target.startswith(SIMULATORS_MAY_IMPORT), f"{path.name}:{line} {target}"


def test_monitor_never_imports_simulators() -> None:
    for path in (ROOT / "monitor").rglob("*.py"):
        assert not any(t.startswith("simulators") for t, _ in imports(path, set())), path


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    scc = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        scc.append(top)
                        if top == node:
                            break
                    out.append(sorted(scc))
    return out
