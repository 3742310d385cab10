"""Highlighting mentions in report text: whatever the offsets, the text is shown whole."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from worker.web.present import flag_label, segments, site_label

STATUSES = ("present", "possible", "negated", "historical", "hypothetical")


@st.composite
def text_and_mentions(draw: st.DrawFn) -> tuple[str, list[dict]]:
    text = draw(st.text(min_size=0, max_size=80))
    mentions = []
    for _ in range(draw(st.integers(0, 6))):
        start = draw(st.integers(-2, len(text) + 2))
        end = draw(st.integers(start - 1, len(text) + 3))
        genuine = 0 <= start <= end <= len(text) and draw(st.booleans())
        quoted = text[start:end] if genuine else draw(st.text(max_size=5))
        status = draw(st.sampled_from(STATUSES))
        mentions.append({"start": start, "end": end, "status": status, "text": quoted})
    return text, mentions


@given(text_and_mentions())
def test_segments_keep_the_text_and_highlight_only_fitting_mentions(case: tuple) -> None:
    """Segments join to the text; each highlight is a mention whose text matches its span."""
    text, mentions = case
    parts = segments(text, mentions)
    assert "".join(p.text for p in parts) == text
    position = 0
    for part in parts:
        if part.mention is not None:
            assert part.mention["start"] == position and part.text == part.mention["text"]
            assert part.text and part.css_class.startswith("mention-")
        position += len(part.text)


def test_labels() -> None:
    """Codes and bone terms read as words; sides abbreviated."""
    assert flag_label("OSTEONECROSIS_CONCERN") == "Osteonecrosis concern"
    assert flag_label("TRANSIENT_BME") == "Transient BME"
    assert site_label("medial_femoral_condyle", "right") == "medial femoral condyle (R)"
    assert site_label("vertebral_body", None) == "vertebral body"
