"""The host serving the real backend (toolkit.sandbox.app): engine, tenant and identity."""

from __future__ import annotations

from pathlib import Path

import requests
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from toolkit.sandbox.server import SandboxOptions, start_sandbox


def test_scripts_run_and_sign_in_is_served_over_https(tmp_path: Path) -> None:
    options = SandboxOptions(https=True, tls_dir=tmp_path / "tls", seed="demo")
    with start_sandbox(options) as sandbox:
        wsman = WSMan("127.0.0.1", port=sandbox.port, ssl=True, auth="ntlm",
                      username=sandbox.username, password=sandbox.password,
                      cert_validation=str(sandbox.ca_cert))
        with RunspacePool(wsman) as pool:
            ps = PowerShell(pool)
            ps.add_script("param($n) 1..$n | ForEach-Object { $_ * 2 }; Write-Warning 'w'")
            ps.add_parameter("n", 3)
            assert ps.invoke() == [2, 4, 6]
            assert [w.message for w in ps.streams.warning] == ["w"]

        base = sandbox.url.removesuffix("/wsman")
        discovery = requests.get(
            f"{base}/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration",
            verify=str(sandbox.ca_cert), timeout=10,
        )
    assert discovery.status_code == 200
    assert discovery.json()["token_endpoint"].startswith(base)
