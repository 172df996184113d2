"""Signing in to the cloud services: app-only and device code, through msal, for real."""

from __future__ import annotations

import json
import stat
import tomllib
from pathlib import Path
from typing import Any

from e2e_cli import Cli, delegated_copy, rows_csv, start_device_code_sign_in

from toolkit.core import config
from toolkit.sandbox.tenant import demo


def test_device_code_sign_in_approved_from_another_terminal(  # type: ignore[no-untyped-def]
        cli: Cli, serve, isolated_home: Path) -> None:
    serve()
    delegated_copy(isolated_home / "config.toml", "lab", "agent")
    sign_in = start_device_code_sign_in(cli, "--profile", "agent", "task", "run",
                                        "exchange/list-mailboxes", "--param",
                                        "RecipientTypeDetails=SharedMailbox")
    approved = cli.json("--profile", "lab", "sandbox", "approve", sign_in.code)
    assert approved == [{"approved": sign_in.code, "account": "sandbox-admin"}]
    exit_code, output = sign_in.finish()
    assert exit_code == 0, output
    assert "sales@contoso.com" in output
    cache = isolated_home / "data" / "token-cache.bin"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    # The next command reuses the cached sign-in: no code this time.
    again = cli("--profile", "agent", "task", "run", "exchange/list-mailboxes", check=0)
    assert "sandbox approve" not in again.stderr


def test_approve_refuses_an_unknown_code(cli: Cli, serve) -> None:  # type: ignore[no-untyped-def]
    serve()
    refused = cli("--profile", "lab", "sandbox", "approve", "NOPE-NOPE", check=2)
    assert "refused to approve NOPE-NOPE" in refused.stderr


def test_wrong_app_secret_is_a_sign_in_failure(cli: Cli, serve, isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    serve()
    settings = tomllib.loads((isolated_home / "config.toml").read_text())["profiles"]["lab"]
    secret = isolated_home / "wrong-secret"
    secret.write_text("not-the-secret")
    secret.chmod(0o600)
    settings["exchange"]["client_secret_file"] = str(secret)
    config.write_profile("bad", settings, isolated_home / "config.toml")
    failed = cli("--profile", "bad", "task", "run", "exchange/list-mailboxes", check=4)
    assert "sign-in to exchange" in failed.stderr and "invalid_client" in failed.stderr
    assert "not-the-secret" not in failed.stderr


def test_app_only_sign_in_with_a_certificate(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path, isolated_home: Path) -> None:
    """The scheduled-job path: client credentials with a certificate, no secret anywhere."""
    from toolkit.sandbox.identity.certs import make_app_certificate

    certificate = make_app_certificate("psbridge nightly audit")
    seed = demo.demo_seed()
    app_id = "6a1c1d5e-2f7b-4c1e-9d0a-5b3e8f2c7a91"
    seed["apps"].append({"client_id": app_id, "certificate_pem": certificate.certificate_pem,
                         "tenants": [demo.CONTOSO], "roles": ["Exchange.ManageAsApp"]})
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(seed))
    sandbox = serve(seed=str(seed_file))
    pem = tmp_path / "app.pem"
    pem.write_text(certificate.private_key_pem + certificate.certificate_pem)
    pem.chmod(0o600)
    settings: dict[str, Any] = tomllib.loads(
        (isolated_home / "config.toml").read_text())["profiles"]["lab"]
    settings["exchange"] = {"organization": demo.CONTOSO,
                            "authority": settings["exchange"]["authority"],
                            "app_id": app_id, "certificate_path": str(pem)}
    settings.pop("graph", None)
    config.write_profile("nightly", settings, isolated_home / "config.toml")
    shared = cli.json("--profile", "nightly", "task", "run", "exchange/list-mailboxes",
                      "--param", "RecipientTypeDetails=SharedMailbox")
    assert "info@contoso.com" in {m["PrimarySmtpAddress"] for m in shared}
    # The access token went to Connect-ExchangeOnline as a parameter; nothing kept it.
    (connect,) = sandbox.commands("Connect-ExchangeOnline")
    assert connect["ok"] and "eyJ" not in json.dumps(connect)
    source = rows_csv(tmp_path / "rows.csv", "Mailbox,Value", ["info@contoso.com,nightly"])
    cli("--profile", "nightly", "task", "run", "custom/set-attribute", "--csv", str(source),
        check=0)
    stores = list((isolated_home / "data").glob("jobs.sqlite3*"))  # with its WAL, if any
    assert isolated_home / "data" / "jobs.sqlite3" in stores
    assert not [store for store in stores if b"eyJ" in store.read_bytes()]



def test_an_identity_platform_that_keeps_failing_is_exit_4_with_the_reason(  # type: ignore[no-untyped-def]
        cli: Cli, serve, isolated_home: Path) -> None:
    """HTTP 5xx and dropped connections from the identity platform are tried again (issue
    19, item 2); when they go on, the command exits 4 naming the platform and its failure,
    never with an internal error: at the tenant lookup, and at the token request once the
    tenant's id is known from an earlier run."""
    serve()
    down = serve("--fault-rate", "1.0", "--write-profile", "down")  # every request fails
    profiles = tomllib.loads((isolated_home / "config.toml").read_text())["profiles"]
    authority = profiles["down"]["exchange"]["authority"]
    settings = profiles["lab"]
    for service in ("exchange", "graph"):
        settings[service]["authority"] = authority
    config.write_profile("flaky", settings, isolated_home / "config.toml")
    command = ("--profile", "flaky", "task", "run", "exchange/list-mailboxes")
    lookup = cli(*command, check=4)
    assert f"the identity platform {authority} kept failing" in lookup.stderr
    assert "after 5 tries" in lookup.stderr and "internal error" not in lookup.stderr
    assert "".join(down.output).count("injected fault") >= 5
    known = {f"{authority.rstrip('/')}|{demo.CONTOSO}": demo.CONTOSO_ID}
    (isolated_home / "data" / "tenant-ids.json").write_text(json.dumps(known))
    token = cli(*command, check=4)
    assert "cannot sign in to exchange" in token.stderr
    assert "kept failing" in token.stderr and "after 5 tries" in token.stderr
    assert "internal error" not in token.stderr
