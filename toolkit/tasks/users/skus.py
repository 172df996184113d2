"""Subscribed SKUs: part numbers, the names people know them by, and free seats.

Graph reports a SKU by its part number (ENTERPRISEPACK) and a GUID; admins and invoices
say "Office 365 E3". The table below is Microsoft's "Product names and service plan
identifiers for licensing" list, reduced to the SKUs partners meet most; a part number not
in it is shown as itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FRIENDLY_NAMES: Mapping[str, str] = {
    "ENTERPRISEPACK": "Office 365 E3",
    "ENTERPRISEPREMIUM": "Office 365 E5",
    "STANDARDPACK": "Office 365 E1",
    "DESKLESSPACK": "Office 365 F3",
    "SPE_E3": "Microsoft 365 E3",
    "SPE_E5": "Microsoft 365 E5",
    "SPE_F1": "Microsoft 365 F3",
    "O365_BUSINESS_ESSENTIALS": "Microsoft 365 Business Basic",
    "O365_BUSINESS_PREMIUM": "Microsoft 365 Business Standard (formerly Office 365 Business "
                             "Premium)",
    "SPB": "Microsoft 365 Business Premium",
    "O365_BUSINESS": "Microsoft 365 Apps for business",
    "OFFICESUBSCRIPTION": "Microsoft 365 Apps for enterprise",
    "EXCHANGESTANDARD": "Exchange Online (Plan 1)",
    "EXCHANGEENTERPRISE": "Exchange Online (Plan 2)",
    "EXCHANGEDESKLESS": "Exchange Online Kiosk",
    "EMS": "Enterprise Mobility + Security E3",
    "EMSPREMIUM": "Enterprise Mobility + Security E5",
    "AAD_PREMIUM": "Microsoft Entra ID P1",
    "AAD_PREMIUM_P2": "Microsoft Entra ID P2",
    "INTUNE_A": "Microsoft Intune Plan 1",
    "POWER_BI_PRO": "Power BI Pro",
    "POWER_BI_STANDARD": "Power BI (free)",
    "PROJECTPROFESSIONAL": "Project Plan 3",
    "VISIOCLIENT": "Visio Plan 2",
    "MCOEV": "Microsoft Teams Phone Standard",
    "FLOW_FREE": "Power Automate Free",
}


def friendly_name(part_number: str) -> str:
    return FRIENDLY_NAMES.get(part_number.upper(), part_number)


@dataclass(frozen=True)
class Sku:
    """One subscribed SKU as ``Get-MgSubscribedSku`` reports it."""

    sku_id: str
    part_number: str
    enabled: int
    consumed: int

    @property
    def free(self) -> int:
        return max(0, self.enabled - self.consumed)

    @property
    def friendly_name(self) -> str:
        return friendly_name(self.part_number)


def skus_from_output(output: Iterable[Any]) -> list[Sku]:
    """The rows of the ``graph/list-skus`` template."""
    return [Sku(sku_id=str(o["SkuId"]).lower(), part_number=str(o["SkuPartNumber"]),
                enabled=int(o.get("Enabled") or 0), consumed=int(o.get("ConsumedUnits") or 0))
            for o in output if isinstance(o, Mapping) and o.get("SkuId")]


def find_sku(skus: Sequence[Sku], part_number: str) -> Sku | None:
    wanted = part_number.strip().casefold()
    return next((s for s in skus if s.part_number.casefold() == wanted), None)


class SeatLedger:
    """Free seats per SKU, handed out in the order rows ask for them."""

    def __init__(self, skus: Iterable[Sku]):
        self._initial = {s.sku_id: s.free for s in skus}
        self._free = dict(self._initial)

    def allocate(self, wanted: Sequence[Sku]) -> str | None:
        """Take one seat of each SKU, or none of them; the reason when one is not free."""
        short = [s for s in wanted if self._free.get(s.sku_id, 0) <= 0]
        if short:
            return "no free seats: " + "; ".join(
                f"{s.part_number} ({s.friendly_name}) has "
                + (f"{self._initial[s.sku_id]} free, all taken by earlier rows"
                   if self._initial.get(s.sku_id) else "none free")
                for s in short) + "; nothing was changed for this user"
        for sku in wanted:
            self._free[sku.sku_id] -= 1
        return None
