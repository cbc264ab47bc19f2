"""Thin entry points: HTTP (FastAPI) and the command line (Typer)."""
