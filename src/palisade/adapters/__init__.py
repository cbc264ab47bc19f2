"""Adapters: storage, crypto, delivery, limits. They implement the core's ports with real I/O."""
