"""Pure HL7 v2: parse, extract reports, build ACKs and results, MLLP framing.

No sockets, Redis, Celery or environment in here: bytes and dataclasses in,
bytes and dataclasses out. This package shadows PyPI's `hl7`.

- `hl7.mllp`: `encode_frame`, `FrameDecoder` (incremental, bounded).
- `hl7.header`: `parse_header` (MSH only, microseconds), `check_supported`.
- `hl7.ack`: `ack_code`, `response_code`, `build_ack`, `parse_ack`.
- `hl7.extract`: `extract_report` (ORU^R01, MDM^T02/T04 -> `Report`).
- `hl7.result`: `build_result` (the outbound ORU^R01 v2.5.1).
- `hl7.batch`: `split_messages`, `looks_like_hl7` (files for offline tools).
- `hl7.text`, `hl7.segments`: character sets, escapes, the positional split.

hl7apy is not on the read or write path: its full parse measured 15 to 90 ms
per report here against about 0.1 ms for `extract_report`, it hands FT values
back with `\\.br\\` re-escaped, and tolerance of real senders is easier to hold
in a positional split. The tests use hl7apy as an independent oracle (OBX
fields of every sample; results and ACKs parse back) and bench/hl7.py as the
baseline.
"""
