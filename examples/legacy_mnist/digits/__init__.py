"""Helpers of the legacy-style example."""
