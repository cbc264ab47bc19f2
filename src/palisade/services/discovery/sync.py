"""Address-book sync: find the people you know, and only those who allow it.

One sync, in one transaction:
1. read every entry (any common formatting) to its canonical identifier;
2. keep only what the account has not sent before as *new* (lossy per-person tags);
3. ask the guard to admit the sync, charging the new identifiers (refused as a whole);
4. look every identifier up through the blind index, classify each member found (friend,
   friend of friend, has you in their own book, blocked) and let the guard reveal those the
   member's discoverability setting allows, within the stranger budget;
5. let the guard's detectors see the new identifiers (never the identifiers themselves:
   blocks and digits), on another thread, while this one records the account's book
   (members only, as ids) and the new tags;
6. answer with the people revealed and only the profile fields each lets this searcher see,
   once the detectors' findings are recorded (alerts, escalation, canaries).

The answer has the same shape whatever the entries were: members who may not be found,
members withheld by a budget, `nobody` identifiers and non-members are all simply absent,
and no count of them is returned.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from prometheus_client import Counter

from palisade.adapters.crypto import seen_tags
from palisade.adapters.crypto.blind_index import BlindIndex
from palisade.adapters.crypto.seen_tags import SeenTags
from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.log_repository import add_to_tallies
from palisade.adapters.storage.repository import Repository
from palisade.adapters.storage.tables import DiscoveryAlert, DiscoveryNotice
from palisade.domain.access import Relationship
from palisade.domain.discovery.address_book import (
    MAX_CONTACTS_PER_SYNC,
    Entry,
    is_allocated,
    read_entry,
)
from palisade.domain.discovery.aggregation import BLOCK_DIGITS, number_block
from palisade.domain.discovery.detectors import FindingKind
from palisade.domain.discovery.discoverability import (
    DEFAULT_DISCOVERABILITY,
    Discoverability,
    Tie,
    may_find,
)
from palisade.domain.discovery.escalation import Level
from palisade.domain.discovery.quotas import DAY, Standing
from palisade.domain.errors import (
    DiscoveryFrozen,
    InvalidInput,
    NotFound,
    RateLimited,
    ReverificationRequired,
    TooLarge,
)
from palisade.domain.identifiers import IdentifierKind
from palisade.domain.notifications import NotificationKind
from palisade.services.clock import Clock
from palisade.services.discovery.guard import (
    Alert,
    Candidate,
    DiscoveryGuard,
    Lookup,
    Searcher,
)
from palisade.services.leaks.canaries import Canaries, Canary
from palisade.services.notifications import notify
from palisade.services.profiles import Profiles

SYNCED = Counter("palisade_discovery_identifiers_total",
                 "Address-book entries received by contact discovery", ["outcome"])
REFUSED = Counter("palisade_discovery_refusals_total", "Syncs refused", ["reason"])
REVEALED = Counter("palisade_discovery_revealed_total", "People revealed by syncs", ["tie"])
FINDINGS = Counter("palisade_discovery_findings_total", "Detector findings", ["kind"])
ALERTS = Counter("palisade_discovery_alerts_total", "Operator alerts raised", ["kind"])


# Threads for the detectors' step of concurrent syncs (each sync holds one for the length of
# a Redis round trip); a sync that finds them all busy waits for one.
DETECTOR_THREADS = 16


class SyncMode(StrEnum):
    FULL = "full"  # the whole address book: the synced book becomes exactly this
    INCREMENTAL = "incremental"  # additions (and removals) since the last sync


# findings that put an account on the canary watch list: patterns of scraping, never of an
# honest address book (see services.leaks.canaries)
CANARY_TRIGGERS = frozenset({FindingKind.RANGE_SWEEP, FindingKind.UNALLOCATED_NUMBERS,
                             FindingKind.LEAKED_LIST_VALIDATION, FindingKind.STRANGER_HARVEST})

@dataclass(frozen=True)
class Match:
    person_id: str
    relationship: Relationship
    identifiers: list[str]  # the canonical forms of the entries that found this person
    fields: dict[str, str]


@dataclass(frozen=True)
class SyncResult:
    matches: list[Match]
    received: int
    unreadable: int
    charged: int  # identifiers this account had not sent before
    level: Level


@dataclass
class _Book:
    entries: dict[str, Entry] = field(default_factory=dict)  # canonical -> entry
    unreadable: int = 0


def _read_book(raw: list[str], region: str) -> _Book:
    book = _Book()
    for item in raw:
        entry = read_entry(item, region)
        if entry is None:
            book.unreadable += 1
        else:
            book.entries.setdefault(entry.identifier.value, entry)
    return book


class Discovery:
    def __init__(self, uow: UnitOfWork, guard: DiscoveryGuard, blind_index: BlindIndex,
                 tags: SeenTags, profiles: Profiles, clock: Clock, default_region: str,
                 canaries: Canaries | None = None) -> None:
        self.uow = uow
        self.canaries = canaries
        self.guard = guard
        self.bidx = blind_index
        self.tags = tags
        self.profiles = profiles
        self.clock = clock
        self.region = default_region
        # where `DiscoveryGuard.observe` runs during a sync (see step 5 of `sync`)
        self._detectors = ThreadPoolExecutor(DETECTOR_THREADS,
                                             thread_name_prefix="palisade-detectors")

    def close(self) -> None:
        self._detectors.shutdown(wait=True)

    # --- sync -------------------------------------------------------------------------------
    def sync(self, person_id: str, address: str, contacts: list[str],
             mode: SyncMode = SyncMode.FULL, removed: list[str] | None = None) -> SyncResult:
        removed = removed or []
        if len(contacts) + len(removed) > MAX_CONTACTS_PER_SYNC:
            raise TooLarge(f"At most {MAX_CONTACTS_PER_SYNC} entries per sync; send a large "
                           "address book in several incremental syncs.")
        book = _read_book(contacts, self.region)
        gone = _read_book(removed, self.region)
        now_dt = self.clock()
        now = now_dt.timestamp()
        with self.uow() as session:
            repo = Repository(session)
            limits = self.guard.limits
            facts = repo.sync_facts(
                person_id, now_dt - timedelta(days=limits.voucher_min_age_days))
            if facts is None:
                raise NotFound("No such person.")
            floor = Level(min(facts.level or 0, Level.FROZEN))
            searcher = Searcher(person_id, address, Standing(
                age_days=max(0.0, (now_dt - facts.created_at).total_seconds() / DAY),
                friends=int(facts.friends), known_by=int(facts.known_by)), floor)

            canon = list(book.entries)
            tag_of = {c: self.tags.of(person_id, book.entries[c].identifier) for c in canon}
            seen = seen_tags.unpack(facts.seen)
            new = [c for c in canon if tag_of[c] not in seen]

            admission = self.guard.admit(searcher, len(new), now)
            if not admission.allowed:
                REFUSED.labels(admission.reason).inc()
                self._refuse(admission.reason, admission.retry_after)

            # 4. members, ties, reveal
            # every readable entry is looked up: a member's number is one that validated when
            # it was verified, so an unallocated one simply finds nobody
            bidx_of = {self.bidx.of(book.entries[c].identifier): c for c in canon}
            members = repo.members_by_bidx(list(bidx_of), hold_for=person_id)  # AddressBookEdge
            by_person: dict[str, list[tuple[str, Discoverability]]] = {}
            member_canon: set[str] = set()
            for row in members:
                c = bidx_of[row.value_bidx]
                member_canon.add(c)
                if row.person_id == person_id:
                    continue
                try:
                    setting = Discoverability(row.discoverability)
                except ValueError:
                    setting = Discoverability.NOBODY  # an unknown value is never permissive
                by_person.setdefault(row.person_id, []).append((c, setting))
            others = sorted(by_person)
            ties = repo.discovery_ties(person_id, others, now_dt, int(facts.degree))
            candidates: list[Candidate] = []
            allowed_via: dict[str, list[str]] = {}
            for pid in others:
                tie = Tie(friend=pid in ties["friend"], friend_of_friend=pid in ties["fof"],
                          has_you=pid in ties["has_you"], blocked=pid in ties["blocked"])
                via = [c for c, setting in by_person[pid] if may_find(setting, tie)]
                if not via:
                    continue
                allowed_via[pid] = via
                setting = next(s for c, s in by_person[pid] if c == via[0])
                candidates.append(Candidate(pid, setting, tie, pid in ties["revealed"],
                                            pid in ties["hidden"]))
            reveal = self.guard.reveal(searcher, candidates, now)

            # 5. the detectors look at the new identifiers (never the identifiers themselves:
            # blocks and digits) on another thread while this one records the book and the
            # tags: with several processes their counters are a Redis round trip, which need
            # not wait for the database (only what changed is written; each statement runs
            # whatever the book held)
            lookups = self._lookups(book, new, member_canon)
            observing = self._detectors.submit(self.guard.observe, searcher, lookups,
                                               reveal.withheld, now, admission.level)
            if mode is SyncMode.FULL:
                repo.remove_edges(person_id, contacts=ties["mine"].difference(others))
            else:
                gone_ids = [self.bidx.of(e.identifier) for e in gone.entries.values()]
                gone_people = {r.person_id for r in repo.members_by_bidx(gone_ids)}
                if gone_people:
                    repo.remove_edges(person_id, contacts=gone_people)
            mine, shown = ties["mine"], ties["revealed"]
            repo.add_edges_always(person_id, [p for p in others if p not in mine], now_dt,
                                  limits.vouches(searcher.standing),
                                  unvouched=bool(ties["unvouched"]),
                                  revealed=[p for p in reveal.found if p not in mine])
            repo.mark_revealed(person_id, [p for p in reveal.found
                                           if p in mine and p not in shown], now_dt)
            if new:
                repo.save_seen(person_id, seen_tags.pack(seen.union(tag_of[c] for c in new)))

            # 6. the answer (what each person found shows), then what the detectors found
            relationships = {pid: (Relationship.FRIEND if pid in ties["friend"] else
                                   Relationship.FRIEND_OF_FRIEND if pid in ties["fof"] else
                                   Relationship.STRANGER) for pid in reveal.found}
            rendered = self.profiles.render_many(repo, relationships)
            observation = observing.result()
            self._record(repo, person_id, observation.findings, observation.alerts,
                         observation.level, reveal.overexposed, now_dt)
            shown_canaries = self._canaries(repo, person_id, book, canon, new, member_canon,
                                            observation.findings, bool(facts.watched), now_dt)
            matches = [Match(pid, relationships[pid], allowed_via[pid], rendered[pid].fields)
                       for pid in reveal.found if pid in rendered]
            matches += [Match(c.scoped_id, Relationship.STRANGER, [c.phone],
                              {"name": c.profile["name"]}) for c in shown_canaries]
            known = sum(pid in ties["friend"] or pid in ties["has_you"] for pid in reveal.found)
            REVEALED.labels("known").inc(known)
            REVEALED.labels("other").inc(len(reveal.found) - known)
            # each person's access log counts, per day, who found them for the first time
            add_to_tallies(repo.s, "discovery_finds", now_dt.date(), {
                pid: (1, int(relationships[pid] is Relationship.STRANGER))
                for pid in reveal.found if pid not in shown})
        SYNCED.labels("new").inc(len(new))
        SYNCED.labels("seen").inc(len(canon) - len(new))
        SYNCED.labels("unreadable").inc(book.unreadable)
        return SyncResult(matches, len(contacts), book.unreadable, len(new), observation.level)

    def _lookups(self, book: _Book, new: list[str], member_canon: set[str]) -> list[Lookup]:
        """The new identifiers as the detectors see them. A member's number was checked
        when it was verified; of the rest, the guard's random sample gets the allocation
        check (the costly half of reading a number) and the others go unchecked (None)."""
        lookups: list[Lookup] = []
        unchecked: list[tuple[Lookup, Entry]] = []
        phone = IdentifierKind.PHONE
        for c in new:
            entry = book.entries[c]
            member = c in member_canon
            if entry.identifier.kind is not phone:
                lookups.append(Lookup(None, None, True, member))
                continue
            x = Lookup(number_block(c), c[-BLOCK_DIGITS:], True if member else None, member)
            lookups.append(x)
            if not member:
                unchecked.append((x, entry))
        for i in self.guard.allocation_sample(len(unchecked)):
            x, entry = unchecked[i]
            x.allocated = is_allocated(entry, self.region)
        return lookups

    @staticmethod
    def _refuse(reason: str, retry_after: float) -> None:
        if reason == "frozen":
            raise DiscoveryFrozen("Contact discovery is paused for this account while its "
                                  "recent activity is reviewed. Contact support.")
        if reason == "reverify":
            raise ReverificationRequired(
                "This account's recent syncs look automated. Ask for a code at "
                "/v1/discovery/reverify/code and confirm it at /v1/discovery/reverify.")
        wait = max(1, int(retry_after + 0.999)) if retry_after != float("inf") else 86_400
        detail = {
            "slowed": "Syncing too often; wait before the next sync.",
            "identifiers": "This account has looked up too many new numbers and addresses "
                           "recently; the allowance refills over time.",
            "address": "Too many new look-ups from your network recently; try again later.",
        }.get(reason, "Try again later.")
        raise RateLimited(detail, retry_after=wait)

    def _canaries(self, repo: Repository, person_id: str, book, canon: list[str],  # type: ignore[no-untyped-def]
                  new: list[str], member_canon: set[str], findings: list, watched: bool,
                  now: datetime) -> list[Canary]:
        """Canaries for an account the detectors flagged (it goes on the watch list): a few
        of the numbers it asked for that nobody here holds come back as synthetic people
        minted for it alone. Honest accounts are never flagged, so never see one."""
        if self.canaries is None:
            return []
        mine = [f for f in findings if f.kind in CANARY_TRIGGERS and f.subject == person_id]
        if mine:
            Canaries.watch_in(repo.s, "discovery", person_id, mine[0].kind.value, now)
        elif not watched:  # read with the searcher's other facts (Repository.sync_facts)
            return []
        phones = [c for c in canon if c not in member_canon
                  and book.entries[c].identifier.kind is IdentifierKind.PHONE]
        fresh = set(new)
        return self.canaries.for_discovery(
            repo.s, person_id, [book.entries[c].identifier.value for c in phones],
            [book.entries[c].identifier.value for c in phones if c in fresh])

    def _record(self, repo: Repository, person_id: str, findings: list, alerts: list[Alert],
                level: Level, overexposed: list[str], now: datetime) -> None:
        for finding in findings:
            FINDINGS.labels(finding.kind.value).inc()
        for alert in alerts:
            ALERTS.labels(alert.finding.kind.value).inc()
            repo.add(DiscoveryAlert(kind=alert.finding.kind.value,
                                    subject=alert.finding.subject[:100],
                                    account_id=alert.account,
                                    level=alert.level.name.lower() if alert.level else None,
                                    detail=alert.finding.detail[:500], created_at=now))
        if level >= Level.REVERIFY:
            repo.upsert_discovery_state(person_id, now, level=int(level))
        window = timedelta(days=self.guard.limits.person_window_days)
        for pid in overexposed:
            repo.upsert_discovery_state(pid, now, hidden_until=now + window)
            repo.add(DiscoveryNotice(
                person_id=pid, kind="hidden_from_strangers", created_at=now,
                detail=(f"Many people who do not know you looked you up by phone number or "
                        f"email recently, so you are hidden from people outside your "
                        f"contacts and friends until {(now + window).date().isoformat()}. "
                        "You can also change who can find you in your discovery settings.")))
            notify(repo.s, pid, NotificationKind.STRANGER_LOOKUPS,
                   "Many people who do not know you looked you up, so you are hidden from "
                   f"strangers until {(now + window).date().isoformat()}.", now)
            FINDINGS.labels("person_overexposed").inc()

    # --- settings, notices, re-verification, operators ------------------------------------------
    def settings(self, person_id: str) -> list[dict[str, str]]:
        with self.uow() as session:
            repo = Repository(session)
            return [{"identifier_id": r.id, "kind": r.kind,
                     "discoverability": r.discoverability or DEFAULT_DISCOVERABILITY.value}
                    for r in repo.identifiers_of(person_id)]

    def set_discoverability(self, person_id: str, identifier_id: str,
                            setting: Discoverability | str) -> None:
        try:
            setting = Discoverability(setting)
        except ValueError:
            raise InvalidInput("discoverability must be one of: "
                               + ", ".join(d.value for d in Discoverability) + ".") from None
        with self.uow() as session:
            repo = Repository(session)
            row = next((r for r in repo.identifiers_of(person_id) if r.id == identifier_id), None)
            if row is None:
                raise NotFound("You have no identifier with that id.")
            row.discoverability = setting.value

    def notices(self, person_id: str) -> list[dict[str, str]]:
        with self.uow() as session:
            return [{"kind": n.kind, "detail": n.detail, "created_at": n.created_at.isoformat()}
                    for n in Repository(session).notices(person_id)]

    def reverified(self, person_id: str) -> None:
        now_dt = self.clock()
        with self.uow() as session:
            repo = Repository(session)
            state = repo.discovery_state(person_id, for_update=True)
            if state is not None and state.level == Level.FROZEN:
                raise DiscoveryFrozen("Contact discovery is paused for this account pending "
                                      "review; a code cannot lift that.")
            if state is not None and state.level:
                repo.upsert_discovery_state(person_id, now_dt, level=int(Level.NORMAL))
        self.guard.reverified(person_id, now_dt.timestamp())

    def freeze(self, person_id: str) -> None:
        """Operator: freeze an account's discovery (containment after a leak)."""
        now_dt = self.clock()
        with self.uow() as session:
            repo = Repository(session)
            if repo.person(person_id) is None:
                raise NotFound("No such person.")
            repo.upsert_discovery_state(person_id, now_dt, level=int(Level.FROZEN))

    def lift(self, person_id: str) -> None:
        """Operator: lift every discovery restriction from an account after review."""
        now_dt = self.clock()
        with self.uow() as session:
            repo = Repository(session)
            if repo.person(person_id) is None:
                raise NotFound("No such person.")
            repo.upsert_discovery_state(person_id, now_dt, level=int(Level.NORMAL))
        self.guard.lift(person_id, now_dt.timestamp())

    def alerts(self, after_id: int | None = None, limit: int = 100) -> list[DiscoveryAlert]:
        if limit < 1 or limit > 1000:
            raise InvalidInput("limit must be between 1 and 1000.")
        with self.uow() as session:
            return list(Repository(session).alerts(after_id, limit))
