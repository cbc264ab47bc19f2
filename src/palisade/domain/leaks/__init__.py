"""Leak response: reading dumps, recognising what they hold, and attributing them (pure)."""
