"""Running the real CLI entry point inside a test."""

from __future__ import annotations

import pytest

from eipfsck.cli import main


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `eipfsck ARGS`; a traceback is always a failure."""
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return int(exc.value.code or 0), out, err
