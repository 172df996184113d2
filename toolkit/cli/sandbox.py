"""``psbridge sandbox``: run the embedded sandbox management host."""

from __future__ import annotations

import contextlib
import ipaddress
import sys
import time
from pathlib import Path
from typing import Any

import click

from toolkit.api.sandbox import (
    DEFAULT_HTTP_PORT,
    DEFAULT_HTTPS_PORT,
    RunningSandbox,
    approve_sign_in,
    start_sandbox,
    stop_shared_sandbox,
    write_sandbox_profile,
)


@click.group()
def sandbox() -> None:
    """The embedded sandbox: a WSMan/PSRP management host with an emulated tenant.

    It speaks the same protocol as a Windows management host, so every psbridge command
    (and any pypsrp script) can run against it on a laptop with no tenant at all.
    """


@sandbox.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback exposes the sandbox.")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help=f"Port (default {DEFAULT_HTTP_PORT}, or {DEFAULT_HTTPS_PORT} with --https; "
              "0 picks a free one).")
@click.option("--https", "use_https", is_flag=True,
              help="Serve over TLS with a certificate the sandbox generates (and its CA); "
              "also serves the identity platform (OAuth sign-in) on the same port.")
@click.option("--state", type=click.Path(dir_okay=False, path_type=Path),
              help="Persist the tenant to this file after every change and reload it on start.")
@click.option("--seed", metavar="demo|FILE.json",
              help="Tenants to load: 'demo' for the built-in demo tenants, or a seed JSON file.")
@click.option("--username", default=None, help="Admin account to create (default sandbox-admin).")
@click.option("--password", default=None,
              help="Its password (default: a random one, printed at start).")
@click.option("--latency-ms", type=click.IntRange(0), default=0, show_default=True,
              help="Delay every HTTP response by this much (a WAN to the management host).")
@click.option("--cmdlet-ms", type=click.IntRange(0), default=0, show_default=True,
              help="Time each emulated cmdlet takes (the service behind it), counted "
                   "from when the pipeline's previous call was due to end. The emulator's "
                   "own time in between counts toward it (a real host runs those script "
                   "lines in a fraction of a millisecond); time spent waiting on the "
                   "client does not.")
@click.option("--fault-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of requests that fail with HTTP 500 or a dropped connection.")
@click.option("--throttle-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of cmdlet calls that fail as throttled Exchange calls do.")
@click.option("--throttle-retry-s", type=click.IntRange(1, 3600), default=30, show_default=True,
              help="Longest Retry-After a throttled call asks for (each asks 2s up to this).")
@click.option("--random-seed", type=int, default=None,
              help="Seed for every random choice (faults, throttling), for repeatable runs.")
@click.option("--command-log", type=click.Path(dir_okay=False, path_type=Path),
              help="Append one JSON line per executed emulated cmdlet to this file.")
@click.option("--mailbox-delay-s", type=click.FloatRange(0), default=None,
              help="How long a new mailbox takes to appear after its licence.")
@click.option("--migration-speed", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Emulated service seconds per real second in IMAP migrations "
              "(default 1; 60 makes an hour of syncing take a minute).")
@click.option("--host-module", "host_modules", multiple=True, metavar="NAME=VERSION",
              help="Emulate a host with this version of a module installed (repeatable), "
              "for trying 'psbridge profile test'.")
@click.option("--without-module", "without_modules", multiple=True, metavar="NAME",
              help="Emulate a host that lacks this module (repeatable).")
@click.option("--write-profile", metavar="NAME",
              help="Add or replace psbridge profile NAME in the config file, pointing at this "
              "sandbox (implies --https).")
@click.pass_obj
def serve(app: Any, host: str, port: int | None, use_https: bool, state: Path | None,
          seed: str | None, username: str | None, password: str | None, latency_ms: int,
          cmdlet_ms: int,
          fault_rate: float, throttle_rate: float, throttle_retry_s: int,
          random_seed: int | None,
          command_log: Path | None, mailbox_delay_s: float | None,
          migration_speed: float | None, host_modules: tuple[str, ...],
          without_modules: tuple[str, ...], write_profile: str | None) -> None:
    """Serve the sandbox until interrupted (Ctrl-C)."""
    use_https = use_https or write_profile is not None
    modules = _module_versions(host_modules)
    if not _is_loopback(host):
        click.secho(f"warning: listening on {host}: other machines can reach this sandbox.",
                    fg="yellow", err=True)
    running = start_sandbox(
        host=host, port=port, https=use_https, state=state, seed=seed, username=username,
        password=password, latency_ms=latency_ms, cmdlet_ms=cmdlet_ms, fault_rate=fault_rate,
        throttle_rate=throttle_rate, throttle_retry_s=throttle_retry_s,
        random_seed=random_seed, command_log=command_log, mailbox_delay_s=mailbox_delay_s,
        migration_speed=migration_speed, host_modules=modules,
        without_modules=without_modules, serving_process=True)
    try:
        profile_path = write_sandbox_profile(write_profile, running) if write_profile else None
        if app is not None and app.output != "table":
            _print_connection(app, running, write_profile, profile_path)
        else:
            _print_banner(running, write_profile, profile_path)
        _wait_for_interrupt()
    finally:
        running.stop()
    click.echo("sandbox stopped", err=app is not None and app.output != "table")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _wait_for_interrupt() -> None:
    """Block until Ctrl-C or SIGTERM (the CLI's handler turns SIGTERM into
    KeyboardInterrupt). Not an Event set by a signal handler: the signal can land while the
    main thread holds that Event's lock inside its own wait, and the set() never returns."""
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


def _print_connection(app: Any, running: RunningSandbox, profile: str | None,
                      profile_path: Path | None) -> None:
    """How to connect, with -o json or csv: one record, printed at once and flushed."""
    from toolkit.cli.output import emit

    record = {"url": running.url, "host": running.host, "port": running.port,
              "https": running.https, "username": running.username,
              "password": running.password,
              "ca_cert": str(running.ca_cert) if running.ca_cert else None,
              "profile": profile, "profile_path": str(profile_path) if profile_path else None}
    emit(app, [record], list(record), stream=sys.stdout)
    sys.stdout.flush()


def _print_banner(running: RunningSandbox, profile: str | None,
                  profile_path: Path | None) -> None:
    click.echo(f"psbridge sandbox listening on {running.url}")
    click.echo(f"  account   {running.username} / {running.password} (admin)")
    tls = ""
    if running.ca_cert is not None:
        click.echo(f"  CA cert   {running.ca_cert}")
        click.echo(f"  sign-in   {running.url.removesuffix('/wsman')}/<tenant>/v2.0 "
                   "(Microsoft identity platform endpoints)")
        tls = f', cert_validation="{running.ca_cert}"'
    else:
        click.echo("  sign-in   not served: the identity platform needs --https")
    click.echo("Connect with pypsrp:")
    click.echo(f'  WSMan("{running.host}", port={running.port}, ssl={running.https}, '
               f'auth="ntlm", username="{running.username}", password="..."{tls})')
    if profile:
        click.echo(f"Profile '{profile}' written to {profile_path}:")
        click.echo(f"  psbridge --profile {profile} profile show")
    click.echo("Press Ctrl-C to stop.")


def _module_versions(items: tuple[str, ...]) -> dict[str, str]:
    """``--host-module NAME=VERSION`` options as a mapping (the last one of a name wins)."""
    modules: dict[str, str] = {}
    for item in items:
        name, sep, version = item.partition("=")
        if not sep or not name or not version:
            raise click.BadParameter(f"{item!r}: expected NAME=VERSION",
                                     param_hint="--host-module")
        modules[name] = version
    return modules


@sandbox.command()
@click.argument("code")
@click.pass_obj
def approve(app: Any, code: str) -> None:
    """Approve a device-code sign-in waiting on a running sandbox.

    A profile with delegated sign-in (`delegated = true` under [profiles.NAME.exchange])
    prints "enter the code XXXX"; approve it from another terminal as the profile's sandbox
    account, which becomes the signed-in user:

    \b
      psbridge sandbox serve --write-profile lab        # terminal 1
      psbridge --profile lab-delegated task run ...      # terminal 2: prints a code
      psbridge --profile lab sandbox approve ABCD-EFGH   # terminal 3
    """
    from toolkit.cli.output import outcome

    approval = approve_sign_in(code, app.profile_name if app is not None else None)
    outcome(app, f"approved {approval.user_code} as {approval.account}",
            {"approved": approval.user_code, "account": approval.account})


@sandbox.command()
@click.pass_obj
def stop(app: Any) -> None:
    """Stop the embedded sandbox that commands on the `sandbox` profile share.

    The first command on the default `sandbox` profile starts one sandbox server for the data
    folder and later commands reuse it, so commands running at the same time see each
    other's changes. It ends by itself after 15 minutes without a request
    (PSBRIDGE_SANDBOX_IDLE_S sets the seconds); this ends it now. The tenant is kept
    (under the data folder's sandbox/state.json) and the next command starts it again.
    """
    from toolkit.cli.output import outcome

    stopped = stop_shared_sandbox()
    outcome(app, "no embedded sandbox is running for this data folder" if stopped is None
            else f"stopped the embedded sandbox at {stopped.url} (pid {stopped.pid})",
            {"stopped": stopped is not None, "url": stopped.url if stopped else None,
             "pid": stopped.pid if stopped else None})
