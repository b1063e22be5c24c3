"""The root command group: global options anywhere on the line, and errors as one line.

`dockyard artifact list -o json` and `dockyard -o json artifact list` mean the same: the
global options are moved in front of the sub-command before parsing. Any `DockyardError`
(and a few expected local failures) becomes one readable line and a non-zero exit code; with
`--debug` the traceback is shown instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
import yaml
from typer.core import TyperGroup

from dockyard.cli.output import print_error
from dockyard.cli.state import State, current
from dockyard.sdk.errors import DockyardError

if TYPE_CHECKING:
    # What TyperGroup's methods take: the base of typer.Context, which typer names only in a
    # private module. Imported for the type checker alone.
    from typer._click import Context as BaseContext

# Global options that may appear anywhere (before a `--`): option → takes a value.
HOISTED = {"-o": True, "--output-format": True, "--debug": False}

EXIT_FAILED = 1  # the server refused, could not be reached, or a wait failed
EXIT_USAGE = 2  # bad command line or unreadable input file (click uses 2 as well)
EXIT_INTERRUPTED = 130


def hoist_global_options(args: list[str]) -> list[str]:
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        name = arg.split("=", 1)[0]
        if name in HOISTED and (HOISTED[name] is False or "=" in arg):
            front.append(arg)
        elif name in HOISTED and index + 1 < len(args):
            front.extend(args[index : index + 2])
            index += 1
        elif arg.startswith("-o") and len(arg) > 2 and not arg.startswith("--"):
            front.append(arg)  # -ojson
        else:
            rest.append(arg)
        index += 1
    return front + rest


class DockyardGroup(TyperGroup):
    def parse_args(self, ctx: BaseContext, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))

    def invoke(self, ctx: BaseContext) -> Any:
        try:
            return super().invoke(ctx)
        except DockyardError as error:
            self._fail(error, EXIT_FAILED)
        except (OSError, yaml.YAMLError, ValueError) as error:
            # Local input problems (a missing spec file, bad YAML): usage errors, not crashes.
            self._fail(error, EXIT_USAGE)
        except KeyboardInterrupt:
            if current().debug:
                raise
            raise typer.Exit(EXIT_INTERRUPTED) from None

    def _fail(self, error: BaseException, code: int) -> None:
        state: State = current()
        if state.debug:
            raise error
        print_error(error, as_json=state.json)
        raise typer.Exit(code) from None
