"""Rate limits whose counters are shared by every server process (Redis) or in-process."""
