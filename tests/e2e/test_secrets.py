"""No secret leaves where it belongs, at any verbosity, in any output format.

One session does what the secrets travel through: an app-only sign-in (the app secret,
the access token), a migration with source passwords in its CSV and an activation that
hands out temporary passwords, each at ``-vv`` with ``--output json``. Then every place a
user or a log collector could read is searched: stdout, stderr, the job store and its WAL,
results files, reports, the token cache and the sandbox's command log.
"""

from __future__ import annotations

import csv
import json
import re
import stat
import subprocess
import tomllib
from pathlib import Path

from e2e_cli import Cli, rows_csv

# The demo's Gmail accounts take first-app-pw-2024 (toolkit/sandbox/tenant/demo.py);
# Lynne's is wrong on purpose: a failed row must not leak its password either.
SOURCE_PASSWORDS = {"adele.vance": "adele-app-pw-2024", "alex.wilber": "alex-app-pw-2024",
                    "lynne.robbins": "lynne-0ld-pa$$word"}
HIRES = ("UserPrincipalName,DisplayName,FirstName,LastName,UsageLocation,Licenses,Aliases",
         ["nora.ahmed@contoso.com,,,,,ENTERPRISEPACK,",
          "new.hire@contoso.com,New Hire,New,Hire,US,ENTERPRISEPACK,"])
JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}")


def profile_secrets(config_path: Path) -> tuple[list[str], list[Path]]:
    """The lab profile's secrets (account password, app secrets) and the files holding them."""
    profile = tomllib.loads(config_path.read_text())["profiles"]["lab"]
    files = [Path(profile["password_file"])]
    files += [Path(profile[service]["client_secret_file"]) for service in ("exchange", "graph")
              if "client_secret_file" in profile.get(service, {})]
    secrets = [f.read_text().strip() for f in files]
    assert len(secrets) >= 2 and all(len(s) >= 8 for s in secrets), "no app secret found"
    return secrets, files


def test_no_secret_reaches_output_logs_store_results_reports_or_command_log(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path, isolated_home: Path) -> None:
    sandbox = serve("--migration-speed", "20")
    secrets, secret_files = profile_secrets(isolated_home / "config.toml")
    printed: list[str] = []

    def run(*args: str, check: int) -> subprocess.CompletedProcess[str]:
        result = cli("--profile", "lab", "-vv", "--output", "json", *args, check=check)
        printed.extend([result.stdout, result.stderr])
        return result

    signed_in = run("task", "run", "exchange/list-mailboxes", "--param",
                    "RecipientTypeDetails=SharedMailbox", check=0)
    assert "sales@contoso.com" in signed_in.stdout
    assert "'AccessToken': '<secret, not shown>'" in signed_in.stderr  # -vv logs it masked

    migration = rows_csv(tmp_path / "imap.csv", "EmailAddress,UserName,Password", [
        f"{name}@contoso.com,{name}.contoso@gmail.com,{password}"
        for name, password in SOURCE_PASSWORDS.items()])
    run("migrate", "imap", "start", str(migration), "--gmail", "--batch", "wave1", check=0)
    reports = [tmp_path / f"wave1.{suffix}" for suffix in ("csv", "json", "html")]
    for report in reports:
        run("migrate", "imap", "report", "wave1", "--out", str(report), check=0)

    credentials = tmp_path / "credentials.csv"
    results = tmp_path / "activation.json"
    run("users", "activate", str(rows_csv(tmp_path / "hires.csv", *HIRES)),
        "--credentials-out", str(credentials), "--results", str(results), check=0)
    with credentials.open(newline="") as handle:
        temporary = [r["TemporaryPassword"] for r in csv.DictReader(handle)]
    assert len(temporary) == 2
    jobs = json.loads(run("jobs", "list", check=0).stdout)
    assert len(jobs) == 2  # the migration and the activation
    for job in jobs:
        run("jobs", "show", job["id"], check=0)

    every_secret = [*secrets, *SOURCE_PASSWORDS.values(), *temporary]
    for text in printed:
        for secret in every_secret:
            assert secret not in text, f"a secret was printed: {secret[:3]}..."
        assert not JWT.search(text.encode()), "an access token was printed"

    journal = isolated_home / "data" / "jobs.sqlite3"
    # One token cache per app credential: token-cache-<fingerprint>.bin
    caches = sorted((isolated_home / "data").glob("token-cache*.bin"))
    assert journal.exists() and caches and sandbox.command_log.exists()
    kept_on_purpose = {*secret_files, migration, credentials, *caches}
    searched = [p for p in [*isolated_home.rglob("*"), *tmp_path.rglob("*")]
                if p.is_file() and p not in kept_on_purpose]
    assert {journal, sandbox.command_log, results, *reports} <= set(searched)
    for path in searched:
        data = path.read_bytes()
        for secret in every_secret:
            assert secret.encode() not in data, f"a secret leaked into {path}"
        assert not JWT.search(data), f"an access token leaked into {path}"

    # The token caches: owner-only (or encrypted), and never the app secret itself.
    for cache in caches:
        data = cache.read_bytes()
        assert stat.S_IMODE(cache.stat().st_mode) & 0o077 == 0 or not JWT.search(data)
        for secret in every_secret:
            assert secret.encode() not in data, f"the token cache {cache.name} holds a secret"
