"""App registration for developers, and a person's list of the apps they authorized."""

from __future__ import annotations

from fastapi import APIRouter, status

from palisade.entrypoints.http.dependencies import Auth, PlatformDep
from palisade.entrypoints.http.problems import problem_responses
from palisade.entrypoints.http.schemas import (
    AppOut,
    AppRegistered,
    AppRegistration,
    AuthorizedAppOut,
    OptIn,
    PartnerOfferOut,
    PathId,
)

router = APIRouter(tags=["apps"], responses=problem_responses(401))


def app_out(row) -> AppOut:  # type: ignore[no-untyped-def]
    return AppOut(client_id=row.id, kind=row.kind, name=row.name,
                  redirect_uris=row.redirect_uris, requested=row.requested,
                  privacy_policy_url=row.privacy_policy_url,
                  deletion_callback_url=row.deletion_callback_url,
                  confidential=row.secret_hash is not None, created_at=row.created_at,
                  suspended=row.suspended_at is not None)


@router.post("/v1/apps", status_code=status.HTTP_201_CREATED, response_model=AppRegistered,
             responses=problem_responses(422))
def register_app(body: AppRegistration, auth: Auth, p: PlatformDep) -> AppRegistered:
    """Register an app you develop. The secret is shown once."""
    registered = p.apps.register(
        name=body.name, redirect_uris=body.redirect_uris,
        requested={f.value: [x.value for x in purposes] for f, purposes in body.requested.items()},
        privacy_policy_url=body.privacy_policy_url,
        deletion_callback_url=body.deletion_callback_url, owner_id=auth.person_id,
        confidential=body.confidential)
    return AppRegistered(client_id=registered.client_id,
                         client_secret=registered.client_secret,
                         callback_signing_secret=registered.callback_signing_secret)


@router.get("/v1/apps", response_model=list[AppOut])
def my_registered_apps(auth: Auth, p: PlatformDep) -> list[AppOut]:
    """The apps you registered as a developer."""
    return [app_out(r) for r in p.apps.list(owner_id=auth.person_id)]


@router.get("/v1/apps/{app_id}", response_model=AppOut, responses=problem_responses(404))
def my_registered_app(app_id: PathId, auth: Auth, p: PlatformDep) -> AppOut:
    return app_out(p.apps.get(app_id, owner_id=auth.person_id))


@router.get("/v1/me/apps", response_model=list[AuthorizedAppOut])
def authorized_apps(auth: Auth, p: PlatformDep) -> list[AuthorizedAppOut]:
    """The apps and partners you allowed to use your data, with what and until when."""
    return [AuthorizedAppOut(app_id=a.app_id, name=a.name, kind=a.kind,
                             grants=[g.scope_token for g in a.grants],
                             authorized_at=a.authorized_at, last_used_at=a.last_used_at,
                             non_public_access_until=a.non_public_access_until)
            for a in p.apps.authorized_apps(auth.person_id)]


@router.delete("/v1/me/apps/{app_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=problem_responses(404))
def remove_app(app_id: PathId, auth: Auth, p: PlatformDep) -> None:
    """Remove an app: its tokens for you stop working now and it no longer knows you."""
    p.apps.remove(auth.person_id, app_id)


@router.post("/v1/me/apps/{app_id}/renew", status_code=status.HTTP_204_NO_CONTENT,
             responses=problem_responses(404))
def renew_app(app_id: PathId, auth: Auth, p: PlatformDep) -> None:
    """Renew an app's access to your non-public data for another expiry period."""
    p.apps.renew(auth.person_id, app_id)


@router.get("/v1/me/partners", response_model=list[PartnerOfferOut])
def partner_offers(auth: Auth, p: PlatformDep) -> list[PartnerOfferOut]:
    """Partners with an agreement in force: what they may ask for, on what legal basis, until
    when, and what you allowed each (nothing flows to a partner before you opt in)."""
    return [PartnerOfferOut(partner_id=o.partner_id, name=o.name,
                            privacy_policy_url=o.privacy_policy_url,
                            may_ask_for=[g.scope_token for g in o.may_ask_for],
                            legal_bases=o.legal_bases, ends_at=o.ends_at,
                            opted_in=[g.scope_token for g in o.opted_in])
            for o in p.partners.offers(auth.person_id)]


@router.put("/v1/me/partners/{partner_id}", response_model=list[str],
            responses=problem_responses(404, 422))
def opt_in(partner_id: PathId, body: OptIn, auth: Auth, p: PlatformDep) -> list[str]:
    """Opt in to a partner for the pairs you choose (replacing an earlier choice). Opt out
    with DELETE /v1/me/apps/{partner_id}."""
    return [g.scope_token for g in p.partners.opt_in(auth.person_id, partner_id, body.grants)]
