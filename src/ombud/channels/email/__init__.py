"""Email: inbound through the built-in SMTP receiver or IMAP polling, outbound through an SMTP relay."""
