"""Tenant strings shown literally: control, bidi and invisible characters escaped;
alphabets mixed in one address detected."""

from __future__ import annotations

from toolkit.cli.output import plain_cell
from toolkit.io.plain_text import mixed_scripts, visible


def test_control_and_bidi_characters_are_shown_as_escapes() -> None:
    assert visible("a\x1b]0;t\x07b\u202ec\x9bd") == "a\\x1b]0;t\\x07b\\u202ec\\x9bd"
    assert visible("line\nnext") == "line\\x0anext"
    assert visible("line\nnext\x1b", newlines=True) == "line\nnext\\x1b"
    assert visible("José Müller") == "José Müller"


def test_a_cell_is_never_markup() -> None:
    assert plain_cell("hide2[conceal]@contoso.com").plain == "hide2[conceal]@contoso.com"
    assert plain_cell("x[/x]").plain == "x[/x]"


def test_look_alike_addresses_mix_scripts() -> None:
    assert mixed_scripts("\u0430dele.vance@contoso.com") == {"CYRILLIC", "LATIN"}
    assert mixed_scripts("adele.vance@contoso.com") == set()
    assert mixed_scripts("\u0430\u0431\u0432@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444") == set()
