"""Leak response: scanning dumps, incidents, notifications, the exposure check."""
