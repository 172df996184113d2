"""The one place that talks pypsrp: connections to the management host and pipelines on them.

A :class:`Connection` is one WSMan shell with a RunspacePool of one runspace, used by one
thread at a time. Concurrency comes from several connections, not from several pipelines
running on one pool: pypsrp's WSMan transport is not safe to share between threads (with
NTLM message encryption every request carries a sequence number, so two threads
interleaving requests break the channel), and one runspace per connection also means one
cloud connection per runspace, which the host keeps between pipelines. A thread may send
the next pipeline before the current one ends (:meth:`Connection.begin`): the host starts
it when the runspace is free, without the round trips in between.

A pipeline is a list of :class:`Step`: scripts with their parameters, sent as statements
of one pipeline (``add_script``, ``add_parameters``, ``add_statement``). Values travel
only as parameters; the scripts are rendered templates.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from toolkit.core.errors import ConnectionFailed, TransportFault
from toolkit.core.pipeline_results import ErrorInfo, PipelineResult, exchange_message_parts

if TYPE_CHECKING:
    from toolkit.core.shell_ledger import ShellLedger


@dataclass(frozen=True)
class Endpoint:
    """Everything needed to open a WSMan connection (resolved from a profile)."""

    url: str
    auth: str
    username: str | None
    password: str | None = field(default=None, repr=False)
    verify_tls: bool = True
    ca_bundle: str | None = None
    encryption: str = "auto"
    certificate_pem: str | None = None
    certificate_key_pem: str | None = None
    operation_timeout: int = 20
    read_timeout: int = 30
    configuration_name: str = "Microsoft.PowerShell"

    @property
    def resource_uri(self) -> str:
        """The WSMan resource of the host's session configuration (its endpoint)."""
        return f"{POWERSHELL_URI_PREFIX}{self.configuration_name}"


@dataclass(frozen=True)
class Step:
    script: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    # For a connect block: the service it connects and when its token expires. Once the
    # pipeline succeeds, the connection remembers that its runspace holds that service.
    connects: tuple[str, float] | None = None


_CATEGORIES = {
    0: "NotSpecified", 1: "OpenError", 2: "CloseError", 3: "DeviceError",
    4: "DeadlockDetected", 5: "InvalidArgument", 6: "InvalidData", 7: "InvalidOperation",
    8: "InvalidResult", 9: "InvalidType", 10: "MetadataError", 11: "NotImplemented",
    12: "NotInstalled", 13: "ObjectNotFound", 14: "OperationStopped", 15: "OperationTimeout",
    16: "SyntaxError", 17: "ParserError", 18: "PermissionDenied", 19: "ResourceBusy",
    20: "ResourceExists", 21: "ResourceUnavailable", 22: "ReadError", 23: "WriteError",
    24: "FromStdErr", 25: "SecurityError", 26: "ProtocolError", 27: "ConnectionError",
    28: "AuthenticationError", 29: "LimitsExceeded", 30: "QuotaExceeded",
    31: "NotEnabled",
}


def plain(value: Any) -> Any:
    """A deserialized PowerShell value as plain Python: objects become dicts."""
    from pypsrp.complex_objects import GenericComplexObject  # once per value, not per node

    def convert(item: Any) -> Any:
        if isinstance(item, GenericComplexObject):
            props = {**item.adapted_properties, **item.extended_properties}
            if not props:
                return item.to_string if item.to_string is not None else str(item)
            return {k: convert(v) for k, v in props.items()}
        if isinstance(item, dict):
            return {str(k): convert(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [convert(v) for v in item]
        return item

    return convert(value)


def _error_info(record: Any) -> ErrorInfo:
    """The exception's own message first: pypsrp's ``message`` is the category line."""
    exception = getattr(record, "exception", None)
    message = None
    exception_type = None
    if exception is not None:
        props = {**getattr(exception, "adapted_properties", {}),
                 **getattr(exception, "extended_properties", {})}
        message = props.get("Message")
        types = getattr(exception, "types", None) or []
        exception_type = types[0].removeprefix("Deserialized.") if types else None
    message = (message or getattr(record, "details_message", None)
               or getattr(record, "message", None))
    named_type, text = exchange_message_parts(str(message or record))
    target = getattr(record, "target_object", None)
    return ErrorInfo(
        message=text,
        error_id=str(getattr(record, "fq_error", "") or ""),
        category=_CATEGORIES.get(getattr(record, "category", 0) or 0),
        target=None if target is None else str(plain(target)),
        exception_type=exception_type,
        reason=(getattr(record, "reason", None)
                or (named_type.rsplit(".", 1)[-1] if named_type else None)),
    )


def _records_text(records: Sequence[Any]) -> list[str]:
    return [str(getattr(r, "message", r)) for r in records]


def _translate(exc: BaseException, endpoint: Endpoint) -> ConnectionFailed:
    """Transport and authentication failures as psbridge errors with a hint (exit 4)."""
    import requests
    from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError

    where = endpoint.url
    if isinstance(exc, requests.exceptions.SSLError) and _cut_off(exc):
        return TransportFault(f"the connection to {where} was cut during the TLS handshake")
    if isinstance(exc, requests.exceptions.SSLError):
        return ConnectionFailed(
            f"TLS verification of {where} failed: {exc}",
            hint="Set ca_bundle in the profile to the CA that signed the host's certificate.",
        )
    if isinstance(exc, requests.exceptions.ConnectionError | ConnectionError):
        unreachable = TransportFault(f"cannot reach the management host at {where}",
                                     hint="Check the endpoint URL, the port and the firewall.")
        unreachable.refused = _refused(exc)
        return unreachable
    if isinstance(exc, requests.exceptions.Timeout):
        return TransportFault(f"the management host at {where} did not answer in time")
    if isinstance(exc, AuthenticationError) or (
        isinstance(exc, WinRMTransportError) and exc.code == 401
    ):
        return ConnectionFailed(
            f"the management host at {where} refused the credentials of "
            f"{endpoint.username or 'the profile'} ({endpoint.auth})",
            hint="Check the username, the password source and the profile's auth method.",
        )
    if isinstance(exc, WinRMTransportError):
        fault = TransportFault if exc.code >= 500 else ConnectionFailed
        return fault(f"the management host at {where} answered HTTP {exc.code}")
    if isinstance(exc, WSManFaultError):
        if exc.code in SHELL_GONE_FAULTS:  # reaped, restarted host: a new shell will do
            return TransportFault(f"the management host at {where} no longer has this "
                                  f"session: {exc.reason or exc.message}")
        return ConnectionFailed(f"the management host at {where} refused the request: "
                                f"{exc.reason or exc.message}")
    return TransportFault(f"lost the connection to {where}: {type(exc).__name__}: {exc}")


def _refused(exc: BaseException, depth: int = 0) -> bool:
    """Whether the connection was refused (nothing listening), not dropped half-way;
    requests nests the cause in ``args`` and ``__context__``."""
    if isinstance(exc, ConnectionRefusedError):
        return True
    if depth > 6:
        return False
    nested = [*(a for a in exc.args if isinstance(a, BaseException)), exc.__cause__,
              exc.__context__, getattr(exc, "reason", None)]
    return any(isinstance(n, BaseException) and _refused(n, depth + 1) for n in nested)


def _cut_off(exc: BaseException, depth: int = 0) -> bool:
    """Whether a TLS failure is a connection cut mid-handshake (a busy or restarting host),
    not a certificate that failed verification; requests nests the cause in ``args``."""
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError | ConnectionResetError):
        return True
    causes = [*exc.args, getattr(exc, "reason", None)] if depth < 6 else []
    return any(isinstance(c, BaseException) and _cut_off(c, depth + 1) for c in causes)


def transport_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the transport failed (retryable), not the script."""
    import requests
    from pypsrp.exceptions import WinRMError

    return (requests.exceptions.RequestException, WinRMError, ConnectionError, OSError)


log = logging.getLogger(__name__)
POWERSHELL_URI_PREFIX = "http://schemas.microsoft.com/powershell/"
# The WSMan fault for a shell the host no longer has (0x8033805B): reconnecting cures it.
SHELL_GONE_FAULTS = frozenset({2150858843})


DELETE_ATTEMPTS = 3


def delete_shell(endpoint: Endpoint, shell_id: str) -> bool:
    """Delete a shell on the host; True once the host confirms it is gone.

    A few tries on fresh transports: a dropped request must not leak the shell, which would
    hold one of the account's few connections until the host's idle timeout.
    """
    from pypsrp.exceptions import WSManFaultError
    from pypsrp.wsman import SelectorSet

    selectors = SelectorSet()
    selectors.add_option("ShellId", shell_id)
    for attempt in range(DELETE_ATTEMPTS):
        wsman = None
        try:
            wsman = _wsman(endpoint)
            wsman.delete(endpoint.resource_uri, selector_set=selectors)
            return True
        except WSManFaultError as fault:
            if fault.code in SHELL_GONE_FAULTS:
                return True
        except Exception as exc:  # any failure: try again, then report False
            log.debug("deleting shell %s (try %d): %s", shell_id, attempt + 1, exc)
        finally:
            if wsman is not None:
                with contextlib.suppress(Exception):
                    wsman.close()
        time.sleep(0.2 * (attempt + 1))
    return False


def _wsman(endpoint: Endpoint) -> Any:
    from pypsrp.wsman import WSMan

    url = urlparse(endpoint.url)
    ssl = url.scheme == "https"
    cert_validation: bool | str = endpoint.verify_tls
    if endpoint.verify_tls and endpoint.ca_bundle:
        cert_validation = endpoint.ca_bundle
    extra: dict[str, Any] = {}
    if endpoint.auth == "certificate":
        extra = {"certificate_pem": endpoint.certificate_pem,
                 "certificate_key_pem": endpoint.certificate_key_pem}
    return WSMan(
        url.hostname or "",
        port=url.port or (5986 if ssl else 5985),
        path=url.path.lstrip("/") or "wsman",
        ssl=ssl,
        auth=endpoint.auth,
        username=endpoint.username,
        password=endpoint.password,
        # pypsrp hands this to requests' verify, which also takes a CA bundle path.
        cert_validation=cert_validation,  # type: ignore[arg-type]
        encryption=endpoint.encryption,
        operation_timeout=endpoint.operation_timeout,
        read_timeout=endpoint.read_timeout,
        no_proxy=True,
        **extra,
    )


class Connection:
    """One WSMan shell with one runspace. Use from one thread at a time."""

    def __init__(self, endpoint: Endpoint, ledger: ShellLedger | None = None):
        from pypsrp.powershell import RunspacePool

        self.endpoint = endpoint
        self._ledger = ledger
        self._record: Path | None = None
        self._closed = False
        try:
            self._wsman = _wsman(endpoint)
            self._pool = RunspacePool(self._wsman, min_runspaces=1, max_runspaces=1,
                                      configuration_name=endpoint.configuration_name)
            self._pool.open()
        except transport_errors() as exc:
            raise _translate(exc, endpoint) from exc
        if ledger is not None:
            self._record = ledger.add(endpoint, str(self._pool.id))
        log.info("opened a runspace pool on %s as %s", endpoint.url, endpoint.username)
        self.services: dict[str, float] = {}  # service -> token expiry, held by the runspace

    def holds(self, service: str, *, margin: float = 300.0) -> bool | None:
        """True: connected with a token valid for ``margin`` more seconds; False: connected,
        but the token is about to expire; None: not connected."""
        expiry = self.services.get(service)
        if expiry is None:
            return None
        return expiry - time.time() > margin

    @property
    def closed(self) -> bool:
        return self._closed

    def run(self, steps: Sequence[Step], *, input_objects: Sequence[Any] | None = None
            ) -> PipelineResult:
        """Run the steps as one pipeline and collect every stream."""
        return self.begin(steps, input_objects=input_objects).result()

    def begin(self, steps: Sequence[Step], *, input_objects: Sequence[Any] | None = None
              ) -> Running:
        """Send the steps as one pipeline; :meth:`Running.result` collects it.

        A pipeline sent while another still runs waits on the host until the runspace is
        free (a runspace pool queues what its runspaces cannot take yet), so it starts
        without a round trip. Never raises: a failure to send is raised by
        :meth:`Running.result`, like one while receiving.
        """
        from pypsrp.powershell import PowerShell

        shell = PowerShell(self._pool)
        for index, step in enumerate(steps):
            if index:
                shell.add_statement()
            shell.add_script(step.script)
            if step.parameters:
                shell.add_parameters(dict(step.parameters))
        running = Running(self, steps, shell)
        try:
            # pypsrp sends each item of a list as one pipeline input object.
            objects = list(input_objects) if input_objects else None
            shell.begin_invoke(input=objects)  # type: ignore[arg-type]
        except transport_errors() as exc:
            running.fault = _translate(exc, self.endpoint)
        return running

    def versions(self) -> dict[str, str | None]:
        """What the host announced when the pool opened (PowerShell and PSRP versions)."""
        return {"powershell": self._pool.ps_version,
                "protocol": self._pool.protocol_version,
                "serialization": self._pool.serialization_version}

    def close(self) -> None:
        """Delete the shell; the ledger forgets it only once the host confirmed.

        Never raises: closing a dead connection must not mask the error that killed it.
        """
        from pypsrp.powershell import RunspacePoolState

        if self._closed:
            return
        self._closed = True
        closed = False
        if self._pool.state == RunspacePoolState.OPENED:
            with contextlib.suppress(Exception):
                self._pool.close()
                closed = True
        if not closed:  # a failed or broken close: delete the shell itself
            closed = delete_shell(self.endpoint, str(self._pool.id))
        if self._record is None or self._ledger is None:
            return
        if closed:
            self._record.unlink(missing_ok=True)
        else:
            log.warning("could not close shell %s on %s; it is recorded and closed later",
                        self._pool.id, self.endpoint.url)
            self._ledger.abandon(self._record)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Running:
    """A pipeline sent to a connection's runspace (:meth:`Connection.begin`)."""

    def __init__(self, connection: Connection, steps: Sequence[Step], shell: Any):
        self.connection = connection
        self.steps = steps
        self.fault: ConnectionFailed | None = None  # sending it failed
        self._shell = shell
        self._started = time.monotonic()

    def result(self, on_output: Callable[[list[Any]], None] | None = None) -> PipelineResult:
        """Wait for the pipeline's end and collect every stream; ``on_output`` gets the
        output objects of each answer from the host as it arrives."""
        from pypsrp.complex_objects import PSInvocationState

        if self.fault is not None:
            raise self.fault
        if self.connection.closed:
            raise TransportFault("the connection was closed before the pipeline's answer "
                                 "came back")
        shell = self._shell
        output: list[Any] = []  # converted as it arrives
        try:
            while shell.state == PSInvocationState.RUNNING:
                shell.poll_invoke()
                if len(shell.output) > len(output):
                    arrived = [plain(o) for o in shell.output[len(output):]]
                    output += arrived
                    if on_output is not None:
                        on_output(arrived)
        except transport_errors() as exc:
            raise _translate(exc, self.connection.endpoint) from exc
        if shell.state != PSInvocationState.FAILED:
            for step in self.steps:
                if step.connects is not None:
                    self.connection.services[step.connects[0]] = step.connects[1]
        streams = shell.streams
        return PipelineResult(
            output=output,
            errors=[_error_info(e) for e in streams.error],
            warnings=_records_text(streams.warning),
            verbose=_records_text(streams.verbose),
            information=[str(getattr(r, "message_data", r)) for r in streams.information],
            failed=shell.state == PSInvocationState.FAILED,
            duration=time.monotonic() - self._started,
        )
