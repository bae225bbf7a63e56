"""Outbound webhooks: signed HTTP callouts of events to other systems, delivered by jobs with retries."""
