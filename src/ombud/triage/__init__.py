"""Triage: the pipeline of components that reads every customer message, and its trainable models."""
