"""Hypothesis strategies for the HL7 tests, in one place."""

from __future__ import annotations

import re

from hypothesis import strategies as st

# Message payloads never contain the MLLP block characters.
_PAYLOAD_BYTES = st.binary(max_size=300).map(
    lambda b: b.replace(b"\x0b", b"").replace(b"\x1c", b"")
)

payloads = _PAYLOAD_BYTES
messages = st.builds(
    lambda body: b"MSH|^~\\&|A|B|C|D|||ORU^R01|1|P|2.5\r" + body + b"\r",
    _PAYLOAD_BYTES,
)
# Junk between frames: anything but a start block.
junk = st.binary(max_size=20).map(lambda b: b.replace(b"\x0b", b""))
cut_points = st.lists(st.integers(min_value=0, max_value=5000), max_size=20)

# Report text: any characters but surrogates, CR (normalised to LF) and the MLLP blocks.
# A text that is only a DICOM UID ("1.2.840.113619") is an image reference, which
# hl7.extract skips on purpose, so it is no report text to round-trip.
_UID = re.compile(r"^[0-9]+(?:\.[0-9]+){3,}$")
report_texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x0b\x1c"),
    min_size=1,
    max_size=300,
).filter(
    lambda t: (
        t.strip() != ""
        and '""' not in t.split("\n")
        and not any(_UID.match(line.strip()) for line in t.split("\n"))
    )
)
