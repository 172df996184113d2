"""ISO 3166-1 alpha-2 country codes: the values Entra ID accepts as a user's usage location.

A licence can only be assigned to a user whose usage location is set, and Entra ID
rejects anything that is not one of these codes (``UK`` is the classic mistake: it is
``GB``). Checking them while reading the CSV turns a late per-row failure into an input
error that names the line.
"""

from __future__ import annotations

_CODES = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
VN VU WF WS YE YT ZA ZM ZW
"""
COUNTRY_CODES = frozenset(_CODES.split())
# Codes people type that ISO 3166 spells differently.
_COMMON_MISTAKES = {"UK": "GB", "EL": "GR"}


def usage_location(text: str) -> str:
    """The upper-cased code, or ValueError with a message for the user."""
    code = text.strip().upper()
    if code in COUNTRY_CODES:
        return code
    if code in _COMMON_MISTAKES:
        raise ValueError(f"{text!r} is not an ISO 3166 country code; "
                         f"did you mean {_COMMON_MISTAKES[code]}?")
    raise ValueError(f"{text!r} is not an ISO 3166 alpha-2 country code (e.g. US, GB, DE)")
