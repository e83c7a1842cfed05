"""Plantbridge."""
