"""Cross-reference registry: one canonical id, each system's id for it, over time."""
