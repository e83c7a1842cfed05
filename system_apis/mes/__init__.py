"""MES system API v1: production orders, confirmations, batches, material consumption, equipment."""
