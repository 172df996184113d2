"""The permissions planner and CSV schema, without a tenant: rows + state -> changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.io.csvfile import CsvInvalid
from toolkit.tasks.permissions.changes import plan_changes
from toolkit.tasks.permissions.read import MailboxPermissions, TenantState, Trustee
from toolkit.tasks.permissions.rows import PermissionCsv, PermRow

SALES = "sales@contoso.com"
ADELE = "adele.vance@contoso.com"
ALEX = "alex.wilber@contoso.com"


def state() -> TenantState:
    result = TenantState()
    result.mailboxes[SALES] = MailboxPermissions(
        SALES, True, SALES, (SALES, "Sales"), full_access=(ADELE, ALEX), send_as=(ADELE,),
        send_on_behalf=("alex.wilber",))
    result.mailboxes["nobody@contoso.com"] = MailboxPermissions(
        "nobody@contoso.com", False, message="Couldn't find object")
    for upn, name in ((ADELE, "adele.vance"), (ALEX, "alex.wilber")):
        result.trustees[upn] = Trustee(upn, True, upn, frozenset({upn, name}))
    return result


def row(line: int, right: str, action: str = "grant", trustee: str = ADELE,
        automapping: bool | None = None, mailbox: str = SALES) -> PermRow:
    return PermRow(line, mailbox, trustee, right, action, automapping)


def test_rows_already_true_are_dropped_and_the_rest_planned() -> None:
    plan = plan_changes([row(2, "FullAccess"), row(3, "SendOnBehalf"),
                         row(4, "SendAs", "revoke"), row(5, "SendAs", "revoke", ALEX),
                         row(6, "SendOnBehalf", "revoke", ALEX)], state(), {})
    assert [(c.row.line, c.op) for c in plan.changes] == [(3, "grant"), (4, "revoke"),
                                                          (6, "revoke")]
    assert [(r.line, why) for r, why in plan.unchanged] == [(2, "already granted"),
                                                             (5, "not granted")]
    assert not plan.problems


def test_automapping_change_is_a_remap_unless_known_equal() -> None:
    rows = [row(2, "FullAccess", trustee=ALEX, automapping=False)]
    unknown = plan_changes(rows, state(), {})
    assert unknown.changes[0].op == "remap" and "unknown" in unknown.changes[0].note
    known_same = plan_changes(rows, state(), {(SALES, ALEX): False})
    assert not known_same.changes
    known_other = plan_changes(rows, state(), {(SALES, ALEX): True})
    assert known_other.changes[0].note.startswith("AutoMapping on -> off")
    new_grant = plan_changes([row(2, "FullAccess", trustee=ALEX, automapping=False,
                                  mailbox="sales@contoso.com")],
                             TenantState({SALES: MailboxPermissions(SALES, True, SALES)},
                                         state().trustees), {})
    assert new_grant.changes[0].op == "grant"


def test_unknown_objects_and_resolved_conflicts_are_problems() -> None:
    plan = plan_changes([row(2, "SendAs", mailbox="nobody@contoso.com"),
                         row(3, "SendAs", "revoke", trustee="ghost@contoso.com"),
                         row(4, "SendOnBehalf", trustee=ALEX),
                         row(5, "SendOnBehalf", "revoke", trustee=ALEX.upper())],
                        state(), {}, source="f.csv")
    assert plan.problems[0].startswith("f.csv:2: Mailbox: nobody@contoso.com")
    assert plan.problems[1].startswith("f.csv:3: Trustee: ghost@contoso.com")
    # another spelling of the same trustee: the conflict shows once both are resolved
    assert plan.problems[2].startswith("f.csv:5: conflicts with line 4")
    assert len(plan.problems) == 3


def test_csv_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("Mailbox,Trustee,Right,Action,AutoMapping\n"
                    f"{SALES},{ADELE},GrantSendAs,,\n"
                    f"{SALES},{ADELE},SendAs,revoke,\n"
                    f"{SALES},,FullAccess,,maybe\n"
                    f"{SALES},{ADELE},SendAs,,true\n", encoding="utf-8")
    with pytest.raises(CsvInvalid) as caught:
        PermissionCsv(path).read()
    found = [(p.line, p.column) for p in caught.value.problems]
    assert found == [(3, "Action"), (4, "Trustee"), (4, "AutoMapping"), (5, "AutoMapping")]


def test_legacy_words_imply_the_action(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("Mailbox;Trustee;Right\n"
                    f"{SALES};{ADELE};RemoveSendOnBehalfOf\n"
                    f"{SALES};{ALEX};grantfullaccess\n", encoding="utf-8-sig")
    rows = PermissionCsv(path).read()
    assert [(r.right, r.action) for r in rows] == [("SendOnBehalf", "revoke"),
                                                    ("FullAccess", "grant")]
