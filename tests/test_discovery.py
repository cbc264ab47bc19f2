"""Contact discovery through the service (both backends): who finds whom, what is charged,
what is kept, and how the defences escalate."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from palisade.adapters.crypto.seen_tags import unpack
from palisade.adapters.limits.counters import MemoryRateLimiter
from palisade.adapters.storage.repository import Repository
from palisade.bootstrap import Platform, build
from palisade.domain.discovery.address_book import MAX_CONTACTS_PER_SYNC
from palisade.domain.discovery.escalation import Level
from palisade.domain.discovery.quotas import DiscoveryLimits
from palisade.domain.errors import (
    DiscoveryFrozen,
    InvalidInput,
    NotFound,
    RateLimited,
    ReverificationRequired,
    TooLarge,
)
from palisade.domain.identifiers import parse_identifier
from palisade.domain.one_time_codes import Purpose
from palisade.services.discovery.sync import SyncMode
from tests.conftest import (
    Person,
    age_account,
    befriend,
    last_code,
    register,
    unique_email,
    unique_phone,
)

ADDRESS = "198.51.100.7"


def found(platform: Platform, who: Person, contacts: list[str], address: str = ADDRESS,
          mode: SyncMode = SyncMode.FULL) -> set[str]:
    result = platform.discovery.sync(who.id, address, contacts, mode)
    return {m.person_id for m in result.matches}


def vouch_for(platform: Platform, person: Person) -> Person:
    """A long-standing member with `person` in their synced address book: evidence that
    someone knows `person` (known_by + 1), which is what lets an account find strangers."""
    voucher = age_account(platform, register(platform))
    found(platform, voucher, [person.phone])
    return voucher


def old_member(platform: Platform) -> Person:
    return age_account(platform, register(platform))


def set_all(platform: Platform, person: Person, setting: str) -> None:
    for row in platform.discovery.settings(person.id):
        platform.discovery.set_discoverability(person.id, row["identifier_id"], setting)


@pytest.fixture
def tight(settings, clock, passwords) -> Iterator[Platform]:
    """A platform with small discovery limits, so budgets and detectors trip in a test."""
    limits = {"identifiers_initial": 50, "identifiers_per_day": 10, "sweep_block_numbers": 20,
              "person_strangers_per_window": 3, "address_identifiers_per_day": 80,
              "address_new_accounts_per_day": 1000, "unallocated_min": 10}
    s = settings.model_copy(update={"discovery_limits": limits})
    p = build(s, clock=clock, limiter=MemoryRateLimiter(clock.timestamp), passwords=passwords)
    yield p
    p.close()


# --- who may find whom ---------------------------------------------------------------------------

def test_default_is_mutual_contacts(platform) -> None:
    a, b = register(platform), register(platform)
    assert {s["discoverability"] for s in platform.discovery.settings(b.id)} == {"mutual_contacts"}
    assert found(platform, a, [b.phone]) == set()  # b has not got a in their book
    assert found(platform, b, [a.phone]) == {a.id}  # a's synced book has b: b may find a
    assert found(platform, a, [b.phone]) == {b.id}  # and now b's book has a


def test_a_full_sync_drops_contacts_left_out_of_the_book(platform) -> None:
    """A full sync is the whole book: whoever is no longer in it loses `mutual_contacts`
    access to the owner, and the one who stays keeps it."""
    a, b, c = register(platform), register(platform), register(platform)
    found(platform, a, [b.phone, c.phone])
    assert found(platform, b, [a.phone]) == {a.id}
    found(platform, a, [c.phone])  # full: b is gone from a's book
    assert found(platform, b, [a.phone]) == set()
    assert found(platform, c, [a.phone]) == {a.id}


def test_an_incremental_sync_removes_only_the_entries_it_names(platform) -> None:
    a, b, c = register(platform), register(platform), register(platform)
    found(platform, a, [b.phone, c.phone])
    platform.discovery.sync(a.id, ADDRESS, [], SyncMode.INCREMENTAL, removed=[b.phone])
    assert found(platform, b, [a.phone]) == set()
    assert found(platform, c, [a.phone]) == {a.id}
    found(platform, a, [b.phone], mode=SyncMode.INCREMENTAL)  # added back
    assert found(platform, b, [a.phone]) == {a.id}


def test_an_account_nobody_knows_finds_no_stranger(platform) -> None:
    a, b = register(platform), register(platform)
    set_all(platform, b, "everyone")
    assert found(platform, a, [b.phone]) == set()  # a fresh sybil gets nobody
    vouch_for(platform, a)
    assert found(platform, a, [b.phone]) == {b.id}  # once one person has a in their book


def test_everyone_reveals_only_public_fields(platform) -> None:
    a, b = register(platform), register(platform, name="Bea Public")
    vouch_for(platform, a)
    platform.profiles.update(b.id, {"bio": "friends only"}, {})
    set_all(platform, b, "everyone")
    result = platform.discovery.sync(a.id, ADDRESS, [b.phone])
    [match] = result.matches
    assert match.person_id == b.id and match.fields == {"name": "Bea Public"}
    assert match.identifiers == [b.phone]


def test_each_match_shows_what_its_owner_chose(platform) -> None:
    """A sync decides what to show once per distinct audience setting: people who chose
    differently never share a decision, in either direction."""
    a = register(platform)
    for _ in range(3):  # three people know a: a stranger budget of three
        vouch_for(platform, a)
    wider, hidden, usual = (register(platform, name=n) for n in ("Wid Er", "Hid Den", "Us Ual"))
    platform.profiles.update(wider.id, {"bio": "hello"}, {"bio": "everyone"})
    platform.profiles.update(hidden.id, {"bio": "hi"}, {"name": "only_me"})
    platform.profiles.update(usual.id, {"bio": "hey"}, {})
    for person in (wider, hidden, usual):
        set_all(platform, person, "everyone")
    result = platform.discovery.sync(a.id, ADDRESS, [wider.phone, hidden.phone, usual.phone])
    shown = {m.person_id: m.fields for m in result.matches}
    assert shown[wider.id] == {"name": "Wid Er", "bio": "hello"}
    assert shown[hidden.id] == {}  # found (the searcher has the number), nothing shown
    assert shown[usual.id] == {"name": "Us Ual"}


def test_any_common_formatting_is_normalised(platform) -> None:
    a, b = register(platform), register(platform)
    set_all(platform, b, "everyone")
    vouch_for(platform, a)
    national = f"({b.phone[2:5]}) {b.phone[5:8]}-{b.phone[8:]}"  # +1 NANP written locally
    assert found(platform, a, [national, "not a number", ""]) == {b.id}


def test_friends_of_friends_setting(platform) -> None:
    a, b, c = register(platform), old_member(platform), register(platform)
    set_all(platform, c, "friends_of_friends")
    assert found(platform, a, [c.phone]) == set()
    befriend(platform, a, b)
    befriend(platform, b, c)
    assert found(platform, a, [c.phone]) == {c.id}


@pytest.mark.parametrize("expand_max", [0, 200])
def test_friends_of_friends_both_query_plans_agree(platform, monkeypatch, expand_max) -> None:
    """Friends of friends are found by walking out from a searcher's friends, or, for a
    very connected searcher, from the people found: the same answer either way."""
    monkeypatch.setattr(Repository, "FOF_EXPAND_MAX_FRIENDS", expand_max)
    a, c, d, e = (register(platform) for _ in range(4))
    b = old_member(platform)  # an old friend: the stranger budget that pays for finding c
    for who in (c, d, e):
        set_all(platform, who, "friends_of_friends")
    befriend(platform, a, b)
    befriend(platform, b, c)  # c: a friend of a friend
    befriend(platform, c, d)  # d: two steps from b, three from a
    assert found(platform, a, [c.phone, d.phone, e.phone]) == {c.id}
    befriend(platform, a, e)  # e: now a friend
    assert found(platform, a, [c.phone, d.phone, e.phone]) == {c.id, e.id}


def test_the_look_up_takes_the_largest_sync_at_once(platform: Platform) -> None:
    """A sync's blind indexes go to the database in one statement (an array on PostgreSQL,
    a `?` each on SQLite): a book of the largest size, repeats included, finds exactly its
    members, with and without holding them."""
    a, b, c = register(platform), register(platform), register(platform)
    with platform.uow() as session:
        repo = Repository(session)
        mine = [row.value_bidx for pid in (a.id, b.id, c.id) for row in repo.identifiers_of(pid)]
        book = [os.urandom(32) for _ in range(MAX_CONTACTS_PER_SYNC - 2 * len(mine))]
        book[100:100] = mine + mine
        assert len(book) == MAX_CONTACTS_PER_SYNC
        everyone = repo.members_by_bidx(book)
        held = repo.members_by_bidx(book, hold_for=a.id)
    for rows in (everyone, held):  # each identifier once, however often the book repeats it
        assert sorted(bytes(r.value_bidx) for r in rows) == sorted(mine)
        assert {r.person_id for r in rows} == {a.id, b.id, c.id}


def test_the_friends_of_friends_walk_keeps_its_plan_when_prepared(platform) -> None:
    """psycopg prepares a statement after five runs, and PostgreSQL's generic plan for it
    takes an array parameter for 10 values: the walk out from the searcher's friends must
    stay a walk (a materialized step matched against the people found), never a probe from
    each person found through the friend index."""
    import re

    import psycopg

    from palisade.adapters.storage.repository import _ties_statement

    if platform.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL plans")
    a = register(platform)
    types = {"me": "varchar", "others": "varchar(32)[]", "now": "timestamptz"}
    with platform.uow() as session:
        conn = session.connection()
        compiled = _ties_statement(True, walk=True).compile(dialect=conn.dialect)
        names: list[str] = []

        def number(m: re.Match[str]) -> str:
            if m.group(1) not in names:
                names.append(m.group(1))
            return f"${names.index(m.group(1)) + 1}"

        sql = re.sub(r"%\((\w+)\)s", number, str(compiled))
        raw = conn.connection.dbapi_connection
        assert raw is not None
        values = {**compiled.params, "me": a.id, "others": [a.id], "now": platform.clock()}
        with psycopg.ClientCursor(raw) as cur:
            cur.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            cur.execute(f"PREPARE ties_walk ({', '.join(types.get(n, 'varchar') for n in names)})"
                        f" AS {sql}")
            cur.execute(cur.mogrify(f"EXPLAIN (COSTS OFF) EXECUTE ties_walk "
                                    f"({', '.join(['%s'] * len(names))})",
                                    [values[n] for n in names]))
            plan = "\n".join(row[0] for row in cur.fetchall())
            cur.execute("DEALLOCATE ties_walk")
    assert "CTE Scan on friends_of_friends" in plan, plan
    assert "ix_friendships_friend_person" not in plan, plan


def test_nobody_is_never_found_and_looks_like_a_non_member(platform) -> None:
    a, b = register(platform), register(platform)
    befriend(platform, a, b)
    found(platform, b, [a.phone])  # b even has a in their book
    set_all(platform, b, "nobody")
    stranger_number = unique_phone()
    with_b = platform.discovery.sync(a.id, ADDRESS, [b.phone])
    with_nobody = platform.discovery.sync(a.id, ADDRESS, [stranger_number])
    assert with_b.matches == [] == with_nobody.matches
    assert (with_b.received, with_b.unreadable, with_b.charged) == \
        (with_nobody.received, with_nobody.unreadable, with_nobody.charged)


def test_blocks_hide_whatever_the_setting(platform) -> None:
    a, b = register(platform), register(platform)
    set_all(platform, b, "everyone")
    platform.social.block(b.id, a.id)
    assert found(platform, a, [b.phone]) == set()


def test_email_and_phone_settings_are_separate(platform) -> None:
    a, b = register(platform), register(platform)
    email = unique_email()
    platform.accounts.request_code(email, ADDRESS, Purpose.ADD_IDENTIFIER, b.id)
    platform.accounts.add_identifier(b.id, email, last_code(platform, email))
    rows = {r["kind"]: r["identifier_id"] for r in platform.discovery.settings(b.id)}
    platform.discovery.set_discoverability(b.id, rows["email"], "everyone")
    platform.discovery.set_discoverability(b.id, rows["phone"], "nobody")
    vouch_for(platform, a)
    assert found(platform, a, [b.phone]) == set()
    result = platform.discovery.sync(a.id, ADDRESS, [b.phone, email.upper()])
    assert [m.identifiers for m in result.matches] == [[email]]  # never the nobody phone


def test_setting_someone_elses_identifier_is_not_found(platform) -> None:
    a, b = register(platform), register(platform)
    other = platform.discovery.settings(b.id)[0]["identifier_id"]
    with pytest.raises(NotFound):
        platform.discovery.set_discoverability(a.id, other, "everyone")


# --- charging and what is kept ---------------------------------------------------------------------

def test_only_new_identifiers_are_charged(platform) -> None:
    a = register(platform)
    book = [unique_phone() for _ in range(30)]
    assert platform.discovery.sync(a.id, ADDRESS, book).charged == 30
    assert platform.discovery.sync(a.id, ADDRESS, book).charged == 0
    assert platform.discovery.sync(a.id, ADDRESS, book + [unique_phone()]).charged == 1


def test_non_members_are_not_kept_in_any_reversible_form(platform) -> None:
    a, b = register(platform), register(platform)
    outsiders = [unique_phone() for _ in range(20)]
    platform.discovery.sync(a.id, ADDRESS, outsiders + [b.phone])
    bidx = {platform.discovery.bidx.of(parse_identifier(n, "US")).hex() for n in outsiders}
    with platform.engine.connect() as conn:
        tags = unpack(conn.execute(text(
            "SELECT tags FROM discovery_seen_sets WHERE person_id = :p"), {"p": a.id}).scalar())
        edges = conn.execute(text("SELECT contact_id FROM address_book_edges "
                                  "WHERE owner_id = :p"), {"p": a.id}).scalars().all()
        dump = []
        for table in conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type='table'" if
                platform.engine.dialect.name == "sqlite" else
                "SELECT tablename FROM pg_tables WHERE schemaname='public'")).scalars():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                dump.append(repr(tuple(row)))
    assert edges == [b.id]  # members only, as ids
    assert len(tags) == 21 and all(0 <= t < 2**20 for t in tags)  # 20-bit lossy tags
    blob = "\n".join(dump)
    for number in outsiders:
        assert number not in blob and number[2:] not in blob
    for h in bidx:
        assert h not in blob and bytes.fromhex(h) not in blob.encode()


def test_refused_sync_changes_nothing(tight) -> None:
    a, b = register(tight), register(tight)
    assert tight.discovery.sync(a.id, ADDRESS, [unique_phone() for _ in range(45)]).charged == 45
    with pytest.raises(RateLimited) as refused:
        tight.discovery.sync(a.id, ADDRESS, [b.phone] + [unique_phone() for _ in range(10)])
    assert refused.value.retry_after > 0
    with tight.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM address_book_edges WHERE owner_id=:p"),
                            {"p": a.id}).scalar() == 0
    assert tight.discovery.sync(a.id, ADDRESS, [b.phone]).charged == 1  # 5 tokens were left


def test_too_many_entries_is_413(platform) -> None:
    a = register(platform)
    with pytest.raises(TooLarge):
        platform.discovery.sync(a.id, ADDRESS, ["+12015550100"] * 10_001)


# --- stranger budget, per-person cap --------------------------------------------------------------

def test_strangers_cost_budget_people_who_know_you_do_not(platform) -> None:
    a = register(platform)
    strangers = [register(platform) for _ in range(4)]
    for s in strangers:
        set_all(platform, s, "everyone")
    knows_a = old_member(platform)
    found(platform, knows_a, [a.phone])  # knows_a has a in their book (and finds nobody)
    got = found(platform, a, [s.phone for s in strangers] + [knows_a.phone])
    # a fresh account known by one person: strangers_per_known_by x 1, and knows_a is free
    per_voucher = DiscoveryLimits().strangers_per_known_by
    assert 0 < per_voucher < len(strangers)  # else this test proves nothing
    assert knows_a.id in got and len(got - {knows_a.id}) == per_voucher
    again = found(platform, a, [s.phone for s in strangers] + [knows_a.phone])
    assert got <= again  # what was shown once stays free


def test_friends_raise_the_stranger_budget(platform) -> None:
    a = register(platform)
    for _ in range(3):
        befriend(platform, a, old_member(platform))
    strangers = [register(platform) for _ in range(8)]
    for s in strangers:
        set_all(platform, s, "everyone")
    per_friend = DiscoveryLimits().strangers_per_friend
    assert 0 < 3 * per_friend < len(strangers)  # else this test proves nothing
    assert len(found(platform, a, [s.phone for s in strangers])) == 3 * per_friend


def test_fresh_accounts_cannot_vouch_for_each_other(platform) -> None:
    """A sybil ring: fresh accounts that befriend each other and hold each other in their
    synced books. None of it is standing, so none of them finds a single stranger."""
    ring = [register(platform) for _ in range(6)]
    for i, a in enumerate(ring):
        set_all(platform, a, "nobody")
        for b in ring[i + 1:]:
            befriend(platform, a, b)
    for a in ring:
        found(platform, a, [b.phone for b in ring if b is not a])
    strangers = [register(platform) for _ in range(5)]
    for s in strangers:
        set_all(platform, s, "everyone")
    for a in ring:
        assert found(platform, a, [s.phone for s in strangers]) == set()


def test_young_friends_count_once_their_accounts_are_old_enough(platform, clock) -> None:
    a = register(platform)
    befriend(platform, a, register(platform))
    stranger = register(platform)
    set_all(platform, stranger, "everyone")
    assert found(platform, a, [stranger.phone]) == set()  # a fresh friend vouches for nothing
    clock.advance(days=31)
    assert found(platform, a, [stranger.phone]) == {stranger.id}  # now it is an old friend


def test_an_established_young_account_vouches_and_its_earlier_book_counts(platform) -> None:
    """A newcomer whose book was synced before anyone knew them vouches from the moment
    they are established: the contacts they synced earlier count from then on."""
    newcomer, target = register(platform), register(platform)
    set_all(platform, target, "nobody")
    found(platform, newcomer, [target.phone])  # newcomer cannot vouch yet
    stranger = register(platform)
    set_all(platform, stranger, "everyone")
    assert found(platform, target, [stranger.phone]) == set()
    for _ in range(5):  # five long-standing members have the newcomer: established
        vouch_for(platform, newcomer)
    found(platform, newcomer, [target.phone])  # the next sync vouches for the whole book
    assert found(platform, target, [stranger.phone]) == {stranger.id}


def test_person_found_by_many_strangers_is_hidden_and_told(tight) -> None:
    target = register(tight)
    set_all(tight, target, "everyone")
    friend = register(tight)
    befriend(tight, target, friend)
    searchers = [register(tight) for _ in range(4)]
    for s in searchers:  # each known by one person: may find strangers, not established
        vouch_for(tight, s)
    results = [found(tight, s, [target.phone], address=f"203.0.{i}.9")
               for i, s in enumerate(searchers)]
    assert results[:3] == [{target.id}] * 3 and results[3] == set()
    assert found(tight, friend, [target.phone]) == {target.id}  # friends still find them
    assert found(tight, searchers[0], [target.phone]) == {target.id}  # shown before: kept
    [notice] = tight.discovery.notices(target.id)
    assert notice["kind"] == "hidden_from_strangers"


def test_established_strangers_do_not_count_toward_the_cap(tight) -> None:
    """People with standing who have someone in their book (a plumber's customers) find them
    every day; only accounts nobody vouches for count toward hiding the person."""
    target = register(tight)
    set_all(tight, target, "everyone")
    searchers = [register(tight) for _ in range(5)]
    for s in searchers:
        for _ in range(3):  # 3 friends: score 3 + known_by 2 = established (5)
            befriend(tight, s, old_member(tight))
        vouch_for(tight, s)
        vouch_for(tight, s)
    results = [found(tight, s, [target.phone], address=f"203.0.{i}.9")
               for i, s in enumerate(searchers)]
    assert results == [{target.id}] * 5  # past the cap of 3, still found
    assert tight.discovery.notices(target.id) == []


# --- detectors and escalation -------------------------------------------------------------------------

def sweep(n: int, start: int = 100) -> list[str]:
    area = unique_phone()[2:5]
    return [f"+1{area}555{start + i:04d}" for i in range(n)]


def test_range_sweep_requires_reverification_then_freezes(tight, clock) -> None:
    a = register(tight)
    tight.discovery.sync(a.id, ADDRESS, sweep(25))
    with pytest.raises(ReverificationRequired):
        tight.discovery.sync(a.id, ADDRESS, [])
    alerts = tight.discovery.alerts()
    assert any(x.kind == "range_sweep" and x.account_id == a.id and x.level == "reverify"
               for x in alerts)
    # prove control again: allowed, but slowed
    clock.advance(minutes=1)
    tight.accounts.request_code(a.phone, ADDRESS, Purpose.REVERIFY, a.id)
    tight.accounts.confirm_control(a.id, a.phone, last_code(tight, a.phone))
    tight.discovery.reverified(a.id)
    tight.discovery.sync(a.id, ADDRESS, [])
    with pytest.raises(RateLimited):
        tight.discovery.sync(a.id, ADDRESS, [])
    clock.advance(days=1)
    tight.discovery.sync(a.id, ADDRESS, sweep(25, start=2000))  # again: a repeat offence
    with pytest.raises(DiscoveryFrozen):
        tight.discovery.sync(a.id, ADDRESS, [])
    with pytest.raises(DiscoveryFrozen):
        tight.discovery.reverified(a.id)  # a code cannot lift a freeze
    tight.discovery.lift(a.id)
    assert tight.discovery.sync(a.id, ADDRESS, []).level is Level.NORMAL


def test_frozen_survives_a_restart_of_the_counter_store(tight, settings, clock, passwords) -> None:
    a = register(tight)
    tight.discovery.sync(a.id, ADDRESS, sweep(25))
    clock.advance(days=1)
    tight.discovery.reverified(a.id)
    tight.discovery.sync(a.id, ADDRESS, sweep(25, start=3000))
    fresh = build(settings.model_copy(update={"discovery_limits": tight.settings.discovery_limits}),
                  clock=clock, limiter=MemoryRateLimiter(clock.timestamp), passwords=passwords)
    try:
        with pytest.raises(DiscoveryFrozen):
            fresh.discovery.sync(a.id, ADDRESS, [])
    finally:
        fresh.close()


def test_unallocated_numbers_are_detected(tight) -> None:
    a = register(tight)
    fake = [f"+1201000{i:04d}" for i in range(12)]  # exchange 000 is never assigned
    tight.discovery.sync(a.id, ADDRESS, fake)
    assert any(x.kind == "unallocated_numbers" for x in tight.discovery.alerts()
               if x.account_id == a.id)


def test_a_large_sync_checks_a_sample_of_numbers_and_still_sees_unallocated_ones(
        platform, monkeypatch) -> None:
    """The allocation check (phonenumbers' validity, the costly half of reading a number) runs
    on at most `allocation_checks_per_sync` new non-member numbers; the count scales up."""
    import palisade.services.discovery.sync as sync_module

    calls = []

    def counting(entry, region):
        calls.append(entry)
        return real(entry, region)

    real = sync_module.is_allocated
    monkeypatch.setattr(sync_module, "is_allocated", counting)
    a = register(platform)
    fake = [f"+1201000{(i * 37) % 10_000:04d}" for i in range(600)]  # exchange 000: unassigned
    platform.discovery.sync(a.id, ADDRESS, fake)
    assert len(calls) == DiscoveryLimits().allocation_checks_per_sync
    assert any(x.kind == "unallocated_numbers" for x in platform.discovery.alerts()
               if x.account_id == a.id)


def test_reverification_code_only_for_your_own_identifier(platform, clock) -> None:
    a, b = register(platform), register(platform)
    clock.advance(minutes=1)
    with pytest.raises(InvalidInput) as other:
        platform.accounts.request_code(b.phone, ADDRESS, Purpose.REVERIFY, a.id)
    with pytest.raises(InvalidInput) as nobody:
        platform.accounts.request_code(unique_phone(), ADDRESS, Purpose.REVERIFY, a.id)
    assert other.value.detail == nobody.value.detail  # the same words: no membership oracle


def test_address_groups_share_a_budget_established_accounts_do_not_pay(tight) -> None:
    fresh = [register(tight) for _ in range(2)]
    tight.discovery.sync(fresh[0].id, "192.0.2.10", [unique_phone() for _ in range(45)])
    with pytest.raises(RateLimited):  # same /24, another fresh account: 45 + 45 > 80
        tight.discovery.sync(fresh[1].id, "192.0.2.200", [unique_phone() for _ in range(45)])
    established = register(tight)
    for _ in range(5):
        befriend(tight, established, old_member(tight))
    tight.discovery.sync(established.id, "192.0.2.99", [unique_phone() for _ in range(45)])


def test_erasure_removes_discovery_rows(platform) -> None:
    a, b = register(platform), register(platform)
    found(platform, a, [b.phone, unique_phone()])
    found(platform, b, [a.phone])
    counts = platform.maintenance.erase(a.id).rows_deleted
    assert counts["address_book_edges"] == 2 and counts["discovery_seen_sets"] == 1


class CountingStore:
    """Wraps the guard's counter store and records which operations a sync performs."""

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, []

    def __getattr__(self, name: str):
        attr = getattr(self.inner, name)

        def record(*args, **kwargs):
            self.calls.append(name)
            return attr(*args, **kwargs)
        return record


def test_a_nobody_identifier_costs_the_same_work_as_a_non_member(platform) -> None:
    """Constant shape: the same number of SQL statements and the same counter-store
    operations, so neither the answer nor the work done says 'this number is a member'."""
    from sqlalchemy import event

    a, hidden = register(platform), register(platform)
    set_all(platform, hidden, "nobody")
    statements: list[str] = []
    event.listen(platform.engine, "before_cursor_execute",
                 lambda *args: statements.append(args[2].split()[0]))
    store = CountingStore(platform.discovery.guard.store)
    platform.discovery.guard.store = store

    def work(number: str) -> tuple[list[str], list[str]]:
        statements.clear()
        store.calls.clear()
        result = platform.discovery.sync(a.id, ADDRESS, [number])
        assert result.matches == []
        return list(statements), list(store.calls)

    work(unique_phone())  # warm up caches of the first sync
    assert work(hidden.phone) == work(unique_phone())


def test_a_sync_that_finds_nothing_reads_no_level_again(platform) -> None:
    """With no finding, the detectors report the level `admit` read instead of asking the
    counter store again (with several processes, each read is a Redis round trip)."""
    a = register(platform)
    store = CountingStore(platform.discovery.guard.store)
    platform.discovery.guard.store = store
    result = platform.discovery.sync(a.id, ADDRESS, [unique_phone() for _ in range(20)])
    assert result.charged == 20 and result.level == Level.NORMAL
    assert "add" in store.calls
    assert "get" not in store.calls[store.calls.index("add"):]
