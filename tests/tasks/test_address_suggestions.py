"""The "did you mean" of an unknown address."""

from __future__ import annotations

import pytest

from toolkit.tasks.lookups import closest, refuse_names, unknown_address

KNOWN = ["adele.vance@contoso.com", "alex.wilber@contoso.com", "sales@contoso.com",
         "info@contoso.com"]


def test_a_letter_or_two_off_finds_the_address() -> None:
    assert closest("adele.vanse@contoso.com", KNOWN) == "adele.vance@contoso.com"
    assert closest("SALE@contoso.com", KNOWN) == "sales@contoso.com"
    assert closest("sales@contoso.co", KNOWN) == "sales@contoso.com"


def test_a_shared_domain_alone_is_not_close() -> None:
    assert closest("nosuch@contoso.com", KNOWN) is None
    assert closest("bob@fabrikam.com", KNOWN) is None
    assert closest("anything", []) is None


def test_the_error_names_what_where_and_the_guess() -> None:
    error = unknown_address("user", "adele.vanse@contoso.com", "contoso", KNOWN)
    assert error.message == ("no user adele.vanse@contoso.com in contoso; did you mean "
                             "adele.vance@contoso.com?")
    assert int(error.exit_code) == 2


def test_several_unknown_addresses_are_listed_each_with_its_guess() -> None:
    from toolkit.core.errors import InputError

    with pytest.raises(InputError) as refused:
        refuse_names("mailbox", ["sale@contoso.com", "nobody@contoso.com"], "contoso",
                     lambda: KNOWN)
    assert refused.value.message.splitlines()[1:] == [
        "  no mailbox sale@contoso.com; did you mean sales@contoso.com?",
        "  no mailbox nobody@contoso.com"]
    refuse_names("mailbox", [], "contoso", lambda: pytest.fail("no listing when all known"))
