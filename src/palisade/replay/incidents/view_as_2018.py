"""2018, "View As": the preview of one's own profile as another person saw it minted an
access token for that other person; attackers chained it across friends. Here the attacker
uses View As on a victim, tries to turn anything it returns into a credential, steals the
victim's app token and replays it from another key, and finally the operator logs everyone
out (every app token revoked, every session ended) and the replay measures how long the stale
token and session keep working.

Control: the victim's own app token works with its own key before the revocation, and View As
answers the attacker about their own profile. Exposed beyond consent: each of the victim's
field values the attacker received, each call that worked as the victim with a stolen or
derived credential, and each call that worked with a token after its revocation returned."""

from __future__ import annotations

import time

from palisade.adapters.oauth.rfc9449_dpop import ProofKey
from palisade.replay.context import Context
from palisade.replay.http import expect
from palisade.replay.incidents.base import play
from palisade.replay.population import AppToken, Population, graph_call
from palisade.replay.report import IncidentResult

NAME = "view_as"
HISTORICAL = "2018: View As minted access tokens; 29 million people's data taken, 90 million logged out"

VICTIM_FIELDS = {"birthday": "1987-03-14", "location": "Lisbon", "bio": "Plays the cello",
                 "relationship_status": "married"}
VICTIM_AUDIENCES = {"name": "everyone", "birthday": "friends", "location": "friends",
                    "bio": "friends_of_friends", "relationship_status": "only_me"}


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def run(ctx: Context) -> IncidentResult:
    return play(ctx, NAME, HISTORICAL, _attack)


def _attack(ctx: Context, pop: Population, result: IncidentResult) -> None:
    budget = pop.budget
    victim = pop.person("Victim", VICTIM_FIELDS, VICTIM_AUDIENCES)
    attacker = pop.person("Attacker", {"bio": "just looking"}, {"bio": "everyone"})
    developer = pop.person("Developer", {}, {})
    client_id, secret = pop.register_app(developer, f"Video Uploader {ctx.tag}", {
        "name": ["personalisation"], "birthday": ["personalisation"]})
    stolen = pop.authorize(victim, client_id, secret,
                           "name:personalisation birthday:personalisation")
    http = pop.client()
    exposed = 0
    secrets_of_victim = [v for k, v in victim.fields.items() if k != "name"]

    # 1. View As, on the victim and as the victim's audiences
    answers = [expect(http.get("/v1/me/view-as", token=attacker.token,
                               params={"person_id": victim.id}), 200, 404),
               expect(http.get("/v1/me/view-as", token=attacker.token,
                               params={"audience": "everyone"}), 200)]
    texts = [a.text for a in answers]
    leaked = {v for v in secrets_of_victim for t in texts if v in t}
    exposed += len(leaked)
    result.detail.append(f"View As on the victim: {answers[0].status_code}, "
                         f"{len(leaked)} of the victim's private values in the answers")
    own_view_ok = attacker.fields["bio"] in answers[1].text

    # 2. anything View As returned, used as a credential, as a session or an app token
    derived = 0
    for candidate in {s for a in answers for s in _strings(a.json()) if len(s) >= 8}:
        for response in (http.get("/v1/me", token=candidate),
                         graph_call(http, AppToken(candidate, ProofKey(), victim),
                                    "/v1/graph/me")):
            if response.status_code < 400:
                derived += 1
    exposed += derived
    result.detail.append(f"values from View As tried as credentials: {derived} worked")

    # 3. the victim's app token, stolen, used from another key, as a bearer token, and
    # with a replayed proof of the victim's
    control_before = graph_call(http, stolen, "/v1/graph/me")
    thief = ProofKey()
    proof = stolen.key.proof("GET", ctx.base_url + "/v1/graph/me", stolen.token)
    first_use = http.get("/v1/graph/me", headers={
        "Authorization": f"DPoP {stolen.token}", "DPoP": proof,
        "Palisade-Purpose": "personalisation"})
    attempts = [
        graph_call(http, stolen, "/v1/graph/me", key=thief),
        http.get("/v1/graph/me", headers={"Authorization": f"Bearer {stolen.token}",
                                          "Palisade-Purpose": "personalisation"}),
        http.get("/v1/graph/me", headers={  # the victim's proof, replayed
            "Authorization": f"DPoP {stolen.token}", "DPoP": proof,
            "Palisade-Purpose": "personalisation"}),
        http.get("/v1/me", token=stolen.token),
    ]
    worked = sum(r.status_code < 400 for r in attempts)
    exposed += worked
    result.detail.append(f"the stolen app token from another key, as bearer, with a "
                         f"replayed proof, as a session: {worked} of {len(attempts)} worked")

    # 4. the operator logs everyone out (every app token revoked, every session ended);
    # how long do the stale ones keep working?
    session_before = http.get("/v1/me", token=victim.token)
    operator = ctx.operator(pop)
    expect(operator.post("/v1/admin/tokens/revoke", json={"everyone": True}), 200)
    expect(operator.post("/v1/admin/sessions/end", json={"everyone": True}), 200)
    revoked_at = time.monotonic()
    stale_ok, polls = 0, 0
    window = 2.0 if ctx.quick else 10.0
    last_ok = None
    while time.monotonic() - revoked_at < window and budget.left():
        polls += 2
        worked = (graph_call(http, stolen, "/v1/graph/me").status_code < 400) + (
            http.get("/v1/me", token=victim.token).status_code < 400)
        if worked:
            stale_ok += worked
            last_ok = time.monotonic() - revoked_at
        time.sleep(0.05)
    exposed += stale_ok
    result.detail.append(
        f"after the operator logged everyone out: {stale_ok} of {polls} calls with the stale "
        f"app token or session worked" + (f", the last {last_ok:.2f} s after" if last_ok
                                          is not None else " (they stopped at once)"))
    control_ok = (control_before.status_code == 200 and first_use.status_code == 200
                  and session_before.status_code == 200
                  and victim.name in control_before.text and own_view_ok)
    result.control = (f"the victim's own token with its own key: "
                      f"{control_before.status_code}; View As of the attacker's own "
                      f"profile: {'shown' if own_view_ok else 'missing'}")
    result.judge(exposed, 0, control_ok)
