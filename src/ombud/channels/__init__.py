"""Channels: every way a customer writes in and every way a reply goes out, one adapter each."""
