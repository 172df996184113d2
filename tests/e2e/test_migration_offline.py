"""IMAP migrations tried fully offline on the embedded sandbox (issue 15, item 9): the
sign-in check of ``migrate imap test --user`` goes to the sandbox's IMAP listener, where
Exchange Online would sign in, never to the real imap.gmail.com."""

from __future__ import annotations

import json
from pathlib import Path

from e2e_cli import Cli, rows_csv

TEST = ("migrate", "imap", "test", "--server", "imap.gmail.com", "--user",
        "adele.vance.contoso@gmail.com", "--password-env", "SOURCE_PW")


def test_the_sign_in_check_uses_the_sandbox_source(cli: Cli) -> None:
    good = cli(*TEST, check=0, extra_env={"SOURCE_PW": "adele-app-pw-2024"})
    assert "signed in from Exchange Online (the sandbox's IMAP listener)" in good.stdout
    wrong = cli(*TEST, check=1, extra_env={"SOURCE_PW": "adele-old-password"})
    assert "imap.gmail.com refused the sign-in of adele.vance.contoso@gmail.com: " \
           "[AUTHENTICATIONFAILED]" in wrong.stderr


def test_start_prints_one_json_document_with_named_parts(cli: Cli, tmp_path: Path) -> None:
    """``-o json``: the plan and the job's summary in one object, each under a name that
    says what it is (issue 19, item 6), not "section 2"."""
    source = rows_csv(tmp_path / "wave.csv", "EmailAddress,UserName,Password",
                      ["adele.vance@contoso.com,adele.vance.contoso@gmail.com,"
                       "adele-app-pw-2024"])
    started = cli("-o", "json", "migrate", "imap", "start", str(source), "--gmail",
                  "--batch", "json1", check=0)
    document = json.loads(started.stdout)
    assert set(document) == {"Plan", "summary"}
    (planned,) = document["Plan"]
    assert planned["batch"] == "json1" and planned["users"] == 1
    (summary,) = document["summary"]
    assert summary["status"] == "changed" and summary["rows"] == 1
