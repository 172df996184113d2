"""Errors a user meets on users commands (issue 15, item 8), on the embedded sandbox."""

from __future__ import annotations

import json

from e2e_cli import Cli


def test_reset_password_of_an_unknown_user_says_so_and_changes_nothing(cli: Cli) -> None:
    refused = cli("users", "reset-password", "nora.ahmd@contoso.com", check=2)
    assert refused.stderr.splitlines()[0] == (
        "error: no user nora.ahmd@contoso.com in the tenant; did you mean "
        "nora.ahmed@contoso.com?")
    assert "Headers" not in refused.stderr and refused.stdout == ""


def test_reset_password_honours_output_json(cli: Cli) -> None:
    result = cli("users", "reset-password", "nora.ahmed@contoso.com", "--temporary", "-o",
                 "json", check=0)
    (answer,) = json.loads(result.stdout)
    assert answer["user"] == "nora.ahmed@contoso.com" and answer["must_change"] is True
    assert len(answer["password"]) >= 12
