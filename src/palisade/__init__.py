"""Palisade: a personal-data service built so the big leaks cannot happen through it."""

__version__ = "0.1.0"
