"""Measurement analysis: pure functions from recorded observations to verdicts."""
