"""Incident replays (`palisade replay`): each historical incident played as its attacker
would, over HTTP only, against a running server and a population the replay creates through
the public API; each with a positive control that proves the attack code works, so that a
PASS means the defence held, not that the attack was broken."""
