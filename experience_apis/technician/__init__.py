"""Technician experience API v1: a technician's work, shaped for a mobile client on plant Wi-Fi."""
