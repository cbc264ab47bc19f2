"""What every incident replay gets: the target, the SMS gateway for sign-up codes, the
operator token (for the operator's own steps, never for the attacker), the size, a budget."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from palisade.replay.http import Budget, Client, ReplayError
from palisade.replay.population import Member, Population
from palisade.replay.sms_gateway import SmsGateway


@dataclass
class Context:
    base_url: str
    gateway: SmsGateway
    operator_token: str | None
    quick: bool
    max_requests: int
    max_seconds: float
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    sign_ups: list[int] = field(default_factory=lambda: [0])  # spreads sign-ups over /24s
    # what the attackers of this run were handed, for the dump replay: (recipient, record),
    # a recipient being "discovery:<account id>" or "app:<client id>"
    collected: list[tuple[str, dict]] = field(default_factory=list)
    # the run's people whose data an attacker legitimately received (they must be told
    # when it turns up in a dump)
    received: dict[str, Member] = field(default_factory=dict)

    def budget(self) -> Budget:
        return Budget(self.max_requests, self.max_seconds)

    def population(self, budget: Budget) -> Population:
        return Population(self.base_url, self.gateway, budget, self.tag, self.sign_ups)

    def operator(self, pop: Population) -> Client:
        """The operator's own client (closed with `pop`)."""
        if not self.operator_token:
            raise ReplayError("this replay needs the operator token (--operator-token or "
                              "PALISADE_ADMIN_TOKEN) for the operator's own steps")
        return pop.client(token=self.operator_token)
