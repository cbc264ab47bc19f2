"""Generate and load a synthetic population.

Nothing here is real. Phone numbers come from a synthetic numbering plan inside the North
American plan's 555 exchange (NPA-555-XXXX), which is not assigned to subscribers (555-01XX
is reserved for fiction); `phonenumbers` accepts them as valid, so they go through the same
normalisation as real numbers. Emails use the RFC 2606 reserved domains example.com/.org/.net.

The friendship graph is clustered: people belong to a home community (family, school,
neighbourhood) and some to a second one (work), with dense ties inside communities and a few
long-range ties across them, so friends-of-friends is a meaningful, non-trivial audience.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import phonenumbers

from palisade.adapters.crypto.blind_index import BlindIndex
from palisade.adapters.crypto.envelope import Envelope, new_data_key, seal
from palisade.adapters.storage.repository import Repository
from palisade.adapters.storage.tables import (
    Conversation,
    DataKey,
    AddressBookEdge,
    Friendship,
    IdentifierRow,
    Message,
    Person,
    ProfileRow,
)
from palisade.domain.identifiers import Identifier, IdentifierKind
from palisade.domain.profile import RELATIONSHIP_STATUSES, Audience
from palisade.services.people import (
    identifier_context,
    message_context,
    new_id,
    profile_context,
)

FIRST = ("Ada Alan Amara Anouk Aiko Bea Bilal Bruno Carmen Chen Chidi Dalia Dario Dev Ebba Elif "
         "Emeka Esme Farah Felix Fern Gael Grace Hana Hugo Ines Ivan Jae Jonah Jun Kai Kalinda "
         "Kofi Lale Leo Lin Lucia Malik Mara Mateo Mei Mira Nadia Nico Nour Olu Omar Oona Pablo "
         "Priya Quinn Rafael Rania Ravi Rosa Sami Sana Seo Sofia Tariq Teo Thandi Uma Valentin "
         "Vera Wen Xavi Yara Yusuf Zara Zeno").split()
LAST = ("Abara Adeyemi Alvarez Andersen Bakker Banerjee Berg Castillo Chowdhury Costa Dubois "
        "Eriksen Farouk Fischer Garcia Gupta Haddad Hansen Ito Jensen Kahale Kim Kowalski "
        "Larsen Lee Lopez Martin Mendes Moreau Nakamura Nguyen Novak Okafor Olsen Park Patel "
        "Petrov Quispe Rahman Reyes Rossi Santos Sato Schmidt Silva Singh Sousa Tanaka Torres "
        "Urquhart Varga Vogel Wang Weber Xu Yamada Yilmaz Zhang Zimmermann").split()
CITIES = ("Springfield Riverton Lakeside Fairview Greenville Kingsport Oakdale Maplewood "
          "Brookhaven Ashford Clearwater Elmstead Harborview Highland Millbrook Northgate "
          "Pinecrest Redwood Silverton Westbury").split()
BIOS = ("Coffee first.", "Runner, reader, bad at chess.", "Plant parent.",
        "Amateur astronomer.", "Here for the photos of dogs.", "Cooking my way through a "
        "cookbook.", "Weekend cyclist.", "Learning the cello, slowly.", "Always planning the "
        "next trip.", "Board games and long walks.")
LINES = ("Are we still on for Saturday?", "Sounds good!", "Did you see the game?",
         "Running ten minutes late.", "Happy birthday!", "Can you send me that recipe?",
         "On my way.", "Thanks again for yesterday.", "Call me when you can.", "Ha, yes.")

DEMO_PHONE = "+12015550100"
DEMO_FRIEND_PHONE = "+12015550101"
DEMO_EMAIL = "demo@example.com"


def synthetic_area_codes() -> list[int]:
    """Area codes for which NPA-555-XXXX is a valid number to `phonenumbers`."""
    return [npa for npa in range(201, 990)
            if phonenumbers.is_valid_number(phonenumbers.parse(f"+1{npa}5550142"))]


@dataclass
class SyntheticPerson:
    id: str
    phone: str
    email: str
    fields: dict[str, str]
    audiences: dict[str, str]
    friends: set[int] = field(default_factory=set)


@dataclass
class Population:
    people: list[SyntheticPerson]
    conversations: list[tuple[int, int, int | None, list[tuple[int, str]]]]

    def edges(self) -> Iterator[tuple[int, int]]:
        for i, person in enumerate(self.people):
            for j in person.friends:
                if i < j:
                    yield i, j


def _audiences(rng: random.Random) -> dict[str, str]:
    if rng.random() < 0.6:
        return {}  # the defaults
    choices = {}
    for name in ("birthday", "location", "bio", "relationship_status", "photo_url"):
        if rng.random() < 0.4:
            choices[name] = rng.choice(list(Audience)).value
    for name in ("phone", "email"):
        if rng.random() < 0.15:
            choices[name] = rng.choice([Audience.FRIENDS, Audience.FRIENDS_OF_FRIENDS]).value
    return choices


def generate(n: int, seed: int = 2026, mean_degree: float = 12.0) -> Population:
    """A deterministic population of `n` people (n <= ~2.8 million numbers available)."""
    rng = random.Random(seed)
    area_codes = synthetic_area_codes()
    capacity = len(area_codes) * 9900
    if n > capacity - 2:
        raise ValueError(f"the synthetic numbering plan has room for {capacity} people")
    reserved = {DEMO_PHONE, DEMO_FRIEND_PHONE}
    phones = [f"+1{area_codes[slot // 9900]}555{100 + slot % 9900:04d}"
              for slot in rng.sample(range(capacity), min(capacity, n + len(reserved)))]
    phones = [ph for ph in phones if ph not in reserved][:n]
    people: list[SyntheticPerson] = []
    today = date(2026, 1, 1)
    for i, phone in enumerate(phones):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}.{i}@example.{rng.choice(['com', 'org', 'net'])}".lower()
        age_days = rng.randint(16 * 365, 85 * 365)
        fields = {"name": f"{first} {last}",
                  "birthday": (today - timedelta(days=age_days)).isoformat(),
                  "location": rng.choice(CITIES)}
        if rng.random() < 0.7:
            fields["bio"] = rng.choice(BIOS)
        if rng.random() < 0.5:
            fields["relationship_status"] = rng.choice(RELATIONSHIP_STATUSES)
        people.append(SyntheticPerson(new_id(), phone, email, fields, _audiences(rng)))
    # Two well-known personas to sign in as; they take the first two slots.
    if n >= 2:
        people[0].phone, people[0].email = DEMO_PHONE, DEMO_EMAIL
        people[0].fields["name"] = "Demo Person"
        people[1].phone = DEMO_FRIEND_PHONE
        people[1].fields["name"] = "Demo Friend"
        people[0].friends.add(1)
        people[1].friends.add(0)
    _clustered_friendships(people, rng, mean_degree)
    conversations = _conversations(people, rng)
    return Population(people, conversations)


def _clustered_friendships(people: list[SyntheticPerson], rng: random.Random,
                           mean_degree: float) -> None:
    n = len(people)
    order = list(range(n))
    rng.shuffle(order)
    communities: list[list[int]] = []
    pos = 0
    while pos < n:  # log-normal community sizes, median ~30
        size = max(3, int(rng.lognormvariate(math.log(30), 0.6)))
        communities.append(order[pos:pos + size])
        pos += size
    second = [rng.randrange(len(communities)) for _ in range(n)]
    for i in range(n):  # 30% also belong to a second (work) community
        if rng.random() < 0.3:
            communities[second[i]].append(i)
    inside = mean_degree * 0.85
    for members in communities:
        m = len(members)
        if m < 2:
            continue
        p = min(1.0, inside / (m - 1) / 1.3)
        for a_idx in range(m):
            a = members[a_idx]
            for b in rng.sample(members, min(m, max(0, int(rng.gauss(p * m, 1.5))))):
                if a != b:
                    people[a].friends.add(b)
                    people[b].friends.add(a)
    for a in range(n):  # weak ties across communities
        for _ in range(rng.choice((0, 1, 1, 2))):
            b = rng.randrange(n)
            if a != b:
                people[a].friends.add(b)
                people[b].friends.add(a)


def _conversations(people: list[SyntheticPerson], rng: random.Random
                   ) -> list[tuple[int, int, int | None, list[tuple[int, str]]]]:
    out = []
    for i, person in enumerate(people):
        for j in sorted(person.friends):
            if i < j and (rng.random() < 0.05 or i == 0):
                timer = rng.choice([None, None, None, 3600, 86400 * 7])
                msgs = [(rng.choice((i, j)), rng.choice(LINES)) for _ in range(rng.randint(2, 8))]
                out.append((i, j, timer, msgs))
    return out


def _discoverability(index: int, kind: IdentifierKind) -> str:
    """A spread of discovery settings: a quarter of phones findable by everyone, one in
    twenty by nobody, the rest (and every email) on the default."""
    if kind is IdentifierKind.PHONE and index % 20 < 5:
        return "everyone"
    if kind is IdentifierKind.PHONE and index % 20 == 5:
        return "nobody"
    return "mutual_contacts"


def _insert_friends(repo: Repository, edges: list[dict[str, object]]) -> None:
    """Friendships, and each friend in the other's synced address book (as if both had
    synced their contacts once), so `mutual_contacts` finds friends in the demo."""
    repo.bulk_insert(Friendship, edges)
    repo.bulk_insert(AddressBookEdge, [
        {"owner_id": e["person_id"], "contact_id": e["friend_id"], "created_at": e["created_at"],
         "revealed_at": None, "vouches": True} for e in edges])


def load(repo: Repository, population: Population, envelope: Envelope, blind_index: BlindIndex,
         now: datetime | None = None, batch: int = 2000,
         progress: Callable[[int], None] | None = None) -> None:
    """Insert the population through the same crypto the service uses, in bulk."""
    now = now or datetime.now(UTC)
    keys: dict[int, bytes] = {}
    people = population.people
    for start in range(0, len(people), batch):
        persons, data_keys, identifiers, profiles = [], [], [], []
        for idx in range(start, min(start + batch, len(people))):
            p = people[idx]
            key = keys[idx] = new_data_key()
            key_id, wrapped = envelope.wrap(p.id, key)
            persons.append({"id": p.id, "created_at": now, "password_hash": None})
            data_keys.append({"person_id": p.id, "master_key_id": key_id, "wrapped": wrapped})
            for kind, value in ((IdentifierKind.PHONE, p.phone), (IdentifierKind.EMAIL, p.email)):
                identifiers.append({
                    "id": new_id(), "person_id": p.id, "kind": kind.value,
                    "discoverability": _discoverability(idx, kind),
                    "value_bidx": blind_index.of(Identifier(kind, value)),
                    "value_ct": seal(key, value.encode(), identifier_context(p.id, kind.value)),
                    "verified_at": now})
            profiles.append({"person_id": p.id, "audiences": p.audiences, "updated_at": now,
                             "fields_ct": seal(key, json.dumps(p.fields).encode(),
                                               profile_context(p.id))})
        repo.bulk_insert(Person, persons)
        repo.bulk_insert(DataKey, data_keys)
        repo.bulk_insert(IdentifierRow, identifiers)
        repo.bulk_insert(ProfileRow, profiles)
        if progress:
            progress(len(persons))
    edges: list[dict[str, object]] = []
    for a, b in population.edges():
        edges.append({"person_id": people[a].id, "friend_id": people[b].id, "created_at": now})
        edges.append({"person_id": people[b].id, "friend_id": people[a].id, "created_at": now})
        if len(edges) >= batch * 4:
            _insert_friends(repo, edges)
            edges = []
    _insert_friends(repo, edges)
    for a, b, timer, msgs in population.conversations:
        pa, pb = sorted((people[a].id, people[b].id))
        conv_id = new_id()
        repo.bulk_insert(Conversation, [{"id": conv_id, "person_a": pa, "person_b": pb,
                                         "disappearing_seconds": timer, "created_at": now}])
        rows = []
        for k, (sender, text) in enumerate(msgs):
            sent = now - timedelta(minutes=5 * (len(msgs) - k))
            sid = people[sender].id
            rows.append({"conversation_id": conv_id, "sender_id": sid, "created_at": sent,
                         "expires_at": sent + timedelta(seconds=timer) if timer else None,
                         "body_ct": seal(keys[sender], text.encode(),
                                         message_context(conv_id, sid))})
        repo.bulk_insert(Message, rows)
