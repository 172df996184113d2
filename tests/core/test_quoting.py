"""The quoting filter: every string reads back exactly, and nothing in it is live."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.core.lint import parse
from toolkit.core.quoting import UnquotableValue, ps_quote

# Written out here, not imported from the module under test. Sources: the PowerShell
# language specification 3.0, section 2.3.5.2 "String literals"
# (https://learn.microsoft.com/powershell/scripting/lang-spec/chapter-02), PowerShell's
# tokenizer (SpecialChars.QuoteSingleLeft/Right/Base, QuoteReversed: U+2018-U+201B, in
# https://github.com/PowerShell/PowerShell/blob/master/src/System.Management.Automation/engine/parser/CharTraits.cs)
# and about_Quoting_Rules ("PowerShell treats smart quotation marks ... as normal quotation
# marks", https://github.com/MicrosoftDocs/PowerShell-Docs/pull/11405). The spec's grammar:
#     single-quote-character:
#         ' (U+0027)
#         Left single quotation mark (U+2018)
#         Right single quotation mark (U+2019)
#         Single low-9 quotation mark (U+201A)
#         Single high-reversed-9 quotation mark (U+201B)
# and in a verbatim string, "a single-quote-character followed by another one" stands for
# one of them (single-quoted-string-part: "single-quote-character single-quote-character").
POWERSHELL_SINGLE_QUOTES = frozenset("\u0027\u2018\u2019\u201a\u201b")


def read_back_verbatim(token: str) -> str:
    """PowerShell's rule for a single-quoted literal: a quote followed by a quote is one
    quote character, the second of the pair; any other quote character ends the string."""
    quotes = POWERSHELL_SINGLE_QUOTES
    assert token[0] in quotes and token[-1] in quotes
    body, out, i = token[1:-1], [], 0
    while i < len(body):
        if body[i] in quotes:
            assert i + 1 < len(body) and body[i + 1] in quotes, "lone quote inside"
            out.append(body[i + 1])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def string_tokens(script: str) -> list[str]:
    tree = parse(script)
    assert not tree.root_node.has_error, script
    tokens = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "string_literal":
            tokens.append(node.text.decode("utf-8"))
            continue
        stack.extend(reversed(node.children))
    return tokens


tricky = st.text(alphabet=st.sampled_from(
    sorted(POWERSHELL_SINGLE_QUOTES) + list('"$()`;\n\r{}@#|&<>-') + ["a", "é", "😀"])
) | st.text()


@settings(max_examples=300, deadline=None)
@given(tricky.filter(lambda s: "\0" not in s))
def test_any_string_is_one_literal_that_reads_back_exactly(value: str) -> None:
    literal = ps_quote(value)
    tokens = string_tokens(literal)
    assert tokens == [literal]
    assert read_back_verbatim(literal) == value


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", "'", "\0", "’", "$"]), min_size=1).filter(
    lambda s: "\0" in s))
def test_nul_is_spliced_in_as_a_char_and_the_pieces_read_back(value: str) -> None:
    literal = ps_quote(value)
    assert "\0" not in literal  # a NUL never stands in script text
    pieces = [read_back_verbatim(t) for t in string_tokens(literal)]
    assert "\0".join(pieces) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("O'Brien", "'O''Brien'"),
        ("it\u2019s", "'it\u2019\u2019s'"),
        ("\u2018x\u201a\u201b", "'\u2018\u2018x\u201a\u201a\u201b\u201b'"),
        ("$(Remove-Item C:\\)", "'$(Remove-Item C:\\)'"),
        (True, "$true"),
        (False, "$false"),
        (None, "$null"),
        (42, "42"),
        (-7, "-7"),
        ([], "@()"),
        (["a", 1], "@('a', 1)"),
        ([["a", "b"]], "@(,@('a', 'b'))"),
        ({"Add": ["x@y"]}, "@{'Add' = @('x@y')}"),
        (uuid.UUID(int=1), "[guid]'00000000-0000-0000-0000-000000000001'"),
        (dt.datetime(2026, 1, 2, 3, 4, 5), "[datetime]'2026-01-02T03:04:05'"),
        (b"\x01\xff", "[byte[]]@(1,255)"),
    ],
)
def test_literal_forms(value: object, expected: str) -> None:
    assert ps_quote(value) == expected


def test_values_without_a_literal_form_are_refused() -> None:
    with pytest.raises(UnquotableValue):
        ps_quote(object())
    with pytest.raises(UnquotableValue):
        ps_quote(float("nan"))
