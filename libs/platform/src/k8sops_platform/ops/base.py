"""What every operator command shares: options, the error wrapper, the API of one service."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer

from .client import Api, CliError, load_profile
from .output import errors

F = TypeVar("F", bound=Callable[..., Any])

ProfileOption = Annotated[str, typer.Option("--profile", "-p", help="profile in the config file")]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable JSON instead of a table")]


def handled(command: F) -> F:
    """A `CliError` ends the command with its message on stderr and its exit code, never a traceback."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CliError as error:
            errors.print(f"[red]error:[/red] {error}", highlight=False)
            raise typer.Exit(int(error.code)) from None

    return run  # type: ignore[return-value]


def api(profile: str, service: str) -> Api:
    return Api(load_profile(profile), service)
