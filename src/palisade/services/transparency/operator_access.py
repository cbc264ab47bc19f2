"""An operator reads a person's personal data: only with a reason and a reference, and the
read is recorded (in the same transaction) for the person's access log."""

from __future__ import annotations

from dataclasses import dataclass

from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.repository import Repository
from palisade.adapters.storage.tables import AccessEventRow
from palisade.domain.access import Relationship
from palisade.domain.errors import NotFound
from palisade.domain.transparency.operator_access import OperatorReason, check_reference
from palisade.services.clock import Clock
from palisade.services.people import PersonKeys
from palisade.services.profiles import Profiles


@dataclass(frozen=True)
class OperatorView:
    person_id: str
    fields: dict[str, str | None]
    identifiers: list[dict[str, str]]


class OperatorAccess:
    def __init__(self, uow: UnitOfWork, keys: PersonKeys, profiles: Profiles,
                 clock: Clock) -> None:
        self.uow = uow
        self.keys = keys
        self.profiles = profiles
        self.clock = clock

    def read(self, person_id: str, reason: OperatorReason, reference: str,
             operator: str = "operator") -> OperatorView:
        reference = check_reference(reference)
        with self.uow() as session:
            repo = Repository(session)
            if not repo.person_exists(person_id):
                raise NotFound("No such person.")
            rendered = self.profiles.render(repo, person_id, Relationship.SELF)
            key = self.keys.data_key(repo, person_id)
            identifiers = [{"kind": r.kind, "value": self.keys.open_identifier(key, r)}
                           for r in repo.identifiers_of(person_id)]
            shown = sorted([k for k, v in rendered.fields.items() if v is not None]
                           + sorted({i["kind"] for i in identifiers}))
            session.add(AccessEventRow(
                person_id=person_id, kind="operator_access", actor_kind="operator",
                actor_id=operator[:32], fields=shown, purpose=reason.value, outcome="released",
                route="/v1/admin/people/{person_id}", at=self.clock(),
                detail={"reference": reference}))
            return OperatorView(person_id, dict(rendered.fields), identifiers)
