"""Microsoft's cmdlet parameter metadata (``cmdlets.json``) and the built-ins we allow.

``cmdlets.json`` is a verbatim copy of the project's shared spec; a test checks that the two
match. ``supplement.json`` adds, in the same shape, cmdlets the shared spec does not cover.
:func:`cmdlets` is the product's one loader (cached); the template lint
(:mod:`toolkit.core.lint`) reads the spec and the allow-list here. The sandbox imports no
product code: its parameter binder reads the same file with a loader of its own
(``toolkit/sandbox/pwsh/spec.py``).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

# PowerShell's common parameters: every cmdlet accepts them, whatever its spec lists.
COMMON_PARAMETERS: dict[str, tuple[str, ...]] = {
    "Verbose": ("vb",),
    "Debug": ("db",),
    "ErrorAction": ("ea",),
    "WarningAction": ("wa",),
    "InformationAction": ("infa",),
    "ErrorVariable": ("ev",),
    "WarningVariable": ("wv",),
    "InformationVariable": ("iv",),
    "OutVariable": ("ov",),
    "OutBuffer": ("ob",),
    "PipelineVariable": ("pv",),
    "ProgressAction": ("proga",),
    "WhatIf": ("wi",),
    "Confirm": ("cf",),
}

# Built-in PowerShell commands templates may call (and the sandbox engine implements),
# with the aliases PowerShell defines for them.
ALLOWED_BUILTINS: dict[str, tuple[str, ...]] = {
    "ForEach-Object": ("%", "foreach"),
    "Where-Object": ("?", "where"),
    "Select-Object": ("select",),
    "Sort-Object": ("sort",),
    "Group-Object": ("group",),
    "Measure-Object": ("measure",),
    "Write-Output": ("echo", "write"),
    "Write-Error": (),
    "Write-Warning": (),
    "Write-Verbose": (),
    "Write-Information": (),
    "Write-Progress": (),
    "ConvertTo-Json": (),
    "ConvertFrom-Json": (),
    "Get-Date": (),
    "Start-Sleep": ("sleep",),
    "New-Object": (),
    "ConvertTo-SecureString": (),
    "Out-Null": (),
    "Get-Module": ("gmo",),  # -ListAvailable: the host inventory of 'profile test'
}


@cache
def cmdlets() -> dict[str, Any]:
    """The ``cmdlets`` tables of cmdlets.json and of ``supplement.json`` (cmdlets the
    shared metadata lacks, written from their Microsoft Learn pages), keyed by name."""
    table: dict[str, Any] = {}
    for name in ("cmdlets.json", "supplement.json"):
        text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
        table.update(json.loads(text)["cmdlets"])
    return table


def service_of(cmdlet: str) -> str | None:
    """The psbridge service whose module a cmdlet of the spec belongs to: ``exchange``
    (ExchangeOnlineManagement's cmdlets), ``graph`` (the Microsoft.Graph modules), else
    None (built-ins, the retired MSOnline module)."""
    module = str(cmdlets()[cmdlet]["module"])
    if module == "ExchangePowerShell":
        return "exchange"
    return "graph" if module.startswith("Microsoft.Graph.") else None


@cache
def builtin_names() -> dict[str, str]:
    """Lower-cased built-in name or alias -> canonical built-in name."""
    names: dict[str, str] = {}
    for name, aliases in ALLOWED_BUILTINS.items():
        for spelling in (name, *aliases):
            names[spelling.lower()] = name
    return names
