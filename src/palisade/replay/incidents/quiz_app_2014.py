"""2014, the quiz app: about 270,000 people installed a personality quiz, and the friends
permission of the day handed the app their friends' profiles too, about 87 million people
who never installed it. Here N people authorize a quiz app for every field and purpose it
asks; the app then requests everything it can, with every token, for every purpose: each
person's own record, their friends list page by page, every id it has seen, the internal ids
of their friends (as if it had learned them elsewhere), and the person-facing routes.

Control: the app receives each installer's granted fields. Exposed beyond consent: every
person who did not authorize the app but whose name or any other field value appears in
anything the app received."""

from __future__ import annotations

from itertools import pairwise

from palisade.replay.context import Context
from palisade.replay.incidents.base import play
from palisade.replay.population import Member, Population, graph_call, pages
from palisade.replay.report import IncidentResult

NAME = "quiz_app"
HISTORICAL = "2014: a quiz app installed by ~270,000 people harvested ~87 million people's profiles"

PURPOSES = ["sign_in", "personalisation", "communication", "analytics", "advertising",
            "research"]
FIELDS = ["name", "birthday", "location", "bio", "relationship_status", "friends"]
PUBLIC_EVERYTHING = {f: "everyone" for f in FIELDS if f != "friends"}


def run(ctx: Context) -> IncidentResult:
    return play(ctx, NAME, HISTORICAL, _attack)


def _attack(ctx: Context, pop: Population, result: IncidentResult) -> None:
    installers_n, friends_n = (3, 3) if ctx.quick else (8, 6)
    installers = [pop.person(f"Installer{i}", {"birthday": f"1990-01-{i + 1:02d}",
                                               "location": f"Town{i}"}, PUBLIC_EVERYTHING)
                  for i in range(installers_n)]
    # friends who never install: everything public, the worst case for a leak
    friends: list[Member] = []
    for i, installer in enumerate(installers):
        for j in range(friends_n):
            friend = pop.person(f"Friend{i}x{j}", {
                "birthday": f"1980-02-{j + 1:02d}", "location": f"Village{i}{j}",
                "bio": f"never installed {ctx.tag}"}, PUBLIC_EVERYTHING)
            pop.befriend(installer, friend)
            friends.append(friend)
    for a, b in pairwise(installers):
        pop.befriend(a, b)  # installers who are friends may see each other
    developer = pop.person("QuizMaker", {}, {})
    client_id, secret = pop.register_app(developer, f"Which Palisade Are You {ctx.tag}",
                                         {f: PURPOSES for f in FIELDS})
    scope = " ".join(f"{f}:{p}" for f in FIELDS for p in PURPOSES)
    tokens = [pop.authorize(person, client_id, secret, scope) for person in installers]

    http = pop.client()
    bodies: list[str] = []
    seen_ids: set[str] = set()
    me_ok = 0
    for token in tokens:
        for purpose in PURPOSES:
            me = graph_call(http, token, "/v1/graph/me", purpose)
            bodies.append(me.text)
            if me.status_code == 200:
                seen_ids.add(me.json()["id"])
                ctx.collected.append((f"app:{client_id}", {"id": me.json()["id"],
                                                           **me.json()["fields"]}))
                ctx.received[token.person.id] = token.person
                me_ok += token.person.name in me.text and purpose == "personalisation"
            for page in pages(http, token, "/v1/graph/me/friends", purpose):
                bodies.append(page.text)
                if page.status_code == 200:
                    seen_ids.update(x["id"] for x in page.json()["data"])
    for token in tokens:
        for pid in sorted(seen_ids) + [f.id for f in friends]:
            bodies.append(graph_call(http, token, f"/v1/graph/people/{pid}").text)
        for path in ("/v1/graph/people", "/v1/me/profile", "/v1/friends",
                     f"/v1/people/{friends[0].id}/profile"):
            bodies.append(graph_call(http, token, path).text)
    everything = "\n".join(bodies)
    leaked = [f for f in friends if any(v in everything for v in f.fields.values())]
    result.detail.append(f"{len(bodies)} responses read; ids seen: {len(seen_ids)}")
    granted = sum(all(v in everything for v in i.fields.values()) for i in installers)
    control_ok = me_ok == len(installers) and granted == len(installers)
    result.control = (f"{granted} of {len(installers)} installers' granted fields "
                      f"received ({me_ok} /me answers with their name)")
    result.detail.append(f"{len(leaked)} of {len(friends)} friends who never installed "
                         "the app appear in what it received")
    result.judge(len(leaked), 0, control_ok)

