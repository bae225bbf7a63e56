"""The people who do the work: abuse shielding, emotional load and recovery breaks, help requests,
development goals, and the role-play trainer."""
