"""Routing: who takes a ticket. Skills, availability and capacity per agent, team rules, assignment by load
with round-robin among equals, a real queue when nobody is free, and overflow to another team."""
