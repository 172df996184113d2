"""Orphaned SIDs: the one test of "this trustee is a bare SID".

An ACE whose account was deleted names its trustee by SID (``S-1-5-21-...``): Exchange can
no longer resolve it to a name. Python asks :func:`is_orphan_sid`; templates match the same
pattern on the management host (``Get-AceKind`` of ``_include/ace-kind``, the trustee filter of
``exchange/perms-read``), rendered from :data:`ORPHAN_SID_PATTERN`, the catalog's
``orphan_sid_pattern`` global. PowerShell's ``-match``, as this test, ignores case.
"""

from __future__ import annotations

import re

ORPHAN_SID_PATTERN = r"^S-1-\d+(-\d+)+$"

_ORPHAN_SID = re.compile(ORPHAN_SID_PATTERN, re.IGNORECASE)


def is_orphan_sid(text: str) -> bool:
    """Whether a trustee is a bare SID, as an orphaned ACE names it."""
    return bool(_ORPHAN_SID.match(text))
