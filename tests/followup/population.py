"""A synthetic population for measuring closure: patients, their follow-ups, and distractors.

Strategy: every patient gets one report with a recommendation (an MRI of one
region and side, due in 42-56 days), then one scenario that either closes it
(the exam on time or late, an order and appointment first, a bilateral exam,
duplicate messages) or must not (nothing, another region, the other side, a
radiograph instead of an MRI, an exam before the report, the same exam for a
patient whose id differs by one character or by assigning authority). The
truth is what the scenario meant. HL7 messages are built as text, so the
measurement goes through the same readers (`hl7.orders`) as the service.
Seeded: the same seed gives the same population.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from followup.evaluation import Score
from followup.model import Interval, Recommendation

REGIONS = {
    "knee": "KNEE",
    "hip": "HIP",
    "ankle": "ANKLE",
    "shoulder": "SHOULDER",
    "wrist": "WRIST",
}
SIDES = ("left", "right")
SCENARIOS = (
    ("on_time", True),
    ("late", True),
    ("booked_then_done", True),
    ("bilateral_exam", True),
    ("duplicates", True),
    ("nothing", False),
    ("other_region", False),
    ("other_side", False),
    ("radiograph", False),
    ("before_report", False),
    ("similar_id", False),
    ("other_authority", False),
    ("booked_not_done", False),
)
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class IndexReport:
    """The report that made a follow-up, as the store receives it (no NLP here)."""

    key: str  # the truth's key
    mrn: str
    authority: str
    region: str
    side: str
    at: datetime
    recommendation: Recommendation


@dataclass
class Population:
    reports: list[IndexReport] = field(default_factory=list)
    # (time, kind, HL7 bytes); kind "report" or "event"
    messages: list[tuple[datetime, str, bytes]] = field(default_factory=list)
    truth: dict[str, bool] = field(default_factory=dict)  # key -> must be closed
    scenario: dict[str, str] = field(default_factory=dict)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S")


GERMAN = {
    "knee": "Knie",
    "hip": "Hüfte",
    "ankle": "Sprunggelenk",
    "shoulder": "Schulter",
    "wrist": "Handgelenk",
}
GERMAN_SIDES = {"left": "links", "right": "rechts", "bilateral": "beidseits"}
SHORT_SIDES = {"left": "LT", "right": "RT", "bilateral": "BILAT"}


def _procedure(
    region: str, side: str | None, modality: str = "MRI", rng: random.Random | None = None
) -> str:
    """A procedure name in one of the ways order systems write them."""
    style = rng.randrange(5) if rng is not None else 0
    body = REGIONS[region]
    if side is None:
        return f"{modality} {body} WO CONTRAST"
    if style == 1:
        return f"{'MR' if modality == 'MRI' else modality} {body} {SHORT_SIDES[side]}"
    if style == 2:
        return f"{modality} {side.upper()} {body} W/O"
    if style == 3:
        kind = {"MRI": "MRT", "XR": "Röntgen"}.get(modality, modality)
        return f"{kind} {GERMAN[region]} {GERMAN_SIDES[side]}"
    if style == 4:
        return f"{modality.lower()} {body.lower()}, {side}"
    return f"{modality} {body} {side.upper()}"


def _pid(mrn: str, authority: str) -> str:
    # A second identifier of another system first, and the authority in another case,
    # as many senders do: matching must still find the MR number.
    other = f"E{hashlib.sha1(mrn.encode()).hexdigest()[:10].upper()}^^^EMPI^PI"
    return f"PID|1||{other}~{mrn}^^^{authority.lower() if len(mrn) % 2 else authority}^MR||Synthetic^Patient||19700101|U"  # noqa: E501


def report_message(
    control_id: str, mrn: str, authority: str, procedure: str, at: datetime
) -> bytes:
    section = "CR" if procedure.upper().startswith(("XR", "RÖNTGEN")) else "MR"
    obr = ["OBR", "1", f"P{control_id}", f"A{control_id}", f"X^{procedure}^L", "", "", _stamp(at)]
    obr += [""] * (24 - len(obr)) + [section]
    segments = [
        f"MSH|^~\\&|RIS|GENHOSP|RADFLAG|GENHOSP|{_stamp(at)}||ORU^R01^ORU_R01|{control_id}|P|2.5.1",
        _pid(mrn, authority),
        "|".join(obr),
        "OBX|1|TX|X&GDT^Report^L||Follow-up examination.||||||F",
    ]
    return ("\r".join(segments) + "\r").encode()


def order_message(
    control_id: str, mrn: str, authority: str, procedure: str, placer: str, at: datetime
) -> bytes:
    obr = ["OBR", "1", placer, "", f"X^{procedure}^L"]
    obr += [""] * (24 - len(obr)) + ["MR"]
    segments = [
        f"MSH|^~\\&|CPOE|GENHOSP|RADFLAG|GENHOSP|{_stamp(at)}||ORM^O01^ORM_O01|{control_id}|P|2.5.1",
        _pid(mrn, authority),
        f"ORC|NW|{placer}|||SC||||{_stamp(at)}",
        "|".join(obr),
    ]
    return ("\r".join(segments) + "\r").encode()


def appointment_message(
    control_id: str, mrn: str, authority: str, procedure: str, appointment_id: str, start: datetime
) -> bytes:
    sch = ["SCH", appointment_id, appointment_id] + [""] * 8 + [f"^^^{_stamp(start)}"]
    segments = [
        f"MSH|^~\\&|SCHED|GENHOSP|RADFLAG|GENHOSP|{_stamp(start - timedelta(days=20))}||"
        f"SIU^S12^SIU_S12|{control_id}|P|2.5.1",
        "|".join(sch),
        _pid(mrn, authority),
        f"AIS|1||X^{procedure}^L|{_stamp(start)}",
    ]
    return ("\r".join(segments) + "\r").encode()


def generate(patients: int = 1000, seed: int = 10) -> Population:
    """The population: one follow-up per patient and one scenario each."""
    rng = random.Random(seed)
    population = Population()
    for number in range(patients):
        mrn = f"MRN{number:06d}"
        authority = "GENHOSP"
        region = rng.choice(list(REGIONS))
        side = rng.choice(SIDES)
        at = START + timedelta(days=rng.randrange(0, 60), minutes=rng.randrange(0, 600))
        key = f"p{number}"
        rec = Recommendation(
            modality="MRI", region=region, side=side, interval=Interval(42, 56),
            urgency="routine", condition=None, text="Follow-up MRI in 6-8 weeks.",
            source="report", evidence=((0, 10),), flag="BME",
        )  # fmt: skip
        population.reports.append(IndexReport(key, mrn, authority, region, side, at, rec))
        scenario, closes = SCENARIOS[rng.randrange(len(SCENARIOS))]
        population.truth[key] = closes
        population.scenario[key] = scenario
        _scenario(population, rng, key, scenario, mrn, authority, region, side, at, number)
    population.messages.sort(key=lambda m: m[0])
    return population


def _scenario(
    population: Population, rng: random.Random, key: str, scenario: str, mrn: str,
    authority: str, region: str, side: str, at: datetime, number: int,
) -> None:  # fmt: skip
    def exam(
        suffix: str, when: datetime, procedure: str, who: str = mrn, auth: str = authority
    ) -> None:
        message = report_message(f"{key}{suffix}", who, auth, procedure, when)
        population.messages.append((when, "report", message))

    def ordered(suffix: str, when: datetime, procedure: str) -> None:
        message = order_message(f"{key}{suffix}", mrn, authority, procedure, f"PL{key}", when)
        population.messages.append((when, "event", message))

    same = _procedure(region, side, rng=rng)
    on_time = at + timedelta(days=rng.randrange(40, 56), hours=2)
    if scenario == "on_time":
        exam("r", on_time, _procedure(region, None) if rng.random() < 0.2 else same)
    elif scenario == "late":
        exam("r", at + timedelta(days=rng.randrange(60, 200)), same)
    elif scenario in ("booked_then_done", "booked_not_done"):
        placed = at + timedelta(days=rng.randrange(1, 20))
        ordered("o", placed, same)
        booking = appointment_message(f"{key}a", mrn, authority, same, f"AP{key}", on_time)
        population.messages.append((placed + timedelta(hours=1), "event", booking))
        if scenario == "booked_then_done":
            exam("r", on_time, same)
    elif scenario == "bilateral_exam":
        exam("r", on_time, _procedure(region, "bilateral", rng=rng))
    elif scenario == "duplicates":  # the same exam and order, each sent twice under two ids
        for copy in ("0", "1"):
            exam("r" + copy, on_time, same)
            ordered("o" + copy, at + timedelta(days=3), same)
    elif scenario == "other_region":
        other = rng.choice([r for r in REGIONS if r != region])
        exam("r", on_time, _procedure(other, side, rng=rng))
    elif scenario == "other_side":
        flipped = _procedure(region, "right" if side == "left" else "left", rng=rng)
        exam("r", on_time, flipped)
        ordered("o", at + timedelta(days=2), flipped)
    elif scenario == "radiograph":
        exam("r", on_time, _procedure(region, side, "XR", rng=rng))
    elif scenario == "before_report":
        exam("r", at - timedelta(days=rng.randrange(1, 30)), same)
    elif scenario == "similar_id":
        # Ids one character away that belong to no patient of the population (another
        # patient's id would be that patient's exam, and closing theirs would be right).
        twins = [f"MRN{number:06d}0", f"MRN{number:05d}", f"{mrn}1", f"MRN0{number:06d}"]
        exam("r", on_time, same, who=rng.choice([t for t in twins if t != mrn]))
    elif scenario == "other_authority":
        exam("r", on_time, same, auth="OTHERHOSP")


def replay(population: Population, store: Any) -> Score:
    """Feed the population to a `worker.followup_store.FollowupStore` in time order; score closure.

    A follow-up counts as closed when its status is `completed`; the truth says
    whether it should be.
    """
    from followup.events import clinical_event
    from followup.model import ClinicalEvent, PatientId
    from hl7.orders import read_event, read_report_event
    from worker.followup_store import ExamRecord, NewFollowup

    items: list[tuple[datetime, int, Any]] = [(r.at, 0, r) for r in population.reports]
    items += [(at, 1, (kind, raw)) for at, kind, raw in population.messages]
    items.sort(key=lambda item: (item[0], item[1]))
    public_ids: dict[str, str] = {}
    for at, _, item in items:
        if isinstance(item, IndexReport):
            patient = PatientId(item.mrn, item.authority)
            event = ClinicalEvent(
                kind="report", action="done", patient_ids=(patient,), region=item.region,
                side=item.side, modality="MRI", at=item.at, accession=f"IDX{item.key}",
            )  # fmt: skip
            new = NewFollowup(
                recommendation=item.recommendation, position=0, dedupe_key=f"idx|{item.key}",
                control_id=f"IDX{item.key}", accession=f"IDX{item.key}", procedure=None,
                patient=item.mrn, patient_keys=(patient.key,), sending_application="RIS",
                sending_facility="GENHOSP", order_segments=(), report_at=item.at,
            )  # fmt: skip
            store.record_report(ExamRecord(f"idx|{item.key}", event, at), [new], now=at)
            continue
        kind, raw = item
        key = f"msg|{raw.split(b'|')[9].decode()}"
        if kind == "report":
            exam = ExamRecord(key, clinical_event(read_report_event(raw, at)), at)
            store.record_report(exam, [], now=at)
        else:
            store.record_event(ExamRecord(key, clinical_event(read_event(raw)), at), now=at)
    for view in store.listing(limit=10 * len(population.reports)):
        public_ids[view.accession] = view.status
    tp = fp = fn = 0
    for report in population.reports:
        closed = public_ids.get(f"IDX{report.key}") == "completed"
        truth = population.truth[report.key]
        tp += closed and truth
        fp += closed and not truth
        fn += truth and not closed
    return Score(tp, fp, fn)
