"""The design's import rule: pure DSP and detection code imports no asyncio, network or
web code, and the monitor never imports the simulators."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_PURE = {
    "asyncio",
    "aiomqtt",
    "paho",
    "bleak",
    "bumble",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "socket",
    "sqlite3",
    "websockets",
    "amqtt",
    "simulators",
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_dsp_and_detect_are_pure() -> None:
    files = [
        *(ROOT / "monitor" / "dsp").rglob("*.py"),
        *(ROOT / "monitor" / "detect").rglob("*.py"),
    ]
    assert files
    for path in files:
        bad = imported_modules(path) & FORBIDDEN_PURE
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_monitor_never_imports_simulators() -> None:
    for path in (ROOT / "monitor").rglob("*.py"):
        assert "simulators" not in imported_modules(path), path
