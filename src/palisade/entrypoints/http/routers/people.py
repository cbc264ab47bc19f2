"""Other people's profiles, filtered by the access decision."""

from __future__ import annotations

from fastapi import APIRouter

from palisade.entrypoints.http.dependencies import Auth, PlatformDep
from palisade.entrypoints.http.problems import problem_responses
from palisade.entrypoints.http.schemas import PathId, ProfileFields, ProfileOut

router = APIRouter(prefix="/v1/people", tags=["people"], responses=problem_responses(401, 404))


@router.get("/{person_id}/profile", response_model=ProfileOut, response_model_exclude_none=True)
def profile(person_id: PathId, auth: Auth, p: PlatformDep) -> ProfileOut:
    """The fields of this person's profile that their audience settings let you see.
    404 for an unknown person and for one who blocked you (or you them), alike."""
    rendered = p.profiles.read(auth.person_id, person_id)
    return ProfileOut(person_id=rendered.person_id, relationship=rendered.relationship,
                      fields=ProfileFields(**rendered.fields))
