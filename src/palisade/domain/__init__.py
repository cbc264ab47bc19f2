"""The pure core: domain rules with no I/O. Nothing here imports an adapter."""
