"""Attacker strategies, one small module each, registered by name (see `base`)."""

from __future__ import annotations

import importlib
import pkgutil

from .base import ATTACKERS, AttackContext, Attacker, AttackerAPI

__all__ = ["ATTACKERS", "AttackContext", "Attacker", "AttackerAPI", "DEFAULT", "EXTRA"]

for _mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _mod.name != "base":
        importlib.import_module(f"{__name__}.{_mod.name}")

DEFAULT = ["A1", "A2", "A3", "A4", "A5"]  # the attackers
EXTRA = [name for name in sorted(ATTACKERS) if name not in DEFAULT]
