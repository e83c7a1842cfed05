"""Inbound webhooks: configured sources, verified signatures, mappings to our commands."""
