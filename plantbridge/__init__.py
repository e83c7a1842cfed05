"""Plantbridge platform tooling: the service table, the launcher and the command line."""
