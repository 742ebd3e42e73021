"""Every command's parser hands its arguments to its own handler (one module per
command: a parser variable named like the handler once sent ``run`` to the parser)."""

import pytest

from monitor.cli import COMMANDS, build_parser

ARGS = {
    "run": ["run", "--broker", "mqtt://127.0.0.1:1"],
    "demo": ["demo"],
    "alerts": ["alerts"],
    "replay": ["replay", "x.edf"],
    "evaluate": ["evaluate", "dir"],
    "bench": ["bench"],
    "scan": ["scan"],
}


@pytest.mark.parametrize("module", COMMANDS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_each_command_dispatches_to_its_module(module: object) -> None:
    name = module.__name__.rsplit(".", 1)[-1]  # type: ignore[attr-defined]
    args = build_parser().parse_args(ARGS[name])
    assert args.command == name
    assert args.handler is module.run  # type: ignore[attr-defined]
    assert callable(args.handler)
