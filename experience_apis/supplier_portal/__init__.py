"""Supplier portal API v1: one supplier's quality cases, inspections and scorecard."""
