"""A runspace: global scope, per-runspace service state, and pipeline invocation.

How a pipeline ends, as in PowerShell:

- a non-terminating error (``Write-Error``, a cmdlet's ``CmdletError``) goes to the error
  stream and the script goes on, unless ``-ErrorAction``/``$ErrorActionPreference`` is
  Stop, which makes it a catchable error that ends the script when nothing catches it;
- a statement-terminating error (parameter binding, unknown command, a failed cast or
  method call, ``CmdletTerminatingError``) ends its statement: outside ``try`` it is written
  to the error stream and the script continues with the next statement;
- ``throw`` and errors escalated by Stop end the script: ``PipelineFailed``;
- a pipeline of commands (``add_cmdlet``, no script) fails on any terminating error;
- ``stop`` set by the host is noticed between statements, loop iterations, command calls
  and pipeline items: ``PipelineStopped``;
- a defect of the engine itself fails the pipeline with ``SandboxEngineError``.

A script command runs in the runspace's global scope (its variables and functions stay
for later pipelines) unless ``use_local_scope`` asks for a child scope.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from toolkit.sandbox.interface import (
    Command,
    OutputSink,
    PipelineFailed,
    PipelineSpec,
    PipelineStopped,
    SessionContext,
    start_pipeline_clock,
)
from toolkit.sandbox.pwsh import binder
from toolkit.sandbox.pwsh.boundary import export
from toolkit.sandbox.pwsh.coercion import ArrayList
from toolkit.sandbox.pwsh.commands import ArgSpec, CallSite, invoke_body, invoke_command
from toolkit.sandbox.pwsh.compiler import compile_script
from toolkit.sandbox.pwsh.errors import FlowControl, ParseException, PSError, record
from toolkit.sandbox.pwsh.runtime import CommandResolver, Context, ResolvedCommand, Scope
from toolkit.sandbox.values import Hashtable, PSObject

# The modules a management host has installed (Get-Module -ListAvailable), name -> version:
# the ones psbridge needs, at versions current when this was written.
DEFAULT_HOST_MODULES: Mapping[str, str] = {
    "ExchangeOnlineManagement": "3.7.1",
    "Microsoft.Graph.Authentication": "2.25.0",
    "Microsoft.Graph.Identity.DirectoryManagement": "2.25.0",
    "Microsoft.Graph.Users": "2.25.0",
    "Microsoft.Graph.Users.Actions": "2.25.0",
    "PowerShellGet": "2.2.5",
}


class PwshRunspace:
    """Implements :class:`toolkit.sandbox.interface.Runspace`.

    ``resolver`` finds the commands that are not script functions (see
    :func:`toolkit.sandbox.pwsh.engine.command_resolver`).
    """

    def __init__(self, resolver: CommandResolver, context: SessionContext,
                 modules: Mapping[str, str] | None = None):
        self.resolver = resolver
        self.context = context
        self.modules = dict(DEFAULT_HOST_MODULES if modules is None else modules)
        self.state: dict[str, Any] = {}
        self.environment: dict[str, str] = {"computername": "SANDBOX", "username": context.account}
        self.global_scope = Scope()
        self.global_scope.vars.update(
            {
                "error": ArrayList(),
                "erroractionpreference": "Continue",
                "warningpreference": "Continue",
                "verbosepreference": "SilentlyContinue",
                "debugpreference": "SilentlyContinue",
                "informationpreference": "SilentlyContinue",
                "confirmpreference": "High",
                "whatifpreference": False,
                "psversiontable": Hashtable([("PSVersion", "7.4.0"), ("PSEdition", "Core")]),
                "executioncontext": PSObject([("SessionState", PSObject(
                    [("LanguageMode", "FullLanguage")]))]),
                # Automatic variables a remote script can see (strict mode reads them).
                "psscriptroot": "",
                "pscommandpath": "",
                "psculture": "en-US",
                "psuiculture": "en-US",
                "home": "",
                "myinvocation": PSObject([("MyCommand", ""), ("ScriptName", ""), ("Line", "")]),
                "host": PSObject(
                    [("Name", "ServerRemoteHost"), ("Version", "7.4.0")],
                    type_names=("System.Management.Automation.Internal.Host.InternalHost",),
                ),
            }
        )
        self.statements_run = 0

    def resolve_command(self, name: str) -> ResolvedCommand | None:
        return self.resolver(name, self.context)

    def invoke(self, spec: PipelineSpec, sink: OutputSink, stop: threading.Event) -> None:
        start_pipeline_clock()
        ctx = Context(self, sink, stop, self.global_scope)
        statement: list[Command] = []
        try:
            for command in spec.commands:
                statement.append(command)
                if command.end_of_statement:
                    self._run_statement(ctx, statement, spec.input)
                    statement = []
            if statement:
                self._run_statement(ctx, statement, spec.input)
        except PSError as error:
            raise PipelineFailed(error.record) from None
        except ParseException as error:
            raise PipelineFailed(error.record) from None
        except FlowControl:
            return
        except (PipelineStopped, PipelineFailed):
            raise
        except RecursionError:
            raise PipelineFailed(
                record(
                    "The script failed due to call depth overflow.",
                    "CallDepthOverflow",
                    category="InvalidOperation",
                )
            ) from None
        except Exception as exc:
            # A defect of the engine itself: fail loudly rather than look like success.
            raise PipelineFailed(
                record(
                    f"Internal error in the sandbox PowerShell engine: {type(exc).__name__}: {exc}",
                    "SandboxEngineError",
                    category="NotImplemented",
                )
            ) from exc
        finally:
            self.statements_run += ctx.statements

    def _run_statement(self, ctx: Context, commands: list[Command], pipeline_input: Any) -> None:
        items: Iterator[Any] | None = iter(pipeline_input) if pipeline_input is not None else None
        sink = ctx.sink

        def write(value: Any) -> None:
            sink.output(export(value))

        if len(commands) == 1 and commands[0].is_script:
            self._script(ctx, commands[0], items, write)
            return
        for command in commands:
            items = self._stage(ctx, command, items)
        assert items is not None
        for value in items:
            write(value)

    def _stage(self, ctx: Context, command: Command, items: Iterator[Any] | None) -> Iterator[Any]:
        if command.is_script:
            return iter(self._script(ctx, command, items, None))
        site = CallSite(
            command.text,
            None,
            False,
            [
                ArgSpec("arg", None, _constant(value))
                if name is None
                else ArgSpec(
                    "param", name, _constant(binder.SWITCH_OR_NULL if value is None else value)
                )
                for name, value in command.parameters
            ],
            0,
        )
        return invoke_command(ctx, site, items)

    def _script(
        self,
        ctx: Context,
        command: Command,
        items: Iterator[Any] | None,
        write: Callable[[Any], None] | None,
    ) -> list[Any]:
        """Run a script command: its param() block binds the command's parameters.

        ``use_local_scope`` true runs it in a child scope; otherwise its variables stay in
        the runspace's global scope for later pipelines, as AddScript does by default.
        """
        body = compile_script(command.text)
        scope = Scope(self.global_scope) if command.use_local_scope else self.global_scope
        ctx.scope = ctx.script_scope = scope
        args = [
            (name, binder.SWITCH_OR_NULL if name is not None and value is None else value)
            for name, value in command.parameters
        ]
        return invoke_body(ctx, body, "", args, items, new_scope=False, write=write)

    def close(self) -> None:
        self.state.clear()


def _constant(value: Any) -> Callable[[Context], Any]:
    def constant(ctx: Context) -> Any:
        return value

    return constant
