"""IMAP migrations tried fully offline on the embedded sandbox (issue 15, item 9): the
sign-in check of ``migrate imap test --user`` goes to the sandbox's IMAP listener, where
Exchange Online would sign in, never to the real imap.gmail.com."""

from __future__ import annotations

from e2e_cli import Cli

TEST = ("migrate", "imap", "test", "--server", "imap.gmail.com", "--user",
        "adele.vance.contoso@gmail.com", "--password-env", "SOURCE_PW")


def test_the_sign_in_check_uses_the_sandbox_source(cli: Cli) -> None:
    good = cli(*TEST, check=0, extra_env={"SOURCE_PW": "adele-app-pw-2024"})
    assert "signed in from Exchange Online (the sandbox's IMAP listener)" in good.stdout
    wrong = cli(*TEST, check=1, extra_env={"SOURCE_PW": "adele-old-password"})
    assert "imap.gmail.com refused the sign-in of adele.vance.contoso@gmail.com: " \
           "[AUTHENTICATIONFAILED]" in wrong.stderr
