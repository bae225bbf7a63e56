"""SLA policies, business calendars and the per-ticket SLA clocks (first response, next response,
resolution), with warnings and escalation as background work."""
