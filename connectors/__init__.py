"""Connectors: how Plantbridge reaches systems and partners it does not own."""
