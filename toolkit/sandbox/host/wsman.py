"""The WSMan actions pypsrp uses, on the shells (runspace pools) of the sandbox host.

Each action reads a :class:`WSManRequest` and returns the response envelope, or raises a
:class:`WSManFault`. Every shell belongs to the account that created it: other accounts
are refused, and Enumerate lists only the caller's own.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
import uuid
from collections.abc import Callable

from toolkit.sandbox.host import faults, soap
from toolkit.sandbox.host.faults import WSManFault
from toolkit.sandbox.host.runspace_pool import FRAGMENT_SIZE, HostedPool
from toolkit.sandbox.host.soap import NS, WSManRequest, element
from toolkit.sandbox.interface import Backend, SessionContext

POWERSHELL_URI_PREFIX = "http://schemas.microsoft.com/powershell/"
# Windows PowerShell's default endpoint and the one PowerShell 7 registers
# (Enable-PSRemoting in PowerShell 7 creates "PowerShell.7"); the sandbox serves both alike.
SUPPORTED_CONFIGURATIONS = {"microsoft.powershell", "powershell.7"}
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
COMMAND_URI = SHELL_URI + "/Command"
CONFIG_URI = "http://schemas.microsoft.com/wbem/wsman/1/config"
STOP_SIGNALS = {"powershell/signal/ctrl_c", SHELL_URI + "/signal/ctrl_c"}
TERMINATE_SIGNAL = SHELL_URI + "/signal/terminate"
MAX_ENVELOPE_SIZE_KB = 500
IDLE_TIMEOUT_SECONDS = 7200.0
"""How long a shell nobody uses lives, unless its client asked for less (WinRM's default)."""
MIN_IDLE_TIMEOUT_SECONDS = 60.0
_TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
_ENUMERATION = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/"
_SHELL_ACTION = SHELL_URI + "/"
_ENVELOPE_OVERHEAD = 4096


def _decode(text: str | None, what: str) -> bytes:
    try:
        return base64.b64decode(text or "", validate=True)
    except binascii.Error:
        raise faults.invalid_message(f"{what} is not base64") from None


class WSManService:
    """Dispatches WSMan requests of authenticated callers to their runspace pools."""

    def __init__(self, backend: Backend, machine: str = "localhost"):
        self.machine = machine
        self._backend = backend
        self._pools: dict[str, HostedPool] = {}
        self._lock = threading.Lock()
        self._actions: dict[str, Callable[[WSManRequest, SessionContext, str], str]] = {
            _TRANSFER + "Create": self._create,
            _TRANSFER + "Delete": self._delete,
            _TRANSFER + "Get": self._get,
            _ENUMERATION + "Enumerate": self._enumerate,
            _SHELL_ACTION + "Command": self._command,
            _SHELL_ACTION + "Send": self._send,
            _SHELL_ACTION + "Receive": self._receive,
            _SHELL_ACTION + "Signal": self._signal,
        }

    def handle(self, request: WSManRequest, context: SessionContext, client_ip: str) -> bytes:
        """The response envelope for ``request``; faults are raised as :class:`WSManFault`."""
        action = self._actions.get(request.action)
        if action is None:
            name = request.action.rsplit("/", 1)[-1]
            raise faults.unsupported(f"the WSMan action {name}")
        body = action(request, context, client_ip)
        return soap.response(request.action + "Response", request.message_id, body)

    def close(self) -> None:
        """Close every pool (server shutdown)."""
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()

    # -- helpers ------------------------------------------------------------------------------

    def _pool(self, request: WSManRequest, context: SessionContext) -> HostedPool:
        shell_id = soap.require_selector(request, "ShellId").upper()
        with self._lock:
            pool = self._pools.get(shell_id)
        if pool is None:
            raise faults.shell_not_found(shell_id)
        if pool.context.account.casefold() != context.account.casefold():
            raise WSManFault(
                faults.ACCESS_DENIED,
                f"Access is denied: the shell {shell_id} belongs to another account.",
                "w:AccessDenied",
            )
        return pool

    def _reap_idle(self) -> None:
        """Close pools whose client went away without closing them (WinRM's IdleTimeOut)."""
        now = time.monotonic()
        with self._lock:
            idle = [p for p in self._pools.values() if now - p.last_activity > p.idle_timeout]
            for pool in idle:
                del self._pools[pool.shell_id]
        for pool in idle:
            pool.close()

    def _shell_xml(self, pool: HostedPool) -> str:
        run_time = time.monotonic() - pool.created
        inactivity = time.monotonic() - pool.last_activity
        return (
            "<rsp:Shell>"
            + element("rsp:ShellId", pool.shell_id)
            + element("rsp:ResourceUri", pool.resource_uri)
            + element("rsp:Owner", pool.context.account)
            + element("rsp:ClientIP", pool.client_ip)
            + element("rsp:IdleTimeOut", soap.format_duration(pool.idle_timeout))
            + element("rsp:InputStreams", "stdin pr")
            + element("rsp:OutputStreams", "stdout")
            + element("rsp:ShellRunTime", soap.format_duration(run_time))
            + element("rsp:ShellInactivity", soap.format_duration(inactivity))
            + element("rsp:State", "Connected")
            + "</rsp:Shell>"
        )

    # -- actions ------------------------------------------------------------------------------

    def _create(self, request: WSManRequest, context: SessionContext, client_ip: str) -> str:
        resource_uri = request.resource_uri
        configuration = resource_uri[len(POWERSHELL_URI_PREFIX):]
        if not resource_uri.startswith(POWERSHELL_URI_PREFIX) or (
            configuration.casefold() not in SUPPORTED_CONFIGURATIONS
        ):
            raise WSManFault(
                faults.INVALID_RESOURCE_URI,
                f"The WS-Management service cannot process the request. Cannot find the "
                f"{configuration or resource_uri} session configuration; the sandbox serves "
                "Microsoft.PowerShell and PowerShell.7 only.",
                "w:InvalidResourceURI",
            )
        shell = request.find("rsp:Shell")
        creation = request.find("rsp:Shell/ps:creationXml")
        if shell is None or creation is None:
            raise faults.invalid_message("Create needs a Shell with creationXml")
        shell_id = (shell.get("ShellId") or str(uuid.uuid4())).upper()
        self._reap_idle()
        pool = HostedPool(shell_id, resource_uri, context, self._backend, client_ip)
        requested = request.find("rsp:Shell/rsp:IdleTimeOut")
        pool.idle_timeout = IDLE_TIMEOUT_SECONDS
        if requested is not None and requested.text:
            asked = soap.parse_duration(requested.text)
            pool.idle_timeout = min(max(asked, MIN_IDLE_TIMEOUT_SECONDS), IDLE_TIMEOUT_SECONDS)
        with self._lock:
            if shell_id in self._pools:
                raise WSManFault(
                    faults.INVALID_SELECTORS,
                    f"A shell with ShellId {shell_id} already exists.",
                    "w:AlreadyExists",
                )
            self._pools[shell_id] = pool
        try:
            pool.open(_decode(creation.text, "creationXml"))
        except Exception:
            with self._lock:
                self._pools.pop(shell_id, None)
            raise
        return (
            "<x:ResourceCreated>"
            + element("a:Address", request.to or "")
            + "<a:ReferenceParameters>"
            + element("w:ResourceURI", resource_uri)
            + "<w:SelectorSet>"
            + element("w:Selector", shell_id, Name="ShellId")
            + "</w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>"
            + self._shell_xml(pool)
        )

    def _delete(self, request: WSManRequest, context: SessionContext, client_ip: str) -> str:
        pool = self._pool(request, context)
        with self._lock:
            self._pools.pop(pool.shell_id, None)
        pool.close()
        return ""

    def _get(self, request: WSManRequest, context: SessionContext, client_ip: str) -> str:
        if request.resource_uri.rstrip("/").casefold() == CONFIG_URI:
            return (
                "<cfg:Config>"
                + element("cfg:MaxEnvelopeSizekb", str(MAX_ENVELOPE_SIZE_KB))
                + element("cfg:MaxTimeoutms", "60000")
                + "</cfg:Config>"
            )
        return self._shell_xml(self._pool(request, context))

    def _enumerate(self, request: WSManRequest, context: SessionContext, client_ip: str) -> str:
        resource = request.resource_uri.rstrip("/").casefold()
        if resource == COMMAND_URI.casefold():
            shell_selector = request.find(
                "n:Enumerate/w:Filter/w:SelectorSet/w:Selector[@Name='ShellId']"
            )
            if shell_selector is None:
                raise faults.invalid_message("enumerating commands needs a ShellId filter")
            request.selectors["ShellId"] = shell_selector.text or ""
            pool = self._pool(request, context)
            items = "".join(
                "<rsp:Command>" + element("rsp:CommandId", command_id) + "</rsp:Command>"
                for command_id in pool.command_ids()
            )
        elif resource == SHELL_URI:
            with self._lock:
                pools = list(self._pools.values())
            account = context.account.casefold()
            own = [pool for pool in pools if pool.context.account.casefold() == account]
            items = "".join(self._shell_xml(pool) for pool in own)
        else:
            raise faults.unsupported(f"enumerating {request.resource_uri}")
        return (
            "<n:EnumerateResponse><n:EnumerationContext/>"
            f"<w:Items>{items}</w:Items><w:EndOfSequence/></n:EnumerateResponse>"
        )

    def _command(self, request: WSManRequest, context: SessionContext, client_ip: str) -> str:
        pool = self._pool(request, context)
        command_line = request.find("rsp:CommandLine")
        if command_line is None:
            raise faults.invalid_message("Command needs a CommandLine")
        command_id = (command_line.get("CommandId") or str(uuid.uuid4())).upper()
        arguments = command_line.find("rsp:Arguments", NS)
        fragment = _decode(arguments.text if arguments is not None else "", "Arguments")
        pool.add_pipeline(command_id, fragment)
        return f"<rsp:CommandResponse>{element('rsp:CommandId', command_id)}</rsp:CommandResponse>"

    def _send(self, request: WSManRequest, context: SessionContext, client_ip: str) -> str:
        pool = self._pool(request, context)
        for stream in request.body.iterfind("rsp:Send/rsp:Stream", NS):
            command_id = stream.get("CommandId")
            pool.send(
                _decode(stream.text, "Stream"),
                command_id.upper() if command_id else None,
                stream.get("Name", "stdin"),
            )
        return "<rsp:SendResponse/>"

    def _receive(self, request: WSManRequest, context: SessionContext, client_ip: str) -> str:
        pool = self._pool(request, context)
        desired = request.find("rsp:Receive/rsp:DesiredStream")
        command_id = desired.get("CommandId") if desired is not None else None
        command_id = command_id.upper() if command_id else None
        budget = max(FRAGMENT_SIZE, (request.max_envelope_size - _ENVELOPE_OVERHEAD) * 3 // 4)
        result = pool.receive(command_id, request.operation_timeout, budget)
        attributes = {"CommandId": command_id} if command_id else {}
        body = "<rsp:ReceiveResponse>"
        if result.data:
            encoded = base64.b64encode(result.data).decode()
            body += element("rsp:Stream", encoded, Name="stdout", **attributes)
        if command_id:
            state = "Done" if result.done else "Running"
            state_uri = f"{SHELL_URI}/CommandState/{state}"
            body += element("rsp:CommandState", CommandId=command_id, State=state_uri)
        return body + "</rsp:ReceiveResponse>"

    def _signal(self, request: WSManRequest, context: SessionContext, client_ip: str) -> str:
        pool = self._pool(request, context)
        signal = request.find("rsp:Signal")
        code = request.find("rsp:Signal/rsp:Code")
        command_id = (signal.get("CommandId") or "").upper() if signal is not None else ""
        if not command_id or code is None:
            raise faults.invalid_message("Signal needs a CommandId and a Code")
        code_text = (code.text or "").strip()
        if code_text in STOP_SIGNALS:
            pool.stop_pipeline(command_id)
        elif code_text.casefold() == TERMINATE_SIGNAL:
            pool.terminate_pipeline(command_id)
        else:
            raise faults.unsupported(f"the signal {code_text}")
        return "<rsp:SignalResponse/>"
