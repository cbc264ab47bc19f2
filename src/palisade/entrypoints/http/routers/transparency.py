"""The tamper-evident access log over HTTP: the signed head, consistency proofs, and each
person's own entries with their inclusion proofs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from palisade.bootstrap import Platform
from palisade.domain.errors import InvalidInput
from palisade.entrypoints.http.dependencies import Auth, PlatformDep
from palisade.entrypoints.http.problems import problem_responses
from palisade.entrypoints.http.schemas import AccessLogOut, TreeHeadOut
from palisade.services.transparency.log import TreeHead, b64

router = APIRouter(tags=["transparency"])


def head_out(p: Platform, head: TreeHead) -> TreeHeadOut:
    return TreeHeadOut(**p.transparency.head_document(head))


@router.get("/v1/transparency/head", response_model=TreeHeadOut)
def latest_head(p: PlatformDep) -> TreeHeadOut:
    """The latest signed tree head of the access log."""
    return head_out(p, p.transparency.head())


@router.get("/v1/transparency/consistency", response_model=list[str],
            responses=problem_responses(404, 422))
def consistency(p: PlatformDep, first: Annotated[int, Query(ge=1, le=2**62)],
                second: Annotated[int, Query(ge=1, le=2**62)]) -> list[str]:
    """RFC 9162 §2.1.4 proof that the log of size `second` extends the log of size `first`."""
    if first > second or second > p.transparency.head().size:
        raise InvalidInput("Ask for 1 <= first <= second <= the latest size.")
    return [b64(x) for x in p.transparency.consistency(first, second)]


@router.get("/v1/me/access-log", response_model=AccessLogOut,
            responses=problem_responses(401, 404, 422))
def my_access_log(auth: Auth, p: PlatformDep,
                  earlier_size: Annotated[int | None, Query(
                      ge=1, le=2**62, description="The size of a head you saw before: the "
                      "answer then proves the log only grew since")] = None) -> AccessLogOut:
    """Every recorded access to your data (apps, partners, operators with their reason,
    exports, daily counts), each with its inclusion proof against the signed head returned
    with it. Save it and check it offline with
    `palisade verify FILE`."""
    return AccessLogOut.model_validate(p.transparency.document(auth.person_id, earlier_size))
