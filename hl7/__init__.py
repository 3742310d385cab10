"""Pure HL7 v2: parse, extract reports, build ACKs and results, MLLP framing.

No sockets, Redis, Celery or environment in here: bytes and dataclasses in,
bytes and dataclasses out. This package shadows PyPI's `hl7`; we use hl7apy.
"""
