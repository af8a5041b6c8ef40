"""Option values checked without pydantic, exactly as Typer checks them.

Typer (since 0.2x) checks every option value, defaults included, through a pydantic
TypeAdapter it builds on first use. Importing pydantic and building the adapters costs more
than everything else `eipfsck checks` or `eipfsck explain ID` does (about 0.1 s of a 0.2 s
budget). eipfsck's options take a few plain shapes: str, a list of str, bool, an Enum, an
int or a float with bounds. For those, `FastValue` gives Typer's result, or Typer's error
message for a bad choice or a number out of range; any other shape or value (a number
written "1e3", a type eipfsck does not use) goes to Typer's own coercion, so nothing here
accepts what Typer refuses or words an error differently. tests/test_cli_params.py holds
the two to the same answer on every option of every command.

When a Typer release changes how it checks values (no `_runtime_param` to fill), the
commands here keep Typer's own checks: slower, never different.
"""

from __future__ import annotations

import re
from enum import Enum
from functools import cache
from typing import Any, get_args, get_origin

import typer
from typer.core import TyperCommand, TyperGroup

_SLOW = object()  # not a shape handled here: Typer's own coercion decides
# Numbers as a user types them; anything else ("+5", " 5", "1e3", "5_000") is Typer's call.
_INT = re.compile(r"0|[1-9][0-9]{0,17}")
_FLOAT = re.compile(r"(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,15})?")


class FastValue:
    """The coercion of one Typer parameter: plain shapes here, the rest by Typer."""

    def __init__(self, descriptor: Any) -> None:
        self.descriptor = descriptor
        self._typer: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        got = _fast(self.descriptor, value, param.multiple or param.nargs == -1, ctx, param)
        if got is not _SLOW:
            return got
        if self._typer is None:
            from typer._coercion import build_runtime_param  # pydantic, on this path only

            self._typer = build_runtime_param(self.descriptor)
        return self._typer.coerce(value, param=param, ctx=ctx)


def _fast(desc: Any, value: Any, multi: bool, ctx: Any, param: Any) -> Any:
    info = desc.parameter_info
    if info.parser is not None or info.clamp or desc.file_annotation is not None:
        return _SLOW
    if value is None:
        return () if multi else None
    ann = desc.annotation
    if multi:
        if (get_origin(ann) is list and get_args(ann) == (str,)
                and isinstance(value, (list, tuple)) and all(type(v) is str for v in value)):
            return list(value)
        return _SLOW
    if ann in (str, bool) and type(value) is ann:
        return value
    if isinstance(ann, type) and issubclass(ann, Enum):
        return _choice(ann, value, info.case_sensitive, ctx, param)
    if ann in (int, float):
        return _number(ann, value, info.min, info.max, ctx, param)
    return _SLOW


def _choice(enum: type[Enum], value: Any, case_sensitive: bool, ctx: Any, param: Any) -> Any:
    if isinstance(value, enum):
        return value
    if type(value) is not str:
        return _SLOW
    from typer._param_types import coerce_cli_choice

    try:
        return coerce_cli_choice(value, choices=list(enum), case_sensitive=case_sensitive,
                                 ctx=ctx)
    except ValueError as exc:  # worded as pydantic words a validator's ValueError
        # (Typer also escapes control characters; the message shows the value as repr()
        # does, which already escapes every one of them.)
        raise typer.BadParameter(f"Value error, {exc}", ctx=ctx, param=param) from None


def _number(kind: type, value: Any, low: Any, high: Any, ctx: Any, param: Any) -> Any:
    if type(value) is kind:
        number = value
    elif type(value) is str and (_INT if kind is int else _FLOAT).fullmatch(value):
        number = kind(value)
    else:
        return _SLOW
    if low is not None and number < low:
        bound, word = low, "greater"
    elif high is not None and number > high:
        bound, word = high, "less"
    else:
        return number
    if type(bound) not in (int, float):
        return _SLOW
    # pydantic's message for a ge/le constraint; it prints a whole float bound as an int.
    shown = int(bound) if float(bound).is_integer() and abs(bound) < 1e15 else bound
    raise typer.BadParameter(f"Input should be {word} than or equal to {shown}", ctx=ctx,
                             param=param)


@cache
def _typer_has_helpers() -> bool:
    """Whether the Typer installed has the private helpers FastValue calls (both modules are
    loaded by `import typer` already; pydantic only when build_runtime_param runs). A release
    that renames them leaves every command with Typer's own checks, not a traceback."""
    try:
        from typer import _coercion, _param_types
    except ImportError:
        return False
    return (hasattr(_coercion, "build_runtime_param")
            and hasattr(_param_types, "coerce_cli_choice"))


class _FastParams:
    """Gives each Typer parameter of the command FastValue as its coercion, before Typer
    would build its pydantic one (Typer fills `_runtime_param` lazily when it is None)."""

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # type: ignore[misc]
        if not _typer_has_helpers():
            return params
        for p in params:
            if getattr(p, "_runtime_param", False) is None and hasattr(p, "type_descriptor"):
                p._runtime_param = FastValue(p.type_descriptor)
        return params


class FastGroup(_FastParams, TyperGroup):
    pass


class FastCommand(_FastParams, TyperCommand):
    pass
