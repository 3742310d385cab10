"""ConText categories, pseudo-negation and the pitfalls measured with medspaCy's defaults."""

from __future__ import annotations

import pytest

from nlp import annotate


def statuses(text: str) -> list[str]:
    return [m.status for m in annotate(text).mentions]


NEGATION = [
    "Findings: No residual edema in the talus.",
    "No bone marrow edema.",
    "There is no marrow edema in the greater trochanter.",
    "Mild chondrosis without subchondral marrow edema.",
    "Negative for bone marrow edema.",
    "No evidence of bone marrow edema or fracture.",
    "No fracture, bone bruise or ligament tear.",
    "Appearance is consistent with red marrow and is not bone marrow edema.",
    "Bone marrow edema is not seen.",
    "Absence of marrow oedema in the talus.",
    "No scaphoid fracture or bone marrow edema.",
    "The fracture is not seen and edema of bone marrow also not.",
]

UNCERTAIN = [
    "Possible subtle marrow oedema in the navicular.",
    "Questionable faint marrow edema in the patella.",
    "Equivocal small focus of subchondral BME on the iliac side.",
    "Subtle STIR hyperintensity which may represent early bone marrow edema.",
    "Subtle marrow edema cannot be excluded.",
    "Findings are suspicious for a bone contusion.",
    "Faint signal, possibly bone marrow edema.",
    "Faint hyperintensity, which may represent a small bone contusion versus artifact.",
    "Probable bone bruise of the lateral femoral condyle.",
    "There is possible subtle marrow oedema in the navicular.",
    "There is questionable marrow edema in the talus.",
    "Bone marrow edema is possible in the navicular.",
    "Subchondral bone marrow edema or just normal red marrow in the medial femoral condyle.",
    "Faint hyperintensity in PD fat sat of the patella, can be beginning of edema.",
    "Bone marrow edema in the talus, which may represent artifact.",
]

HISTORICAL = [
    "The previously seen bone marrow edema in the left femoral head has completely resolved.",
    "The talar dome bone bruise seen on the prior study has resolved.",
    "Resolution of the previously seen bone marrow edema.",
    "Resolved talar dome bone bruise.",
    "History of bone marrow edema in the knee.",
    "The bone marrow edema has resolved.",
    "The sacral edema seen on the prior exam has resolved.",
    # a prior exam told in prose
    "Two years ago an MRI showed a bone bruise of the lateral femoral condyle.",
    "The earlier scan had shown bone bruises in the lateral femoral condyle.",
    "An MRI two years ago showed bone marrow edema in the right femoral head.",
    # the finding named before "previously described", then said to be gone
    "The marrow edema previously described in the medial femoral condyle has completely resolved.",
    "The bone bruise previously seen in the lateral tibial plateau is resolved.",
    # "no residual abnormality" says nothing persists
    "Impression: Complete resolution of the transient bone marrow edema of the left hip, with no"
    " residual abnormality.",
]

HYPOTHETICAL = [
    "Follow-up MRI could be considered to assess for developing bone marrow edema.",
    "If pain persists, bone marrow edema should be looked for on repeat imaging.",
    "Rule out bone marrow edema.",
    "Evaluate for bone marrow edema.",
    "If the pain continues despite rest, a repeat MRI in six weeks could demonstrate marrow edema.",
    "Follow-up imaging might later reveal bone marrow edema in the talus.",
]

PSEUDO_NEGATION = [
    "No change in the bone marrow edema in the medial femoral condyle.",
    "No significant change in the bone marrow edema of the metatarsal heads.",
    "Fracture without interval change in the associated bone marrow edema.",
    "No increase in the marrow edema of the talus.",
]

PRESENT = [
    "Bone marrow edema in the medial femoral condyle.",
    "Extensive bone marrow edema of the femoral head, no fracture line.",
    "No fracture line; bone marrow edema in the talus.",
    "No fracture. Bone marrow edema in the calcaneus.",
    "Bone marrow edema of the lateral femoral condyle, but no fracture.",
    "No new fracture, however there is marrow edema in the tibial plateau.",
    # a terminator ends a modifier whose scope is shorter than the sentence ("if": 12 words)
    "If needed, CT in six weeks, however marrow edema is already seen in the talus.",
    # a comparison with an older exam is not that exam's finding
    "Compared with the MRI 3 months ago, there is new bone marrow edema in the talus.",
]


@pytest.mark.parametrize("text", NEGATION)
def test_negation(text: str) -> None:
    """Negated mentions come out negated."""
    assert statuses(text)[0] == "negated"


@pytest.mark.parametrize("text", UNCERTAIN)
def test_uncertainty(text: str) -> None:
    """Hedged mentions come out possible."""
    assert "possible" in statuses(text)


@pytest.mark.parametrize("text", HISTORICAL)
def test_history_and_resolution(text: str) -> None:
    """Prior or resolved mentions come out historical."""
    assert statuses(text)[0] == "historical"


@pytest.mark.parametrize("text", HYPOTHETICAL)
def test_hypothetical(text: str) -> None:
    """Mentions in a conditional or a question come out hypothetical."""
    assert statuses(text)[0] == "hypothetical"


@pytest.mark.parametrize("text", PSEUDO_NEGATION)
def test_pseudo_negation_is_present(text: str) -> None:
    """'No change in the edema' affirms the edema."""
    assert statuses(text)[0] == "present"
    assert annotate(text).bme == "present"


@pytest.mark.parametrize("text", PRESENT)
def test_scope_ends_at_sentence_and_terminators(text: str) -> None:
    """Negation of another finding does not cross a sentence, ';', 'but' or 'however'."""
    assert statuses(text)[-1] == "present"


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("FINDINGS: No bone marrow edema.", "negated"),  # medspaCy issue 155: ": no" beat "no"
        ("Bone marrow: No marrow edema or fracture.", "negated"),
        ("IMPRESSION: no bone marrow edema", "negated"),
        ("Possibly bone marrow edema in the talus.", "possible"),
        ("The marrow edema in the lateral femoral condyle has resolved.", "historical"),
    ],
)
def test_pitfalls_of_the_default_rules(text: str, status: str) -> None:
    """The cases medspaCy 1.3.1's default ConText rules get wrong come out right."""
    assert statuses(text)[0] == status


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Possible stress reaction with bone marrow edema of the second metatarsal.", "present"),
        ("Suspected early osteonecrosis with surrounding bone marrow edema.", "present"),
        ("Possible bone marrow edema of the navicular.", "possible"),
    ],
)
def test_uncertainty_about_the_cause_stops_at_with(text: str, status: str) -> None:
    """'Possible X with edema' hedges X, not the edema ("with" ends the uncertainty's scope)."""
    assert annotate(text).bme == status


def test_context_of_a_cue_in_another_sentence_does_not_leak() -> None:
    """'Possible' in one sentence leaves a mention in the next one present."""
    assert statuses("Possible meniscal tear. Bone marrow edema in the patella.") == ["present"]


@pytest.mark.parametrize(
    "text",
    [
        "Eighteen months ago an MRI of the left ankle showed a talar dome fracture with"
        " surrounding marrow edema.",
        "The MRI of June last year, done a few days after the skiing fall, demonstrated bone"
        " bruises of the medial femoral condyle.",
        "At presentation three years ago, MRI of the pelvis revealed bone marrow edema in both"
        " sacral alae.",
    ],
)
def test_an_earlier_exam_told_in_prose_is_history(text: str) -> None:
    """Findings an earlier exam showed ("... ago an MRI of the ... showed") are not current,
    even after "with", which ends ConText's scopes."""
    assert statuses(text) == ["historical"]


def test_what_the_current_exam_shows_after_an_earlier_one_stays_present() -> None:
    """After "but ... now" the sentence speaks of today's exam again."""
    text = (
        "Two years ago an MRI of the right knee showed marrow edema in the medial condyle, but"
        " the lateral condyle now contains new bone marrow edema."
    )
    assert statuses(text) == ["historical", "present"]


def test_a_past_tense_finding_without_an_earlier_exam_is_current() -> None:
    """Teaching cases tell their own exam in the past tense: no time word, no history."""
    assert statuses("MRI of the right knee showed bone marrow edema in the patella.") == ["present"]


@pytest.mark.parametrize(
    "text",
    [
        "In spontaneous osteonecrosis of the knee, by contrast, extensive bone marrow edema"
        " surrounds a subchondral line.",
        "Transient osteoporosis of the hip classically affects middle-aged men; it produces"
        " diffuse bone marrow edema in the femoral head.",
        "In young athletes, bone marrow edema of the pubic body is a frequent finding.",
        "Patients with sickle cell disease develop bone marrow edema in the humeral heads.",
    ],
)
def test_a_sentence_about_a_disease_in_general_is_not_the_patients(text: str) -> None:
    """Textbook sentences of a teaching case: their edema is hypothetical."""
    assert annotate(text).bme == "absent"


@pytest.mark.parametrize(
    "text",
    [
        "In the medial femoral condyle, there is bone marrow edema.",
        "In keeping with a stress reaction, there is bone marrow edema in the navicular.",
        "The findings are typical of transient osteoporosis, with bone marrow edema of the"
        " femoral head.",
        "This pattern of bone marrow edema is typically seen after a pivot shift injury.",
    ],
)
def test_sentences_about_the_patient_are_not_general(text: str) -> None:
    """The general-sentence rule leaves the patient's own sentences alone."""
    assert annotate(text).bme == "present"


def test_a_general_sentence_still_names_the_cases_cause() -> None:
    """A teaching text's general words are mostly about the case's own disease."""
    text = (
        "Findings: Bone marrow edema in the right femoral head around a serpiginous line."
        " Steroid-associated avascular necrosis is often bilateral."
    )
    result = annotate(text)
    assert (result.bme, result.etiology) == ("present", ("osteonecrosis",))


def _medspacy_edges(component, doc, matches):  # type: ignore[no-untyped-def]
    """The categories medspaCy's own ConTextGraph gives each match, as the reference."""
    from medspacy.context import ConTextGraph, ConTextModifier
    from spacy.tokens import Span

    from nlp.pipeline import _gloss, _longest_first, _scope

    bounds = doc._.radflag_sentence_tokens
    out: dict[int, set[tuple[str, int, int]]] = {}
    for k, start in enumerate(bounds):
        end = bounds[k + 1] if k + 1 < len(bounds) else len(doc)
        inside = [m for m in matches if start <= m.start < end]
        if not inside:
            continue
        modifiers = []
        for key, s, e in _longest_first(component._matcher(doc[start:end]), component.rank):
            rule = component._rules[key]
            if key in component._parentheses and _gloss(doc, s, start, end):
                continue  # radflag's one change: a gloss in parentheses ends no scope
            lo, hi = _scope(rule.direction, rule.max_scope, s, e, start, end)
            modifiers.append(ConTextModifier(rule, s, e, doc, scope_start=lo, scope_end=hi))
        targets = [Span(doc, m.start, m.end, label=m.label) for m in inside]
        graph = ConTextGraph(targets=targets, modifiers=modifiers)
        graph.update_scopes()
        graph.apply_modifiers()
        for target, modifier in graph.edges:
            first, last = modifier.modifier_span
            out.setdefault(target.start, set()).add((modifier.category.upper(), first, last))
    return out


@pytest.mark.parametrize("language", ["en", "de"])
def test_context_scopes_are_medspacys(language: str) -> None:
    """ContextComponent computes scopes and edges on tuples; medspaCy's graph agrees."""
    import json
    from pathlib import Path

    from nlp.pipeline import build_pipeline

    fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "reports"
    names = ["voices", "heldout", "heldout3", "heldout4", "heldout5"]
    texts = [
        json.loads(line)["text"]
        for name in names
        for line in (fixtures / f"{name}_{language}.jsonl").read_text("utf-8").splitlines()
        if line.strip()
    ]
    pipe = build_pipeline(language)
    component = dict(pipe.pipeline)["radflag_context"]
    compared = 0
    for text in texts:
        doc = pipe.make_doc(text)
        for _, step in pipe.pipeline[:-1]:
            step(doc)
        before = list(doc._.radflag_matches)
        reference = _medspacy_edges(component, doc, before)
        component(doc)
        for m in doc._.radflag_matches:
            cues = {(c, a, b) for a, b, c in m.modifiers}
            expected = {
                (c, doc[f].idx, doc[la - 1].idx + len(doc[la - 1]))
                for c, f, la in reference.get(m.start, set())
            }
            assert cues == expected, text[:80]
            compared += 1
    assert compared > 300


@pytest.mark.parametrize(
    "text",
    [
        # a teaching aside, then "not the case here"
        "In adolescents the same mechanism can cause an apophyseal avulsion, which shows marrow"
        " edema of the ischial apophysis - not the case here.",
        # what edema can do in general
        "For staging, peritumoral marrow edema on fluid-sensitive images can make a tumor look"
        " longer than it is.",
        "Reactive edema-like marrow signal beside a coalition is a common source of pain, and its"
        " absence here suggests a mechanical cause.",
        "For teaching purposes, higher grades add marrow edema first on T2-weighted images.",
        "Transient osteoporosis of the hip is a self-limiting condition: the marrow edema peaks"
        " at two months.",
    ],
)
def test_teaching_asides_in_findings_are_not_the_patients(text: str) -> None:
    assert annotate(text).bme == "absent"


def test_if_real_does_not_make_the_cause_hypothetical() -> None:
    """ "if real, likely reactive to the septic arthritis": the cause is still given."""
    text = (
        "Findings: Possible faint STIR hyperintensity in the glenoid, vs artifact; if real, likely"
        " reactive to the septic arthritis."
    )
    result = annotate(text)
    assert (result.bme, result.etiology) == ("possible", ("infection",))


@pytest.mark.parametrize(
    ("text", "bme"),
    [
        # another patient's edema
        (
            "The greater tuberosity has normal marrow signal. Compare the companion case, in which"
            " a similar fall produced a fracture with extensive surrounding marrow edema.",
            "absent",
        ),
        # what a disease typically shows, not this patient
        (
            "Typically a calcaneal stress fracture shows a band of marrow edema; the calcaneal"
            " marrow here is normal.",
            "absent",
        ),
        # an earlier exam labelled by a colon, then the later one
        (
            "Findings: Initial MRI: navicular stress fracture with surrounding marrow edema of the"
            " navicular. Follow-up MRI at 4 months: questionable faint residual edema in the"
            " navicular, could be normal healing vs artefact.",
            "possible",
        ),
        # ... but with no later exam, the labelled one is the case's own
        (
            "Findings: Initial MRI: marrow edema of the navicular around a stress fracture.",
            "present",
        ),
    ],
)
def test_other_patients_general_statements_and_earlier_exams(text: str, bme: str) -> None:
    assert annotate(text).bme == bme


def test_a_cause_the_report_says_is_not_suggested_is_left_out() -> None:
    text = (
        "Findings: The olecranon possibly shows mild reactive marrow edema; osteomyelitis is not"
        " suggested."
    )
    assert "infection" not in annotate(text).etiology


@pytest.mark.parametrize(
    "text",
    [
        "It is well known that an osteoid osteoma can incite extensive surrounding bone marrow"
        " edema.",
        "For teaching: in the acute phase the pivot-shift mechanism produces kissing contusions"
        " on the lateral femoral condyle.",
        "Perilesional marrow edema, which is common with chondroblastoma and can be extensive, is"
        " NOT present in this case.",
        "Typical bone bruise pattern in ACL tear is LFC + posterolateral tibia.",
    ],
)
def test_more_teaching_asides(text: str) -> None:
    assert annotate(text).bme == "absent"


def test_a_typical_pattern_named_in_an_impression_is_the_patients() -> None:
    """Without "is" it names what this knee shows."""
    text = (
        "Impression: Typical bone bruise pattern of a pivot shift injury in the lateral femoral"
        " condyle and posterolateral tibial plateau."
    )
    assert annotate(text).bme == "present"


@pytest.mark.parametrize(
    ("text", "bme"),
    [
        # -- a later exam that found the edema gone, or tells its own --
        # a case told over exams: the last exam found the edema gone
        (
            "A 36-year-old man had four weeks of left ankle pain. MRI showed bone marrow edema in"
            " the talus, and he was kept off his foot. A repeat MRI after ten weeks showed complete"
            " regression of the talar edema.",
            "absent",
        ),
        (
            "An MRI showed marked marrow oedema of the right femoral neck around a small nidus; the"
            " lesion was ablated, and an MRI three months later showed that the oedema had gone.",
            "absent",
        ),
        # edema that still persisted before the later exam found it gone
        (
            "An earlier MRI showed bone marrow edema in the coccyx. She still has pain from the"
            " known coccygeal edema. Follow-up MRI of the coccyx: normal marrow signal now.",
            "absent",
        ),
        # ... nor one the report only expects, in another part of the sentence
        (
            "Findings: Diffuse low T1 and high STIR signal throughout the right femoral head."
            " Discussion: The signal is expected to resolve over months; a follow-up MRI can"
            " document resolution.",
            "present",
        ),
        # a radiology report of a follow-up exam tells its own exam in the present tense
        (
            "EXAM: Follow-up MRI of the left knee.\nFINDINGS: Bone marrow edema in the medial"
            " femoral condyle has decreased.\nIMPRESSION: Follow-up MRI shows resolution of the"
            " lateral tibial plateau bone bruise.",
            "present",
        ),
        # a later exam that is only recommended changes nothing
        (
            "MRI showed bone marrow edema in the left talus. A repeat MRI is recommended to"
            " confirm resolution of the edema.",
            "present",
        ),
        # the later exam finds new edema beside the resolved
        (
            "MRI showed marrow edema in the right talus. A second MRI after four months showed"
            " resolution of the talar edema and new marrow edema in the navicular.",
            "present",
        ),
        # a general statement about "some patients"
        (
            "Ultrasound showed a thickened plantar fascia. Dx plantar fasciitis. On MRI some"
            " patients show calcaneal marrow edema at the fascial insertion.",
            "absent",
        ),
        # -- case reports: exams told in the case presentation --
        # a case report tells its exams in "Case presentation:" and has no findings section
        (
            "Background: SONK affects older women. Case presentation: A 70-year-old woman had"
            " sudden right knee pain. MRI three weeks later revealed bone marrow edema in the"
            " medial femoral condyle. Conclusion: Early MRI is useful.",
            "present",
        ),
        (
            "Case presentation: A 30 year old man fell on his left hand. An MRI was done after a"
            " week. This showed slightly increased STIR signal at the scaphoid waist which could"
            " represent a bone bruise or artefact.",
            "possible",
        ),
        # ... while with a findings section the history stays history
        (
            "Case presentation: Two years ago an outside MRI revealed bone marrow edema in the"
            " medial femoral condyle.\nFindings: Normal marrow signal.",
            "absent",
        ),
        # a second arthrogram whose edema "had gone"
        (
            "MR arthrography a week later showed a Hill-Sachs impaction of the humeral head with"
            " surrounding bone marrow oedema. A second MR arthrogram was performed at four months:"
            " the defect was unchanged but the marrow oedema had gone.",
            "absent",
        ),
        # what MRI "can demonstrate" in general
        (
            "Conclusion: Where available, MRI can demonstrate bone marrow oedema within days of"
            " an occult scaphoid fracture.",
            "absent",
        ),
        # -- case report discussions and their exams --
        # general sentences of a case report's discussion
        ("Conclusion: Iloprost can be an option for painful BME of the knee.", "absent"),
        (
            "Medial knee pain in middle age has many causes, among them meniscal tears and"
            " subchondral bone marrow lesions.",
            "absent",
        ),
        (
            "When subchondral bone marrow edema accompanies a meniscal root tear, an insufficiency"
            " fracture should be suspected.",
            "absent",
        ),
        ("Keywords: iloprost, BMO, knee", "absent"),
        (
            "A repeat MRI after nine months showed no bone marrow edema. Bone marrow edema in"
            " rheumatoid arthritis predicts subsequent erosion.",
            "absent",
        ),
        # a case presentation's exam told with a colon
        (
            "Case presentation: A 28-year-old twisted her left ankle. Because pain persisted, MRI"
            " was performed: the ATFL was torn, and an ill-defined area of increased fat-suppressed"
            " T2 signal in the talar neck may represent a bone contusion.",
            "possible",
        ),
        # "ongoing" is about the discomfort, not about the edema the repeat MRI found gone
        (
            "MRI the following week showed a bone contusion of the left scaphoid waist. Repeat MRI"
            " at six weeks, requested because of ongoing discomfort, showed complete resolution"
            " of the marrow oedema.",
            "absent",
        ),
        # -- vignettes tell their later exams in many ways --
        # the later exam in the sentence before the one that finds the edema gone
        (
            "He had an MRI at the time that showed kissing bone bruises in the lateral femoral"
            " condyle and the lateral tibial plateau. He had an ACL reconstruction, and a new MRI"
            " was done. The graft is intact. The bone bruises seen on the first scan have"
            " completely resolved.",
            "absent",
        ),
        # a vignette in the present tense
        (
            "The first MRI shows increased STIR signal throughout the olecranon, interpreted as a"
            " stress reaction. He stops throwing. A follow-up MRI is then obtained, and the"
            " olecranon now shows normal marrow signal.",
            "absent",
        ),
        # an exam that "had reported" is an earlier one
        (
            "An MRI at another hospital shortly after the fall had reported bone marrow oedema in"
            " the coccyx. The coccyx now has normal marrow signal.",
            "absent",
        ),
    ],
)
def test_stories_of_exams_and_case_reports(text: str, bme: str) -> None:
    """clauses.json `prior_exam` `done_later`/`resolved`/`not_done`/`result`: the later exam
    of a story decides; a case report's exams are told in its case presentation; its
    discussion speaks in general (`generic`)."""
    assert annotate(text).bme == bme


def test_the_edema_a_later_exam_still_shows_keeps_the_case_s_cause() -> None:
    text = (
        "A 30-year-old woman in late pregnancy had right hip pain. MRI showed diffuse bone marrow"
        " edema of the right femoral head and neck. Transient osteoporosis of pregnancy was"
        " diagnosed. Follow-up MRI at three months showed near-complete resolution, with minimal"
        " residual edema in the femoral neck."
    )
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert {(s.bone, s.laterality) for s in annotation.sites} == {("femoral_neck", "right")}
    assert annotation.etiology == ("transient",)


@pytest.mark.parametrize(
    ("text", "bme", "sites"),
    [
        # the later exam tells its own edema, only hedged: that is the current status
        (
            "A 25-year-old dislocated his right shoulder. MRI two weeks later demonstrated a bone"
            " contusion at the posterolateral humeral head. A follow-up MRI at four months showed"
            " a healed labrum; there was questionable faint edema-like signal in the greater"
            " tuberosity, which may represent residual contusion or artifact.",
            "possible",
            {("humeral_head", "right")},
        ),
        # a clinic letter tells the later exam in the present tense, anchored in time
        (
            "Dear colleague, Anna dislocated her left kneecap in May. The MRI then showed bone"
            " contusions of the medial patellar facet and the lateral femoral condyle. Her"
            " follow-up MRI, twelve weeks after injury, shows that the patellar bruising has"
            " resolved; some bone bruising remains in the lateral femoral condyle.",
            "present",
            {("lateral_femoral_condyle", "left")},
        ),
        # a later exam labelled by a colon whose own sentence finds no edema
        (
            "He had a metastasis in the L3 vertebral body with surrounding bone marrow edema and"
            " was irradiated. I reviewed his restaging MRI this week: the lesion is sclerotic,"
            " and there is no longer any marrow edema.",
            "absent",
            set(),
        ),
        # the later exam's edema names no bone: it is the earlier exam's lesion
        (
            "His baseline MRI showed a subchondral bone marrow lesion in the medial tibial plateau"
            " of the left knee. A year later the repeat MRI showed that the bone marrow lesion had"
            " enlarged.",
            "present",
            {("medial_tibial_plateau", "left")},
        ),
    ],
)
def test_the_last_exam_of_a_story_tells_the_status(text: str, bme: str, sites: set) -> None:
    annotation = annotate(text)
    assert annotation.bme == bme
    assert {(s.bone, s.laterality) for s in annotation.sites} == sites


def test_a_common_finding_in_general_is_no_finding_of_the_patient() -> None:
    text = (
        "Bone bruises are a common finding after a twisting injury to the knee. On MRI they"
        " appear as ill-defined high signal on fluid-sensitive images."
    )
    assert annotate(text).bme == "absent"


def test_a_bruise_that_has_healed_is_history() -> None:
    text = (
        "COMPARISON: MRI of March showing a bone bruise of the lateral femoral condyle.\n"
        "FINDINGS: Normal marrow signal.\nIMPRESSION: No acute abnormality. The bone bruise has"
        " healed."
    )
    assert annotate(text).bme == "absent"


@pytest.mark.parametrize(
    "text",
    [
        "MRI showed marrow edema in the left tibial shaft on STIR images, with no fracture line,"
        " so a high-grade stress reaction was diagnosed.",
        "There is bone marrow edema in the body of the talus without a fracture line, interpreted"
        " as a stress reaction of the talus.",
    ],
)
def test_a_negation_ends_where_the_cause_is_given(text: str) -> None:
    """ "no fracture line, so a stress reaction was diagnosed": the reaction is not negated."""
    annotation = annotate(text)
    assert (annotation.bme, annotation.etiology) == ("present", ("overload",))


def test_of_two_rules_on_the_same_words_the_later_one_applies() -> None:
    """Ties went by the matcher's order (the hashes of the rules' keys): any added rule could
    swap which of two others applied ("is not present" with scopes of 5 and 15 tokens)."""
    from nlp.pipeline import _longest_first

    rank = {101: 0, 202: 1, 303: 2}
    for matches in ([(101, 2, 4), (202, 2, 4)], [(202, 2, 4), (101, 2, 4)]):
        assert _longest_first(matches, rank) == [(202, 2, 4)]
    assert _longest_first([(303, 0, 1), (101, 0, 3)], rank) == [(101, 0, 3)]  # longer first
    text = (
        "Perilesional marrow edema, which is common with chondroblastoma and can be extensive,"
        " is NOT present in this case."
    )
    assert statuses(text)[0] == "negated"


def test_a_negation_ends_where_a_hedge_begins() -> None:
    """ "w/o convincing T1 change, cant exclude early osteomyelitis": the cause is hedged,
    not denied; "can't" and "cant" as "cannot"."""
    text = (
        "MRI: questionable faint T2 hyperintensity in the 1st metatarsal head w/o convincing T1"
        " change, cant exclude early osteomyelitis."
    )
    annotation = annotate(text)
    assert (annotation.bme, annotation.etiology) == ("possible", ("infection",))
    assert statuses("Findings: can't exclude a bone bruise of the talus.") == ["possible"]
    assert statuses("No fracture, possibly a bone bruise of the talus.") == ["possible"]


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Comment: Had the oedema persisted beyond a year, AVN would be reconsidered.", "absent"),
        ("Were the marrow edema in the talus to persist, a biopsy would follow.", "absent"),
        ("Had the knee MRI, which shows marrow edema in the talus.", "present"),
        ("MRI brain: a lesion with little vasogenic oedema around it.", "absent"),
        ("Findings: marrow edema in the talus, not present on the prior study.", "present"),
        ("Findings: marrow edema in the talus, not present on last year's MRI.", "present"),
        ("Findings: no marrow edema in the talus.", "absent"),
    ],
)
def test_hypothetical_new_and_brain_edema(text: str, status: str) -> None:
    assert annotate(text).bme == status


def test_an_earlier_mri_told_with_showing_is_history() -> None:
    text = (
        "He had an MRI eight months ago showing marrow oedema of the left femoral head.\n"
        "Follow-up MRI: normal fatty marrow signal of both hips."
    )
    assert annotate(text).bme == "absent"


def test_german_negation_reaches_im_sinne_eines() -> None:
    text = "Beurteilung: Keine aktivierte Arthrose im Sinne eines Knochenmarködems."
    assert annotate(text).bme == "absent"


def test_german_hedge_reaches_back_over_a_long_subject() -> None:
    text = (
        "Befund: Ein diskretes Marködem im Innenknöchel im Sinne einer beginnenden "
        "Stressreaktion ist nicht sicher auszuschließen."
    )
    assert annotate(text).bme == "possible"


@pytest.mark.parametrize(
    ("text", "status"),
    [
        (
            "Findings: patchy high STIR signal in the distal femoral metaphysis. This is "
            "residual red (haematopoietic) marrow, a normal finding at this age.",
            "absent",
        ),
        (
            "Findings: STIR hyperintensity in the talus. This is consistent with a stress "
            "reaction.",
            "present",
        ),
        (
            "MRI: the marrow of the first metatarsal head is T1 dark and STIR bright, with "
            "T1 low signal replacing the fat.",
            "present",
        ),
        (
            "MRI #1 (week 0): STIR-bright marrow in the posteromedial tibial diaphysis.\n"
            "MRI #2 (week 10): marrow edema completely resolved.",
            "absent",
        ),
        ("Quiz.\nOptions:\na) Perthes disease with marrow edema\nb) Transient synovitis", "absent"),
        (
            "Beurteilung: Rückbildung des Knochenmarködems im Hüftkopf, kein residuelles Ödem.",
            "absent",
        ),
        ("Befund: Knochenmarkodem im LWK 4.", "present"),
    ],
)
def test_second_wave_statuses(text: str, status: str) -> None:
    assert annotate(text).bme == status


@pytest.mark.parametrize(
    "text",
    [
        "Findings: normal marrow around the Schmorl nodes.\nTake home: an acute Schmorl node "
        "has a halo of marrow edema; these do not.",
        "This man was first scanned two years ago, when the L3-L4 endplates showed bone "
        "marrow edema on STIR. The current MRI shows fatty endplates; the edema has resolved.",
    ],
)
def test_third_wave_absent(text: str) -> None:
    assert annotate(text).bme == "absent"


def test_the_previous_edema_several_adjectives_before_is_history() -> None:
    text = (
        "Follow-up MRI right knee. The condyle is back to normal fatty marrow.\n"
        "Conclusion: complete resolution of the previous medial femoral condylar marrow oedema."
    )
    assert annotate(text).bme == "absent"


@pytest.mark.parametrize(
    "text",
    [
        # a labelled earlier exam, and today's findings
        "35M, back pain.\n- Prior MRI (a year ago): STIR hyperintensity in both iliac bones\n"
        "- Today: no STIR hyperintensity in the periarticular marrow",
        # a later exam named by its interval
        "MRI of the pelvis showed marrow oedema in the left pubic body. "
        "His six-month MRI showed normal marrow signal throughout.",
    ],
)
def test_todays_or_an_intervals_exam_is_the_later_word(text: str) -> None:
    assert annotate(text).bme == "absent"


def test_a_next_sentence_that_only_hedges_the_signals_cause_makes_it_possible() -> None:
    """ "Could be an early stress reaction ... but could also be normal": the signal is
    edema only as far as the report makes it so."""
    text = (
        "History: 15F sprinter, left midfoot pain.\nFindings: Navicular: subtle increased "
        "signal on STIR dorsally, no T1 line. Could be an early stress reaction of the "
        "navicular but it is faint and could also be normal."
    )
    result = annotate(text)
    assert result.bme == "possible"
    assert result.etiology == ("overload",)
