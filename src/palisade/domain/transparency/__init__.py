"""Transparency: the tamper-evident structure of the access log (pure, standard library only)."""
