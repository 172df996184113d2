"""Orphaned SIDs in the permissions CSV: accepted to revoke, refused to grant."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.io.csvfile import CsvInvalid
from toolkit.tasks.permissions.rows import PermissionCsv, parse_trustee

SID = "S-1-5-21-3623811015-3361044348-30300820-1013"


def test_a_sid_is_a_trustee_spelled_in_capitals() -> None:
    assert parse_trustee(SID.lower()) == SID
    with pytest.raises(ValueError, match="orphaned SID"):
        parse_trustee("S-1-x")


def test_only_revoking_fullaccess_or_sendas_of_a_sid_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("Mailbox,Trustee,Right,Action\n"
                    f"sales@contoso.com,{SID},FullAccess,revoke\n"
                    f"sales@contoso.com,{SID},SendAs,grant\n"
                    f"sales@contoso.com,{SID},SendOnBehalf,revoke\n")
    with pytest.raises(CsvInvalid) as info:
        PermissionCsv(path).read()
    assert [(p.line, p.column) for p in info.value.problems] == [(3, "Trustee"), (4, "Trustee")]
    assert "can only be revoked" in info.value.problems[0].message
    assert "SendOnBehalf holds recipients" in info.value.problems[1].message
