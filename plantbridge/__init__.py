"""Plantbridge platform tooling: the launcher and the command line (the services they run are
in contracts/topology.py)."""
