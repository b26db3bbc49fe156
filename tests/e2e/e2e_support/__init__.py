"""Helpers for the end-to-end suite: Docker gate, image builds, the Compose stack, polling."""
