"""Which column of a dump holds what (pure): from the header's names when there is one, from
the values of the first rows otherwise. The operator can override any role."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    ID = "id"
    PHONE = "phone"
    EMAIL = "email"
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    NAME = "name"
    GENDER = "gender"
    LOCATION = "location"
    RELATIONSHIP_STATUS = "relationship_status"
    WORKPLACE = "workplace"
    BIRTHDAY = "birthday"


# Header words for each role, compared after lower-casing and removing " _-.".
_NAMES: dict[Role, tuple[str, ...]] = {
    Role.ID: ("id", "uid", "userid", "user", "fbid", "profileid", "accountid", "scopedid"),
    Role.PHONE: ("phone", "phonenumber", "mobile", "mobilephone", "tel", "telephone", "msisdn",
                 "cell", "number", "phoneno"),
    Role.EMAIL: ("email", "emailaddress", "mail", "e-mail"),
    Role.FIRST_NAME: ("firstname", "first", "givenname", "forename", "fname"),
    Role.LAST_NAME: ("lastname", "last", "surname", "familyname", "lname"),
    Role.NAME: ("name", "fullname", "displayname"),
    Role.GENDER: ("gender", "sex"),
    Role.LOCATION: ("location", "city", "hometown", "currentcity", "address", "country"),
    Role.RELATIONSHIP_STATUS: ("relationshipstatus", "relationship", "maritalstatus"),
    Role.WORKPLACE: ("workplace", "work", "employer", "company", "job"),
    Role.BIRTHDAY: ("birthday", "dob", "birthdate", "dateofbirth", "born"),
}
_BY_NAME = {n: role for role, names in _NAMES.items() for n in names}
_PHONE = re.compile(r"^\+?[\d\s().\-/]{7,24}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _key(name: str) -> str:
    return re.sub(r"[\s_\-.]", "", name.strip().lower())


@dataclass(frozen=True)
class Columns:
    """Column index of each recognised role, and how many columns a row has."""

    roles: dict[Role, int]
    width: int
    names: list[str] = field(default_factory=list)  # the header, or col1, col2, ...

    def of(self, role: Role) -> int | None:
        return self.roles.get(role)


def looks_like_header(first_row: Sequence[str]) -> bool:
    """A header names columns: at least two cells are known names, and none is a phone
    number or an email address."""
    known = sum(1 for cell in first_row if _key(cell) in _BY_NAME)
    values = sum(1 for cell in first_row if _PHONE.match(cell.strip()) or
                 _EMAIL.match(cell.strip()))
    return known >= 2 and values == 0


def from_header(header: Sequence[str]) -> Columns:
    roles: dict[Role, int] = {}
    for i, name in enumerate(header):
        role = _BY_NAME.get(_key(name))
        if role is not None and role not in roles:
            roles[role] = i
    return Columns(roles, len(header), [h.strip() for h in header])


def from_values(rows: Sequence[Sequence[str]]) -> Columns:
    """Without a header: the column where most values look like phone numbers is the phone
    column, likewise for emails; the first column of long digit strings that are not phones
    is the id."""
    width = max((len(r) for r in rows), default=0)
    roles: dict[Role, int] = {}
    for role, pattern in ((Role.EMAIL, _EMAIL), (Role.PHONE, _PHONE)):
        best, best_share = None, 0.5
        for i in range(width):
            cells = [r[i].strip() for r in rows if i < len(r) and r[i].strip()]
            if not cells or i in roles.values():
                continue
            share = sum(1 for c in cells if pattern.match(c)) / len(cells)
            if share > best_share:
                best, best_share = i, share
        if best is not None:
            roles[role] = best
    return Columns(roles, width, [f"col{i + 1}" for i in range(width)])


def with_overrides(columns: Columns, overrides: Mapping[Role, str]) -> Columns:
    """Apply the operator's choices: a column's header name or its 1-based number."""
    roles = dict(columns.roles)
    for role, given in overrides.items():
        if given.isdigit():
            index = int(given) - 1
        else:
            matches = [i for i, n in enumerate(columns.names) if n.lower() == given.lower()]
            if not matches:
                raise ValueError(f"no column named {given!r} (columns: "
                                 f"{', '.join(columns.names)})")
            index = matches[0]
        if not 0 <= index < columns.width:
            raise ValueError(f"column {given} is outside the {columns.width} columns")
        roles[role] = index
    return Columns(roles, columns.width, columns.names)
