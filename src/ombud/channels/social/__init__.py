"""Social and messaging platforms: one signed webhook in, signed callbacks out, handles as identities."""
