"""Follow-ups that close themselves: pure domain logic, no I/O.

- `followup.model`: `Recommendation`, `ClinicalEvent`, statuses, the audit entry.
- `followup.rules`: the per-language data (`nlp/rules/<lang>/recommendations.json`).
- `followup.detect`: radiologists' own recommendation sentences (English, German).
- `followup.recommend`: an annotated report -> structured recommendations.
- `followup.regions`: body region, side and modality from procedures and findings.
- `followup.matching`: which open recommendation an order, appointment or report closes.
- `followup.status`: the status model and its transitions.
- `followup.course`: the course of the edema between two exams.

`worker/` does the storing, the clock and the messaging around these.
"""
