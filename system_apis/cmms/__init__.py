"""CMMS system API v1: assets, maintenance requests, work orders, spare parts, labor, downtime."""
