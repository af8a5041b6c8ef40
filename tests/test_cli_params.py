"""eipfsck.cliparams checks option values as Typer's own (pydantic) coercion does: for every
parameter of every command, the same value of the same type, or the same error message."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import typer
from clirun import run
from typer._coercion import build_runtime_param

from eipfsck.cli import app
from eipfsck.cliparams import FastValue

GROUP = typer.main.get_command(app)
HEALTHY = str(Path(__file__).resolve().parent.parent / "examples" / "healthy-cluster")
COMMANDS = {"": GROUP, **GROUP.commands}  # type: ignore[attr-defined]

SAMPLES: list[Any] = [
    None, "", "x", "0", "1", "2", "007", "00", "+5", " 5", "5 ", "5_000", "1e3", "-1", "-0",
    "0.5", "1.0", "1.", ".5", "0.25", "1.5", "3.14159", "10000", "10001", "5270400", "5270401",
    "99999999999999999999", "9" * 18, "9" * 19, "١٢", "table", "json", "TABLE", "Json", "csv",
    "warning", "never", "tcp:10.0.0.1:6641", "leaked-ip", "\x1b[31mred", "a\x85b", "é",
    ("a", "b"), ["a"], (), True, False, 0, 1, 20, 10001, -1, 0.0, 0.2, 1.0, 1.5, 2.0,
]


def _cases() -> list[tuple[str, Any]]:
    out = []
    for name, cmd in COMMANDS.items():
        ctx = typer.Context(cmd, info_name=name or "eipfsck")
        for p in cmd.get_params(ctx):
            if hasattr(p, "type_descriptor"):
                out.append((f"{name or 'eipfsck'} {p.name}", (cmd, ctx, p)))
    return out


CASES = _cases()


def _outcome(coerce: Any, value: Any, param: Any, ctx: Any) -> tuple[Any, ...]:
    try:
        got = coerce(value, param=param, ctx=ctx)
    except typer.BadParameter as exc:
        return ("refused", exc.format_message(), exc.param is param)
    return ("accepted", type(got), got)


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[i for i, _ in CASES])
def test_every_value_gets_typer_s_answer(case: tuple[Any, Any, Any]) -> None:
    _, ctx, param = case
    typer_own = build_runtime_param(param.type_descriptor)
    ours = FastValue(param.type_descriptor)
    values = [*SAMPLES, param.default]
    ann = param.type_descriptor.annotation
    if isinstance(ann, type) and issubclass(ann, Enum):
        values += [*ann, *(m.value for m in ann), *(m.value.upper() for m in ann)]
    for value in values:
        assert _outcome(ours.coerce, value, param, ctx) == \
            _outcome(typer_own.coerce, value, param, ctx), (param.name, value)


def test_the_commands_use_it() -> None:
    """The control: a parameter of each command carries FastValue once the command builds
    its parser (otherwise Typer's pydantic coercion runs and the test above proves nothing
    about the CLI)."""
    for name, cmd in COMMANDS.items():
        ctx = typer.Context(cmd, info_name=name or "eipfsck")
        kinds = {type(getattr(p, "_runtime_param", None)) for p in cmd.get_params(ctx)
                 if hasattr(p, "type_descriptor")}
        assert kinds == {FastValue}, (name, kinds)


def test_a_typer_without_the_helpers_keeps_its_own_checks(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A Typer release that renamed the private helpers: the commands are left to Typer's
    own checks (same answers, slower), not a traceback on the first option."""
    from typer import _param_types

    from eipfsck import cliparams

    monkeypatch.delattr(_param_types, "coerce_cli_choice")
    cliparams._typer_has_helpers.cache_clear()
    try:
        assert cliparams._typer_has_helpers() is False
        cmd = typer.main.get_command(app).commands["scan"]  # type: ignore[attr-defined]
        ctx = typer.Context(cmd, info_name="scan")
        assert not any(isinstance(getattr(p, "_runtime_param", None), FastValue)
                       for p in cmd.get_params(ctx))
        code, out, err = run(["scan", "--snapshot", HEALTHY, "-o", "csv"], capsys)
        assert code == 16 and out == "" and "csv" in err
        code, out, _ = run(["scan", "--snapshot", HEALTHY, "-o", "json"], capsys)
        assert code == 0 and out.startswith("{")
    finally:
        monkeypatch.undo()
        cliparams._typer_has_helpers.cache_clear()
