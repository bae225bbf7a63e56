"""Automations: rules "when (event and conditions) then (actions)", event-driven and time-based, with a
dry run that shows which tickets a rule would touch."""
