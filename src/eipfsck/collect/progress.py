"""Progress reporting for collectors: a small interface, a silent default.

Collectors call it per resource or table; the CLI supplies a rich progress bar on a TTY.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, name: str) -> None:
        """A resource or table is about to be read."""

    def advance(self, name: str, count: int) -> None:
        """`count` more objects or rows of `name` were read."""

    def restart(self, name: str) -> None:
        """The read of `name` restarts from scratch (e.g. after 410 Gone); counts reset."""

    def done(self, name: str, state: str, count: int) -> None:
        """`name` finished with this SourceStatus state and object count."""


class Silent:
    def start(self, name: str) -> None:
        pass

    def advance(self, name: str, count: int) -> None:
        pass

    def restart(self, name: str) -> None:
        pass

    def done(self, name: str, state: str, count: int) -> None:
        pass


class RichProgress:
    """One bar per resource or table on stderr, with counts; for a terminal only."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        self._bars = Progress(TextColumn("{task.description:<48}"), BarColumn(bar_width=20),
                              TextColumn("{task.fields[count]:>9,} {task.fields[state]}"),
                              console=Console(stderr=True, highlight=False), transient=False)
        self._tasks: dict[str, int] = {}
        self._counts: dict[str, int] = {}

    def __enter__(self) -> RichProgress:
        self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bars.stop()

    def start(self, name: str) -> None:
        self._counts[name] = 0
        self._tasks[name] = self._bars.add_task(name, total=None, count=0, state="")

    def advance(self, name: str, count: int) -> None:
        self._counts[name] = self._counts.get(name, 0) + count
        self._bars.update(self._tasks[name], count=self._counts[name])

    def restart(self, name: str) -> None:
        self._counts[name] = 0
        self._bars.update(self._tasks[name], count=0, state="(restarted)")

    def done(self, name: str, state: str, count: int) -> None:
        self._bars.update(self._tasks[name], total=1, completed=1, count=count,
                          state="" if state == "complete" else state)
