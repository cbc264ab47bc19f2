"""2010s, partners: device makers and large partners were given access that reached people's
private messages and their friends' data, whatever those people had chosen. Here the operator
signs a partner agreement for a few field:purpose pairs; two people opt in, two do not; they
are friends and write each other private messages. The partner then tries every route: its
own list of opted-in people, every id it has seen or could guess (the non-consenting
people's internal ids), friends lists, every conversation route, the person-facing routes,
its token as a bearer token, and a token asked for scopes beyond its agreement.

Control: the partner receives the opted-in people's agreed fields. Exposed beyond consent:
every person whose data reached the partner without their opt-in, each opted-in person whose
friends' names reached it, and each private message that reached it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from palisade.adapters.oauth.rfc9449_dpop import ProofKey
from palisade.replay.context import Context
from palisade.replay.http import expect
from palisade.replay.incidents.base import play
from palisade.replay.population import FORM, AppToken, Member, Population, graph_call, pages
from palisade.replay.report import IncidentResult

NAME = "partners"
HISTORICAL = ("2010s: device makers and large partners could read private messages and "
              "friends' data of people who never chose to share it")

SCOPES = ["name:research", "birthday:research"]
FIELDS = {"birthday": "1975-05-05", "location": "Oslo", "relationship_status": "single"}
AUDIENCES = {"name": "friends", "birthday": "friends", "location": "friends",
             "relationship_status": "friends"}


def run(ctx: Context) -> IncidentResult:
    return play(ctx, NAME, HISTORICAL, _attack)


def _attack(ctx: Context, pop: Population, result: IncidentResult) -> None:
    opted = [pop.person(f"OptedIn{i}", {**FIELDS, "birthday": f"1975-05-0{i + 1}"},
                        AUDIENCES) for i in range(2)]
    others = [pop.person(f"NotOptedIn{i}", {**FIELDS, "birthday": f"1966-06-0{i + 1}",
                                            "bio": f"never opted in {ctx.tag}"},
                         {**AUDIENCES, "bio": "everyone"}) for i in range(2)]
    for a in opted:
        for b in others:
            pop.befriend(a, b)
    http = pop.client()
    secrets_said: list[str] = []
    for a, b in zip(opted, others, strict=True):
        conversation = expect(http.post("/v1/conversations", token=a.token,
                                        json={"person_id": b.id}), 201).json()
        for author, reader in ((a, b), (b, a)):
            text = f"private note from {author.name} to {reader.name}"
            expect(http.post(f"/v1/conversations/{conversation['id']}/messages",
                             token=author.token, json={"body": text}), 201)
            secrets_said.append(text)

    operator = ctx.operator(pop)
    created = expect(operator.post("/v1/admin/partners", json={
        "name": f"Device Maker {ctx.tag}", "privacy_policy_url": "https://dm.example/p",
        "deletion_callback_url": "https://dm.example/d"}), 201).json()
    partner_id, secret = created["client_id"], created["client_secret"]
    now = datetime.now(UTC)
    expect(operator.post(f"/v1/admin/partners/{partner_id}/agreements", json={
        "scopes": SCOPES, "legal_basis": "contract",
        "starts_at": (now - timedelta(minutes=5)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat()}), 201)
    for person in opted:
        expect(http.put(f"/v1/me/partners/{partner_id}", token=person.token,
                        json={"grants": SCOPES}), 200)

    key = ProofKey()
    token_url = ctx.base_url + "/oauth/token"
    issued = expect(http.post("/oauth/token", headers={
        **FORM, "DPoP": key.proof("POST", token_url)}, content=urlencode({
            "grant_type": "client_credentials", "client_id": partner_id,
            "client_secret": secret})), 200).json()
    token = AppToken(issued["access_token"], key, opted[0])
    wider = http.post("/oauth/token", headers={
        **FORM, "DPoP": key.proof("POST", token_url)}, content=urlencode({
            "grant_type": "client_credentials", "client_id": partner_id,
            "client_secret": secret, "scope": "location:research friends:research "
                                              "name:advertising"}))
    result.detail.append(f"a token beyond the agreement: {wider.status_code}")

    bodies: list[str] = [wider.text]
    seen: set[str] = set()
    for page in pages(http, token, "/v1/graph/people", "research"):
        bodies.append(page.text)
        if page.status_code == 200:
            seen.update(x["id"] for x in page.json()["data"])
    ids = sorted(seen) + [p.id for p in opted + others]
    for purpose in ("research", "advertising", "personalisation"):
        for pid in ids:
            bodies.append(graph_call(http, token, f"/v1/graph/people/{pid}", purpose).text)
        for path in ("/v1/graph/me", "/v1/graph/me/friends"):
            bodies.append(graph_call(http, token, path, purpose).text)
    for path in ["/v1/conversations", "/v1/friends", "/v1/me/profile",
                 *[f"/v1/people/{p.id}/profile" for p in opted + others]]:
        bodies.append(graph_call(http, token, path, "research").text)
        bodies.append(http.get(path, token=token.token).text)  # as a bearer token
    conversations = expect(http.get("/v1/conversations", token=opted[0].token), 200).json()
    for c in conversations:  # ids it could only have guessed
        bodies.append(graph_call(http, token, f"/v1/conversations/{c['id']}/messages",
                                 "research").text)
        bodies.append(http.get(f"/v1/conversations/{c['id']}/messages",
                               token=token.token).text)
    everything = "\n".join(bodies)

    def appears(person: Member) -> bool:
        return any(v in everything for v in person.fields.values())

    not_consenting = [p for p in others if appears(p)]
    messages = [m for m in secrets_said if m in everything]
    agreed = [p for p in opted if p.name in everything and p.fields["birthday"] in everything]
    beyond = [p for p in opted if any(p.fields[f] in everything
                                      for f in ("location", "relationship_status"))]
    exposed = len(not_consenting) + len(messages) + len(beyond)
    result.detail.append(f"{len(bodies)} responses read: {len(not_consenting)} of "
                         f"{len(others)} people who did not opt in appear, {len(messages)} "
                         f"of {len(secrets_said)} private messages, {len(beyond)} opted-in "
                         "people with fields beyond the agreement")
    result.control = (f"{len(agreed)} of {len(opted)} opted-in people's agreed fields "
                      f"({', '.join(SCOPES)})")
    result.judge(exposed, 0, len(agreed) == len(opted) and len(seen) == len(opted))
