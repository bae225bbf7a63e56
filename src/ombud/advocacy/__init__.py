"""Customer advocacy: themes across customers, spikes, advocacy cases with the departments that can fix a
cause, closing the loop with every affected customer, and fairness checks (docs/advocacy.md)."""
