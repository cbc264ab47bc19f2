"""B0, the 2019 importer: no limits at all. Every sync is admitted and every member the
rule (`may_find`) allows is revealed."""

from __future__ import annotations

from collections.abc import Sequence

from . import Cand, Defence, Outcome, Request, Who, allowed, register


@register
class NoLimits(Defence):
    name = "B0"
    label = "B0 no limits (2019 importer)"

    def sync(self, who: Who, req: Request, cands: Sequence[Cand], now: float) -> Outcome:
        return Outcome(True, found=allowed(cands))
