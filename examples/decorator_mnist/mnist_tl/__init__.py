"""Helpers of the decorator-style example: a synthetic digits data set, encoders, metrics, visualizers."""
