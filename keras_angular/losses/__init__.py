"""Placeholder until the losses land."""
