"""Canaries are served only to recipients under watch: a discovery account the detectors flag
for sweeping a number range gets a few synthetic matches minted for it alone (another
account asking for the same numbers gets nothing); an app under watch finds canary friends,
an app not under watch never does. The apps firewall is untouched: the canary is not a
person, and no real person's data moves."""

from __future__ import annotations

from sqlalchemy import select

from palisade.adapters.storage.tables import CanaryRow
from palisade.services.leaks.canaries import PER_APP, PER_SYNC
from tests.apps_world import AppWorld
from tests.conftest import befriend, register
from tests.test_discovery import ADDRESS, sweep, tight  # noqa: F401 - the fixture

QUIZ = {"name": ["personalisation"], "friends": ["personalisation"]}
SCOPE = "name:personalisation friends:personalisation"


def minted_for(platform, kind: str, recipient: str) -> list[CanaryRow]:  # type: ignore[no-untyped-def]
    with platform.uow() as session:
        return list(session.scalars(select(CanaryRow).where(
            CanaryRow.recipient_kind == kind, CanaryRow.recipient_id == recipient)))


def test_a_flagged_sweeper_is_served_canaries_minted_for_it_alone(tight) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    sweeper, honest = register(tight), register(tight)
    numbers = sweep(25)
    result = tight.discovery.sync(sweeper.id, ADDRESS, numbers)
    mine = minted_for(tight, "discovery", sweeper.id)
    assert 1 <= len(mine) <= PER_SYNC
    served = {m.person_id: m for m in result.matches if m.person_id in
              {c.scoped_id for c in mine}}
    assert len(served) == len(mine)
    for c in mine:
        assert c.phone in numbers
        assert served[c.scoped_id].fields == {"name": c.profile["name"]}
    # someone else asking for the very same numbers is shown no canary
    other = tight.discovery.sync(honest.id, "203.0.113.9", [c.phone for c in mine])
    assert not {m.person_id for m in other.matches} & {c.scoped_id for c in mine}
    assert minted_for(tight, "discovery", honest.id) == []


def test_only_a_watched_app_finds_canary_friends(app_world: AppWorld) -> None:
    world = app_world
    watched_id, watched_secret = world.app(QUIZ, name="Watched Quiz")
    plain_id, plain_secret = world.app(QUIZ, name="Plain Quiz")
    ada, bob = world.person("Ada"), world.person("Bob")
    befriend(world.platform, ada, bob)
    world.platform.canaries.watch("app", watched_id, "test: over-collection")
    for client_id, secret in ((watched_id, watched_secret), (plain_id, plain_secret)):
        world.issue(bob, client_id, secret, SCOPE)
    watched = world.call("/me/friends", world.issue(ada, watched_id, watched_secret, SCOPE))
    plain = world.call("/me/friends", world.issue(ada, plain_id, plain_secret, SCOPE))
    canaries = minted_for(world.platform, "app", watched_id)
    assert len(canaries) == PER_APP
    watched_ids = [p["id"] for p in watched.json()["data"]]
    assert len(watched_ids) == 2 and watched_ids[-1] in {c.scoped_id for c in canaries}
    # read by its id, the canary answers like any friend (a 404 would give it away)
    tok = world.issue(ada, watched_id, watched_secret, SCOPE)
    read = world.call(f"/people/{watched_ids[-1]}", tok)
    assert read.status_code == 200 and read.json()["fields"]["name"]
    # and it is no one's to another app
    other = world.call(f"/people/{watched_ids[-1]}",
                       world.issue(ada, plain_id, plain_secret, SCOPE))
    assert other.status_code == 404
    assert [p["fields"]["name"] for p in plain.json()["data"]] == ["Bob"]
    assert minted_for(world.platform, "app", plain_id) == []


def test_an_account_stays_watched_after_the_sync_that_flagged_it(tight) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Watched by the operator (or flagged earlier, at any level): later syncs are served
    canaries too, not only the one that raised the finding."""
    account = register(tight)
    tight.canaries.watch("discovery", account.id, "operator: reported by a member")
    numbers = sweep(5)  # too few to raise any finding in this sync
    result = tight.discovery.sync(account.id, ADDRESS, numbers)
    mine = minted_for(tight, "discovery", account.id)
    assert mine and {c.scoped_id for c in mine} <= {m.person_id for m in result.matches}
