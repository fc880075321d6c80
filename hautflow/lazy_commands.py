"""Commands imported when they are used: ``hautflow --help`` imports none of them.

typer builds every command's options when the program starts, which imports every module that
defines one (the options models, pydantic's schemas, the lake's helpers: a second before
anything is printed). Here the root group holds :class:`LazyCommand` entries instead: a name,
where the command is (``module:attribute``, a function or a ``typer.Typer``), and its one-line
summary for the root's help. The command is built the first time it is asked for, by name, as
typer would have built it under the root; a test checks each summary against its command.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import typer
from typer._click.utils import make_default_short_help
from typer.core import TyperGroup


@dataclass(frozen=True)
class LazyCommand:
    """A command of the root group, imported when first used."""

    name: str
    target: str
    """``module:attribute``: a command function, or a ``typer.Typer`` of subcommands."""
    summary: str
    """The root help's line for it: the command's own short help, written out here."""

    def load(self, *, rich_markup_mode: Any, pretty_exceptions_short: bool) -> Any:
        """The click command, built as typer builds a command added to the root."""
        module, _, attribute = self.target.partition(":")
        found = getattr(importlib.import_module(module), attribute)
        holder = typer.Typer(
            rich_markup_mode=rich_markup_mode,
            pretty_exceptions_short=pretty_exceptions_short,
            add_completion=False,
        )
        if isinstance(found, typer.Typer):
            holder.add_typer(found, name=self.name)
        else:
            holder.command(self.name)(found)
            holder.callback()(_no_options)  # a group, so the command is one of its commands
        return typer.main.get_group(holder).commands[self.name]


def _no_options() -> None:
    """A holder group's callback: none of its own."""


class LazyCommands(MutableMapping[str, Any]):
    """The root's commands by name: built ones, and lazy ones built when looked up."""

    def __init__(self, built: Mapping[str, Any], lazy: tuple[LazyCommand, ...], **build: Any):
        self._built: dict[str, Any] = dict(built)
        self._lazy = {command.name: command for command in lazy if command.name not in built}
        self._build = build

    def summary(self, name: str) -> str | None:
        """The declared summary of a command not built yet (None once it is built)."""
        entry = self._lazy.get(name)
        return None if entry is None or name in self._built else entry.summary

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            entry = self._lazy[name]  # a KeyError for an unknown name, as a dict
            self._built[name] = entry.load(**self._build)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        self._built.pop(name, None)
        self._lazy.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        yield from self._built
        yield from (name for name in self._lazy if name not in self._built)

    def __len__(self) -> int:
        return len(set(self._built) | set(self._lazy))

    def __contains__(self, name: object) -> bool:
        return name in self._built or name in self._lazy


def lazy_group(commands: tuple[LazyCommand, ...]) -> type[TyperGroup]:
    """A root group class (``typer.Typer(cls=...)``) whose ``commands`` are built when used."""

    class LazyGroup(TyperGroup):
        def __init__(self, **attrs: Any) -> None:
            super().__init__(**attrs)
            self.commands = LazyCommands(
                self.commands,
                commands,
                rich_markup_mode=self.rich_markup_mode,
                pretty_exceptions_short=True,
            )

        def list_commands(self, ctx: Any) -> list[str]:
            return list(self.commands)  # typer's reads the items, building every command

        def format_commands(self, ctx: Any, formatter: Any) -> None:
            """The root's list of commands, from the declared summaries: none is imported."""
            names = self.list_commands(ctx)
            if not names:
                return
            limit = formatter.width - 6 - max(len(name) for name in names)
            rows = []
            for name in names:
                summary = self.commands.summary(name)  # type: ignore[attr-defined]
                if summary is None:
                    command = self.get_command(ctx, name)
                    if command is None or command.hidden:
                        continue
                    rows.append((name, command.get_short_help_str(limit)))
                else:
                    rows.append((name, make_default_short_help(summary, limit)))
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    return LazyGroup
