"""Mailbox settings in bulk: POP and IMAP client access (``protocols``)."""
