"""Synthetic ORU^R01 reports with a patient, exam times and a result status (for tests).

Every name, id and date here is made up.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from tests.hl7.messages import wrap_oru
from worker import tasks

URGENT = (
    "FINDINGS:\nBone marrow edema of the calcaneus with cortical destruction and a sinus tract, "
    "consistent with osteomyelitis.\n\nIMPRESSION:\nCalcaneal osteomyelitis with marrow edema."
)
KNEE = (
    "FINDINGS:\nBone marrow edema in the medial femoral condyle. No fracture.\n\n"
    "IMPRESSION:\nMedial femoral condyle bone marrow edema."
)


def versioned_oru(
    text: str,
    *,
    accession: str,
    control_id: str,
    status: str = "F",
    procedure: str = "MRI KNEE RIGHT",
    patient: tuple[str, str, str, str] = ("MRN0001", "Testpatient^Alex", "19700101", "F"),
    exam: str = "20260101110000",
    reported: str | None = None,
) -> bytes:
    """An ORU^R01 with PID-3/5/7/8, OBR-7 (exam), OBR-22 (report time) and OBR-25 `status`.

    The report time defaults to 10 minutes after the exam.
    """
    raw = wrap_oru(text, procedure, control_id=control_id, accession=accession).decode()
    mrn, name, birth, sex = patient
    raw = raw.replace(
        "PID|1||MRN0001^^^GENHOSP^MR||Testpatient^Alex||19700101|U",
        f"PID|1||{mrn}^^^GENHOSP^MR||{name}||{birth}|{sex}",
    )
    obr = next(s for s in raw.split("\r") if s.startswith("OBR|"))
    fields = obr.split("|")
    fields += [""] * (26 - len(fields))
    if reported is None:
        moment = datetime.strptime(exam[:12], "%Y%m%d%H%M") + timedelta(minutes=10)
        reported = moment.strftime("%Y%m%d%H%M00")
    fields[7], fields[22], fields[25] = exam, reported, status
    return raw.replace(obr, "|".join(fields)).encode()


def annotate(message: bytes, control_id: str, *, received_at: datetime | None = None) -> str:
    """Run the annotate task in this process (as a worker would); returns the dedupe key."""
    dedupe_key = f"RIS|GENHOSP|{control_id}"
    tasks.annotate_message(
        raw_b64=base64.b64encode(message).decode("ascii"),
        control_id=control_id,
        dedupe_key=dedupe_key,
        received_at=(received_at or datetime.now(UTC)).isoformat(),
        ack_code="AA",
    )
    return dedupe_key


# (text, procedure, PID-5 name, PID-7 birth date, PID-8 sex): a small synthetic worklist.
WORKLIST = [
    (KNEE, "MRI KNEE RIGHT", "Testpatient^Alex", "19700101", "F"),
    (
        "FINDINGS:\nBone marrow edema in the femoral head with a subchondral crescent sign, "
        "consistent with avascular necrosis.\n\nIMPRESSION:\nFemoral head osteonecrosis with "
        "bone marrow edema.",
        "MRI HIP LEFT",
        "Sample^Berta",
        "19550612",
        "F",
    ),
    (
        "FINDINGS:\nBone bruise of the lateral tibial plateau after a twisting injury.\n\n"
        "IMPRESSION:\nLateral tibial plateau bone contusion.",
        "MRI KNEE LEFT",
        "Example^Chris",
        "19900305",
        "M",
    ),
    (
        "FINDINGS:\nBone marrow edema in the second metatarsal, consistent with a stress "
        "reaction.\n\nIMPRESSION:\nStress reaction of the second metatarsal.",
        "MRI FOOT RIGHT",
        "Muster^Dana",
        "20010920",
        "F",
    ),
    (
        "FINDINGS:\nPossible subtle bone marrow edema in the talus, may represent artifact. "
        "No fracture.\n\nIMPRESSION:\nQuestionable talar marrow edema.",
        "MRI ANKLE LEFT",
        "Probe^Emil",
        "19621111",
        "M",
    ),
]

# German reports (the worklist and the quality page show the language).
GERMAN = [
    (
        "BEFUND:\nKnochenmarködem im medialen Femurkondylus rechts nach Distorsionstrauma.\n\n"
        "BEURTEILUNG:\nKnochenmarködem des medialen Femurkondylus, am ehesten posttraumatisch "
        "(Bone bruise).",
        "MRT KNIE RECHTS",
        "Beispiel^Greta",
        "19770415",
        "F",
    ),
    (
        "BEFUND:\nAusgedehntes Knochenmarködem im Femurkopf links mit subchondraler "
        "Frakturlinie.\n\nBEURTEILUNG:\nVerdacht auf Osteonekrose des Femurkopfes.",
        "MRT HÜFTE LINKS",
        "Muster^Hans",
        "19590102",
        "M",
    ),
]
