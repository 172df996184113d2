"""``migrate imap test``: can Exchange Online reach an IMAP server, and do a user's
credentials sign in there (checked from this machine, or at the sandbox's IMAP listener
when the target is the sandbox)."""

from __future__ import annotations

from toolkit.api.migration_results import ServerCheck, SourceServer
from toolkit.core.errors import InputError, PartialFailure
from toolkit.core.target import Target
from toolkit.core.templates import TemplateCatalog

TEST_TEMPLATE = "exchange/migration-server-test"


def source_server(host: str, port: int = 993, security: str = "ssl") -> SourceServer:
    """The IMAP server for ``host``: a POP host of a known provider becomes its IMAP host
    (on that provider's port and security); an unknown POP host is refused."""
    from toolkit.tasks.migration.hosts import Server, UnknownPopHost, imap_host_for

    try:
        imap, was_pop = imap_host_for(host)
    except UnknownPopHost as exc:
        raise InputError(str(exc), hint="Give the provider's IMAP server.") from None
    if was_pop:
        return SourceServer(Server(imap), host)
    return SourceServer(Server(imap, port, security))


def check_server(target: Target, catalog: TemplateCatalog, source: SourceServer,
                user: str | None = None, password: str | None = None) -> list[ServerCheck]:
    """Exchange Online's Test-MigrationServerAvailability, then (with ``user`` and
    ``password``) an IMAP sign-in. Raises :class:`PartialFailure` at the first check that
    fails; returns the checks that passed."""
    from toolkit.tasks.migration.reads import run_template

    server = source.server
    with target.open_connection() as connection:
        result = run_template(target, catalog, connection, TEST_TEMPLATE,
                              {"RemoteServer": server.host, "Port": server.port,
                               "Security": server.exchange_security})
    answer = result.output[0] if result.output else {}
    if str(answer.get("Result")) != "Success":
        detail = answer.get("ErrorDetail") or answer.get("Message") or "no answer"
        raise PartialFailure(f"{server}: Exchange Online cannot reach it: {detail}",
                             hint="Check the host name, port and security (993/SSL or "
                             "143/TLS).")
    checks = [ServerCheck(str(server), "reachable from Exchange Online")]
    if user is not None and password is not None:
        where = _sign_in(target, server.host, server.port, server.security, user, password)
        checks.append(ServerCheck(str(server), f"{user} signed in {where}"))
    return checks


def _sign_in(target: Target, host: str, port: int, security: str, user: str,
             password: str) -> str:
    """Sign ``user`` in where the check belongs; returns where that was."""
    from toolkit.core.imap_probe import ImapLoginFailed, imap_login

    where = "from this machine"
    address: tuple[str, int, str | None] = (host, port, None)
    if target.profile.is_sandbox:  # the sandbox plays the source: sign in where EXO would
        from toolkit.core.sandbox_plugin import sandbox_plugin
        from toolkit.core.target import sandbox_dir

        record = sandbox_plugin().read_record(sandbox_dir())
        if record is not None and security in record.imap_ports:
            address = ("127.0.0.1", record.imap_ports[security], record.ca_cert)
            where = "from Exchange Online (the sandbox's IMAP listener)"
    try:
        imap_login(address[0], address[1], security, user, password, ca_file=address[2])
    except ImapLoginFailed as exc:
        raise PartialFailure(str(exc).replace(str(address[0]), host),
                             hint="For Gmail, use an app password (2-step verification "
                             "on).") from None
    return where
