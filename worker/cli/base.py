"""The `radflag` command group; the setting options live in worker.cli.options."""

from __future__ import annotations

import sys
from typing import Any

import click

from worker.cli.options import with_settings

__all__ = ["main", "with_settings"]


class RadflagGroup(click.Group):
    """A click group whose usage errors are one line (`Error: ...`) and exit 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.UsageError as e:
            where = f" (see `{e.ctx.command_path} --help`)" if e.ctx is not None else ""
            click.echo(f"Error: {e.format_message()}{where}", err=True)
            sys.exit(e.exit_code)
        except click.ClickException as e:
            e.show()
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=RadflagGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="radflag")
def main() -> None:
    """radflag: flags bone marrow edema in MRI reports arriving over HL7 v2."""
