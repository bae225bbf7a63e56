"""The public web form: a ticket from anyone with an email address, with spam protection."""
