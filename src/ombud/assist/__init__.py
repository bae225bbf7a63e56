"""Reply assistance for the agent workspace: a drafted reply, the reply check, tone rewrites, and the
company's glossary and voice that they use."""
