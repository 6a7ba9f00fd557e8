"""The case fields a tumour board puts on a report: specimen, tumour type, requester and date.

They identify a patient's case, so they live only in memory: written into the report the user downloads and
nowhere else. ``repr`` hides them so that no log line, traceback or debug print can carry them by accident.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from neurix_core.errors import NeurixError

MAX_FIELD_LENGTH = 200


@dataclass(frozen=True, repr=False)
class CaseDetails:
    """Free-text fields entered by the user (dashboard or CLI); empty strings are left out of the report."""

    specimen: str = ""
    tumour_type: str = ""
    requester: str = ""
    date: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())

    def __post_init__(self) -> None:
        for name in ("specimen", "tumour_type", "requester"):
            value = " ".join(str(getattr(self, name) or "").split())  # one line: no layout tricks
            if len(value) > MAX_FIELD_LENGTH:
                raise NeurixError(
                    f"the {name.replace('_', ' ')} field is longer than {MAX_FIELD_LENGTH} characters"
                )
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return "CaseDetails(<kept out of logs>)"

    __str__ = __repr__
