"""Microsoft's clouds: where a profile signs in and which services its tokens are for.

Sources: Microsoft Entra and Graph endpoints per national cloud, and the
``Connect-MgGraph -Environment`` names, from "Microsoft Graph national cloud deployments"
(https://learn.microsoft.com/graph/deployments); ``-ExchangeEnvironmentName`` values from
"App-only authentication in Exchange Online PowerShell"
(https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2). GCC
(``usgov``) signs in to the global Entra ID and uses the global Exchange and Graph
endpoints. The Exchange resources of GCC High, DoD and 21Vianet (outlook.office365.us,
webmail.apps.mil, partner.outlook.cn) are the module's own endpoints for those
environments.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cloud:
    name: str
    authority: str  # the Entra ID sign-in host
    exchange_resource: str  # token audience for Exchange Online
    graph_resource: str  # token audience for Microsoft Graph
    exchange_environment: str  # Connect-ExchangeOnline -ExchangeEnvironmentName
    graph_environment: str  # Connect-MgGraph -Environment

    def resource(self, service: str) -> str:
        return self.exchange_resource if service == "exchange" else self.graph_resource

    def environment(self, service: str) -> str:
        return self.exchange_environment if service == "exchange" else self.graph_environment


CLOUDS = {cloud.name: cloud for cloud in (
    Cloud("global", "https://login.microsoftonline.com", "https://outlook.office365.com",
          "https://graph.microsoft.com", "O365Default", "Global"),
    Cloud("usgov", "https://login.microsoftonline.com", "https://outlook.office365.com",
          "https://graph.microsoft.com", "O365Default", "Global"),
    Cloud("usgovhigh", "https://login.microsoftonline.us", "https://outlook.office365.us",
          "https://graph.microsoft.us", "O365USGovGCCHigh", "USGov"),
    Cloud("dod", "https://login.microsoftonline.us", "https://webmail.apps.mil",
          "https://dod-graph.microsoft.us", "O365USGovDoD", "USGovDoD"),
    Cloud("china", "https://login.chinacloudapi.cn", "https://partner.outlook.cn",
          "https://microsoftgraph.chinacloudapi.cn", "O365China", "China"),
)}
