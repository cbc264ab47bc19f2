"""What a replay reports: per incident, what it exposed historically, what it exposed here
beyond what people allowed, whether the positive control worked, what it cost, and a
verdict. PASS needs the control to have worked; a failed control is ERROR, never PASS."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum


class Verdict(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"


@dataclass
class IncidentResult:
    incident: str
    historical: str
    exposed_beyond_consent: int | None = None
    control_ok: bool = False
    requests: int = 0
    seconds: float = 0.0
    verdict: Verdict = Verdict.ERROR
    control: str = ""  # what the attacker got legitimately
    detail: list[str] = field(default_factory=list)

    def judge(self, exposed: int, allowed: int, control_ok: bool) -> None:
        self.exposed_beyond_consent = exposed
        self.control_ok = control_ok
        if not control_ok:
            self.verdict = Verdict.ERROR
            self.detail.append("the positive control failed, so nothing can be concluded")
        else:
            self.verdict = Verdict.PASS if exposed <= allowed else Verdict.FAIL

    def as_json(self) -> dict:
        out = asdict(self)
        out["verdict"] = self.verdict.value
        out["seconds"] = round(self.seconds, 2)
        return out


def as_json(results: list[IncidentResult]) -> dict:
    return {"incidents": [r.as_json() for r in results]}
