"""Bringing history in from another help desk: ombud's own CSV/JSON format, Zendesk-style exports and a
live django-helpdesk database, written in bulk and triaged quietly in the background."""
