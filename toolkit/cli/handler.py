"""The single top-level error handler: exceptions become one line, a hint and an exit code."""

from __future__ import annotations

import signal
import sys
import threading
import traceback as tb
from types import FrameType

import click

from toolkit.core.errors import ExitCode, PsbridgeError


def _wants_traceback(argv: list[str]) -> bool:
    return "--traceback" in argv


_terminated = threading.Event()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM stops the command as Ctrl-C does (in the main thread, where Ctrl-C lands);
    a second one during the orderly stop is ignored."""
    if not _terminated.is_set():
        _terminated.set()
        raise KeyboardInterrupt


def run(command: click.Command, argv: list[str] | None = None) -> int:
    """Run the CLI; SIGTERM (systemd, CI) is handled like Ctrl-C and exits 143, not 130."""
    if threading.current_thread() is not threading.main_thread():
        return _run(command, argv)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = _run(command, argv)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if _terminated.is_set() and code == ExitCode.INTERRUPTED:
        return int(ExitCode.TERMINATED)
    return code


def _visible(text: str, *, newlines: bool = False) -> str:
    """``text`` as plain text (see toolkit.io.plain_text), imported only when an error is
    shown: ``--help`` stays light."""
    from toolkit.api.results import visible

    return visible(text, newlines=newlines)


def _run(command: click.Command, argv: list[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        command.main(args=args, prog_name="psbridge", standalone_mode=False)
    except PsbridgeError as exc:
        if _wants_traceback(args):
            tb.print_exc()
        click.echo(f"error: {_visible(exc.message, newlines=True)}", err=True)
        if exc.hint:
            click.echo(f"hint: {_visible(exc.hint, newlines=True)}", err=True)
        return int(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        return int(ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return int(ExitCode.INTERRUPTED)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        # click's usage errors are bad input: exit 2, as for every input error.
        return int(ExitCode.BAD_INPUT) if isinstance(exc, click.UsageError) else exc.exit_code
    except BrokenPipeError:
        return 0
    except Exception as exc:  # an unexpected failure is a bug: say so, keep the exit code
        if _wants_traceback(args):
            tb.print_exc()
        else:
            click.echo(f"error: internal error: {type(exc).__name__}: {_visible(str(exc))}",
                       err=True)
            click.echo("hint: run again with --traceback and report the stack trace.",
                       err=True)
        return int(ExitCode.PARTIAL_FAILURE)
    return int(ExitCode.OK)
