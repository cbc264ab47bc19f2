"""Transparency: the tamper-evident access log."""
