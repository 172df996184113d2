"""The API the emulated tenant plugs its cmdlets into (run it with :mod:`.engine`).

A tenant cmdlet is a plain function ``impl(ctx, params)``::

    registry = CmdletRegistry()

    @registry.cmdlet("Get-Mailbox", product="Exchange Online")
    def get_mailbox(ctx: CmdletContext, params: dict[str, Any]) -> Iterable[Any]:
        ...

    engine = Engine(registry)  # toolkit.sandbox.pwsh.engine
    runspace = engine.open_runspace(SessionContext(account="admin", role="admin"))
    result = run_script(runspace, "Get-Mailbox -ResultSize Unlimited")

Binding goes through the cmdlet's entry in ``cmdlets.json`` exactly as PowerShell binds a
compiled cmdlet: names, unique prefixes and aliases, positions, parameter sets, mandatory
parameters, pipeline input and type conversion. ``params`` holds the bound parameters
under the spec's canonical names; a switch appears (as ``True``/``False``) only when it
was given. With ``product="Exchange Online"`` a parameter whose ``applicable`` list lacks
that product does not exist (``NamedParameterNotFound``). ``visible(session)`` returning
false hides the cmdlet (RBAC): calling it raises ``CommandNotFoundException``.

The implementation is called once per pipeline input object when input binds to a
parameter that takes pipeline input, else once. Whatever it returns (an iterable, or
``None``) is written to the output stream, as is anything passed to
``ctx.write_output``. Raising :class:`CmdletError` writes a non-terminating error for the
current input object (or a catchable terminating error under ``-ErrorAction Stop``);
:class:`CmdletTerminatingError` always terminates the statement, like
``ThrowTerminatingError``. Records from an implementation get ``,<cmdlet>`` appended to
their FullyQualifiedErrorId (unless it already holds a comma) and their ``command_name``
set, as PowerShell does. Common parameters (``-ErrorAction``, ``-WarningAction``,
``-ErrorVariable``, ``-WarningVariable``, ``-OutVariable``, ``-Verbose``, ``-WhatIf``,
``-Confirm``, ...) are handled by the engine for every cmdlet; ``WhatIf``/``Confirm`` also
appear in ``params`` when the spec lists them. With ``-WhatIf`` the engine does not call
the implementation at all and writes the "What if:" line to the information stream.

``ctx.state`` is a dict private to the runspace that survives across pipelines: service
connections belong there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from toolkit.sandbox.interface import SessionContext
from toolkit.sandbox.pwsh.spec import cmdlet_specs
from toolkit.sandbox.values import ErrorRecord


@dataclass
class CmdletContext:
    """What a cmdlet implementation sees of the running pipeline."""

    session: SessionContext
    state: dict[str, Any]
    stop: threading.Event
    cmdlet_name: str
    parameter_set: str
    _output: Callable[[Any], None] = field(repr=False, default=lambda value: None)
    _error: Callable[[ErrorRecord], None] = field(repr=False, default=lambda record: None)
    _warning: Callable[[str], None] = field(repr=False, default=lambda message: None)
    _verbose: Callable[[str], None] = field(repr=False, default=lambda message: None)
    _information: Callable[[Any], None] = field(repr=False, default=lambda message: None)

    def write_output(self, value: Any) -> None:
        self._output(value)

    def write_error(self, record: ErrorRecord) -> None:
        """A non-terminating error, subject to ``-ErrorAction``."""
        self._error(record)

    def write_warning(self, message: str) -> None:
        """Subject to ``-WarningAction``."""
        self._warning(message)

    def write_verbose(self, message: str) -> None:
        self._verbose(message)

    def write_information(self, message: Any) -> None:
        self._information(message)


class CmdletError(Exception):
    """A non-terminating error of this call for the current input object."""

    def __init__(self, record: ErrorRecord):
        super().__init__(record.message)
        self.record = record


class CmdletTerminatingError(CmdletError):
    """Always terminates the statement (``ThrowTerminatingError``)."""


CmdletImpl = Callable[[CmdletContext, dict[str, Any]], Iterable[Any] | None]


@dataclass
class RegisteredCmdlet:
    name: str
    impl: CmdletImpl
    spec: dict[str, Any]
    product: str | None
    visible: Callable[[SessionContext], bool] | None


class CmdletRegistry:
    """The emulated cmdlets of a backend, keyed case-insensitively by name."""

    def __init__(self) -> None:
        self._cmdlets: dict[str, RegisteredCmdlet] = {}

    def register(
        self,
        name: str,
        impl: CmdletImpl,
        *,
        product: str | None = None,
        visible: Callable[[SessionContext], bool] | None = None,
    ) -> None:
        spec = cmdlet_specs().get(name)
        if spec is None:
            raise KeyError(f"{name} has no entry in cmdlets.json; add its metadata first")
        self._cmdlets[name.casefold()] = RegisteredCmdlet(name, impl, spec, product, visible)

    def cmdlet(
        self,
        name: str,
        *,
        product: str | None = None,
        visible: Callable[[SessionContext], bool] | None = None,
    ) -> Callable[[CmdletImpl], CmdletImpl]:
        """Decorator form of :meth:`register`."""

        def decorate(impl: CmdletImpl) -> CmdletImpl:
            self.register(name, impl, product=product, visible=visible)
            return impl

        return decorate

    def lookup(self, name: str) -> RegisteredCmdlet | None:
        return self._cmdlets.get(name.casefold())

    def names(self) -> list[str]:
        return [entry.name for entry in self._cmdlets.values()]
