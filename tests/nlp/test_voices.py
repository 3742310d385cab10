"""The voices corpora (tests/fixtures/reports/voices_*.jsonl) hold their scores.

voices_*: 162 English and 51 German synthetic reports written after the
annotator, in voices unlike the earlier fixtures (figure by figure, terse,
multi-joint, signal only, British/Swiss spelling, hard negatives); heldout_*:
70 English and 25 German in six more voices, written after the voices round of
fixes; heldout3_* (a second held-out batch): 50 English and 24 German in six
more voices each (community, subspecialty, overnight, interval, template,
non-native English; practice, university, follow-up, terse, expert opinion,
template German), written by helpers from the contract alone, without the
annotator; heldout4_*: 30 English and 24 German the same way, written after the
heldout3 fixes (teleradiology, pediatric, oncology, sports, rheumatology,
emergency); heldout5_*: 30 English and 24 German after the heldout4 fixes
(spine, foot and ankle, hand and wrist, postoperative, private practice,
shoulder and elbow); heldout6_en: 40 English texts in the genres of public
teaching material (case reports, teaching files with a discussion, figure
legends, image quizzes, archive reports, differential lists, follow-up
series); heldout7_en: 40 more in such genres (image challenges, abstracts,
teaching-conference notes, case series, archive cases, multimodality cases,
labelled figures, grand rounds); heldout8_en: 30 more (review case boxes,
board vignettes, clinic letters, case-of-the-day posts, rounds dialogues, past
and present exams in prose); heldout9_en: 40 archive cases of a teaching
library, three in four of them hard negatives; heldout10_en: 40 dictated
clinical reports; heldout11_en: 36 teaching cases whose difficulty is the bone
and the side; heldout12_en: 40 more archive cases, four in five absent;
heldout13_en: 36 archive cases naming edema and causes in unusual words;
heldout14_en: 40 archive cases, four in five absent, some beyond MSK;
heldout15_en: 36 archive cases whose difficulty is the status and the cause;
heldout16_en: 40 archive cases, three in four hard negatives; heldout17_en: 40
dictated clinical reports under capital headings; heldout18_en: 36 archive
cases, 26 hard negatives; heldout19_en: 30 long structure-by-structure
dictated reports; heldout20_en: 36 case stories told over several exams;
heldout21_en: 36 more case stories; heldout22_en: 36 archive cases, two in three
with edema, many at rarely reported bones; heldout23_en: 36 case-report abstracts
over several exams; heldout24_en: 36 follow-up radiology reports; heldout25_en:
36 more case reports; heldout26_en: 40 archive cases, three in four absent;
heldout27_en: 36 teaching vignettes; heldout28_en: 36 reports of both sides or
several regions; heldout29_en: 40 archive cases, 28 absent; heldout30_en: 36
case reports in varied structures; heldout31_en, heldout34_en, heldout35_en: 40
archive cases each, half with edema; heldout32_en: 40 archive cases in notes and
bullets; heldout33_en and heldout37_en: 36 clinic letters, consultations,
discharge summaries and operative notes that cite an MRI; heldout36_en,
heldout38_en, heldout40_en: 40 archive cases each, most about other things;
heldout39_en: 36 dictated radiology reports; heldout41_en, heldout42_en: 40
archive cases each (the second of less common regions); heldout41_de: 36 German
radiology reports; heldout42_de: 36 German clinic letters, discharge letters and
operative reports that cite an MRI; heldout43_* and heldout44_*: the same genres
again (English archive cases, the second of tumours, infection, inflammation, children
and athletes), written after the first wave's fixes; heldout45_en, heldout46_en, heldout47_en
(archive cases: as a case database exports them; knee, hip, ankle and foot; spine,
pelvis and upper limb) and heldout45_de (German reports and letters mixed), the
third wave. The twenty-first round: heldout48_en (archive cases), heldout49_en (case
database exports with differential diagnoses), heldout50_en (dictated radiology reports),
heldout50_de (German reports and letters); its second wave heldout51_en and heldout52_en
(archive cases as "History:" and "Findings:", the second of less common regions and
causes) and heldout51_de; its third wave heldout53_en, heldout54_en (archive cases as
"History:" and "Findings:") and heldout53_de, kept as scored at first sight but for a
few fixes (README and VOICES.md). The twenty-second round: heldout55_en (archive cases
as "History:" and "Findings:", mostly hard negatives), heldout56_en (archive cases by
many hands, uncommon bones and causes, several exams) and heldout55_de; its second wave
heldout57_en (archive cases, 32 of 40 absent), heldout58_en (cases hard for sides, parts of
bones and causes) and heldout57_de; its third wave heldout59_en (archive cases),
heldout60_en (reports, teaching cases, case reports and letters) and heldout59_de; a last
wave heldout61_en, heldout62_en and heldout61_de, scored on the final code with no rule
changed for it (its floors are its first-sight figures, a little below). The
twenty-third round: heldout63_en (teaching-case archive, sides in histories and captions),
heldout64_en (dictated reports of many templates, addenda, comparisons) and heldout63_de;
its second wave heldout65_en (case reports told over several exams, teaching texts),
heldout66_en (short departmental reports, abbreviations) and heldout65_de; a last wave
heldout67_en, heldout68_en and heldout67_de, scored on the final code with no rule changed
for it (its floors are its first-sight figures, a little below). The twenty-fourth round:
heldout69_en (structured MSK reports), heldout70_en (letters, MDT minutes, second opinions,
case reports) and heldout69_de; its second wave heldout71_en (spine, pelvis, sacrum),
heldout72_en (limbs, many training styles) and heldout71_de; its third wave heldout73_en
(teaching-case archives and quizzes), heldout74_en (US transcribed reports) and
heldout73_de; a last wave heldout75_en, heldout76_en (personal reporting habits) and
heldout75_de, scored on the final code with no rule changed for it. The twenty-fifth round:
heldout77_en (teaching-case library entries), heldout78_en (image quizzes, journal case
reports, posters), heldout79_en (dictated reports in strong personal habits) and
heldout77_de; its second wave heldout80_en (mixed as a blind set), heldout81_en (figure
captions and image galleries) and heldout80_de; a last wave heldout82_en, heldout83_en
(unusual habits: by sequence, as tables, abbreviations, several exams) and heldout82_de,
scored on the final code with no rule changed for it; then a fourth wave heldout84_en (case
libraries and journal case reports), heldout85_en (letters, MDT minutes, second opinions)
and heldout84_de, and a second last wave heldout86_en, heldout87_en (many countries'
conventions) and heldout86_de, scored on the round's final code with no rule changed for it.
The twenty-sixth round: heldout88_en (transcribed reports and case entries), heldout89_en
(causes as specialists write them), heldout90_en (where sides hide) and heldout88_de; its
second wave heldout91_en (archive searches), heldout92_en (children, the elderly, the spine
and trunk) and heldout91_de (follow-ups); its third wave heldout93_en (sports and trauma),
heldout94_en (templates and tables) and heldout93_de (teaching texts, letters, expert
opinions); its fourth wave heldout95_en (mixed as a blind set), heldout96_en (how status is
worded) and heldout95_de; a last wave heldout97_en, heldout98_en and heldout97_de, scored on
the round's final code with no rule changed for it.
The twenty-seventh round: heldout99_en (archive cases across radiology), heldout100_en
(which bone and which side), heldout101_en (causes), heldout99_de and heldout101_de (status
wording and time); a last wave heldout102_en, heldout103_en and heldout102_de, scored on the
round's final code with no rule changed for it, then fixed; a second last wave heldout104_en
(archive cases across radiology), heldout105_en (clinical reports of many practices),
heldout106_en (letters and summaries that quote an MRI) and heldout104_de, scored on the
round's final code with no rule changed for it.
The twenty-eighth round: heldout107_en (structured MSK templates, signal-only edema),
heldout107_de (Befunde of practices and clinics), heldout108_en (teaching cases across the
body), heldout109_en (dictation, speech-recognition slips), heldout109_de (letters quoting an
MRI); a second wave heldout112_en and heldout112_de (clinicians' letters quoting MRI
results), heldout113_en and heldout113_de (radiology house styles); a last wave
heldout110_en, heldout110_de and heldout111_en, scored on the round's final code with no
rule changed for it (one regression of the round's own rules, h110-028, was mended after,
and one class of heldout110_en's misses fixed, h110-008).
The twenty-ninth round: heldout114_en and heldout114_de (foot, ankle and knee, sports),
heldout115_en and heldout115_de (hip, pelvis and spine; tumour, infection, follow-ups),
heldout116_de (hand, wrist and shoulder; rheumatology letters); a second wave heldout117_en
(upper limb, clinic letters), heldout117_de (diabetic foot, stress fractures, children),
heldout118_en and heldout118_de (older knees and hips, SONK, transient osteoporosis); a last
wave heldout119_en, heldout119_de (a mixed MSK day) and heldout120_en (reports from other
hospitals and countries), scored on the round's final code with no rule changed for it.
The thirtieth round: heldout121_en and heldout121_de (outside and teleradiology reads,
addenda, signal-only edema beyond the knee), heldout122_en and heldout122_de (causes in many
words, the side in the history or the procedure); a last wave heldout123_en and heldout123_de
(a mixed MSK list as a blind set would have it), scored on the round's rules before its own
fixes. The thirty-first round: heldout124_en and heldout124_de (children, adolescents and
athletes: growth plates, apophyses, red marrow, stress injuries), heldout125_en and
heldout125_de (impressions that refine the findings, comparisons with earlier MRIs,
whole-body STIR, both sides in one exam); a last wave heldout126_en and heldout126_de (a
mixed MSK list with teaching cases), scored on the round's final code with no rule changed
for it.
Their first-sight scores are in README.md and VOICES.md; these floors keep
what the rules reached.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp import annotate
from nlp.evaluation import score

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "reports"

FLOORS = {
    "voices_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.93, "site_f1": 0.92},
    "voices_de.jsonl": {"status_acc": 0.96, "flag_f1": 0.92, "site_f1": 0.93},
    "heldout_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.92, "site_f1": 0.88},
    "heldout_de.jsonl": {"status_acc": 0.96, "flag_f1": 0.92, "site_f1": 0.88},
    "heldout3_en.jsonl": {"status_acc": 0.96, "flag_f1": 0.96, "site_f1": 0.96},
    "heldout3_de.jsonl": {"status_acc": 0.94, "flag_f1": 0.94, "site_f1": 0.90},
    "heldout4_en.jsonl": {"status_acc": 0.93, "flag_f1": 0.95, "site_f1": 0.85},
    "heldout4_de.jsonl": {"status_acc": 0.93, "flag_f1": 0.93, "site_f1": 0.90},
    "heldout5_en.jsonl": {"status_acc": 0.96, "flag_f1": 0.96, "site_f1": 0.96},
    "heldout5_de.jsonl": {"status_acc": 0.95, "flag_f1": 0.95, "site_f1": 0.93},
    "heldout6_en.jsonl": {"status_acc": 0.90, "flag_f1": 0.86, "site_f1": 0.88},
    "heldout7_en.jsonl": {"status_acc": 0.88, "flag_f1": 0.88, "site_f1": 0.84},
    "heldout8_en.jsonl": {"status_acc": 0.80, "flag_f1": 0.75, "site_f1": 0.80},
    "heldout9_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.94, "site_f1": 0.93},
    "heldout10_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.96, "site_f1": 0.95},
    "heldout11_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.93, "site_f1": 0.92},
    "heldout12_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.90, "site_f1": 0.95},
    "heldout13_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.94, "site_f1": 0.90},
    "heldout14_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.92},
    "heldout15_en.jsonl": {"status_acc": 0.91, "flag_f1": 0.89, "site_f1": 0.89},
    "heldout16_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.97},
    "heldout17_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.94},
    "heldout18_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.97},
    "heldout19_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.95, "site_f1": 0.97},
    "heldout20_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.94, "site_f1": 0.91},
    "heldout21_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.92, "site_f1": 0.92},
    "heldout22_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.95, "site_f1": 0.88},
    "heldout23_en.jsonl": {"status_acc": 0.83, "flag_f1": 0.85, "site_f1": 0.75},
    "heldout24_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.93},
    "heldout25_en.jsonl": {"status_acc": 0.91, "flag_f1": 0.83, "site_f1": 0.89},
    "heldout26_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.97},
    "heldout27_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.90, "site_f1": 0.89},
    "heldout28_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.95, "site_f1": 0.96},
    "heldout29_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.92, "site_f1": 0.97},
    "heldout30_en.jsonl": {"status_acc": 0.83, "flag_f1": 0.82, "site_f1": 0.82},
    "heldout31_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.96, "site_f1": 0.98},
    "heldout32_en.jsonl": {"status_acc": 0.98, "flag_f1": 0.98, "site_f1": 0.94},
    "heldout33_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.92, "site_f1": 0.94},
    "heldout34_en.jsonl": {"status_acc": 0.98, "flag_f1": 0.97, "site_f1": 0.96},
    "heldout35_en.jsonl": {"status_acc": 0.98, "flag_f1": 0.97, "site_f1": 0.98},
    "heldout36_en.jsonl": {"status_acc": 0.98, "flag_f1": 0.98, "site_f1": 0.93},
    "heldout37_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.93, "site_f1": 0.93},
    "heldout38_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.96, "site_f1": 0.96},
    "heldout39_en.jsonl": {"status_acc": 0.98, "flag_f1": 0.96, "site_f1": 0.96},
    "heldout40_en.jsonl": {"status_acc": 0.93, "flag_f1": 0.93, "site_f1": 0.93},
    "heldout41_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.94, "site_f1": 0.97},
    "heldout42_en.jsonl": {"status_acc": 0.90, "flag_f1": 0.86, "site_f1": 0.91},
    "heldout41_de.jsonl": {"status_acc": 0.95, "flag_f1": 0.93, "site_f1": 0.94},
    "heldout42_de.jsonl": {"status_acc": 0.92, "flag_f1": 0.94, "site_f1": 0.96},
    "heldout43_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.93, "site_f1": 0.90},
    "heldout44_en.jsonl": {"status_acc": 0.90, "flag_f1": 0.88, "site_f1": 0.82},
    "heldout43_de.jsonl": {"status_acc": 0.95, "flag_f1": 0.93, "site_f1": 0.88},
    "heldout44_de.jsonl": {"status_acc": 0.89, "flag_f1": 0.84, "site_f1": 0.92},
    "heldout45_en.jsonl": {"status_acc": 0.90, "flag_f1": 0.83, "site_f1": 0.90},
    "heldout46_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.95, "site_f1": 0.91},
    "heldout47_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.93, "site_f1": 0.90},
    "heldout45_de.jsonl": {"status_acc": 0.95, "flag_f1": 0.95, "site_f1": 0.88},
    "heldout48_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.94, "site_f1": 0.95},
    "heldout49_en.jsonl": {"status_acc": 0.92, "flag_f1": 0.91, "site_f1": 0.85},
    "heldout50_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.94},
    "heldout50_de.jsonl": {"status_acc": 0.95, "flag_f1": 0.91, "site_f1": 0.88},
    "heldout51_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.91, "site_f1": 0.94},
    "heldout52_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.91, "site_f1": 0.80},
    "heldout51_de.jsonl": {"status_acc": 0.95, "flag_f1": 0.93, "site_f1": 0.86},
    "heldout53_en.jsonl": {"status_acc": 0.92, "flag_f1": 0.83, "site_f1": 0.82},
    "heldout54_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.93, "site_f1": 0.90},
    "heldout53_de.jsonl": {"status_acc": 0.95, "flag_f1": 0.96, "site_f1": 0.84},
    "heldout55_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.92, "site_f1": 0.91},
    "heldout56_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.97},
    "heldout55_de.jsonl": {"status_acc": 0.95, "flag_f1": 0.95, "site_f1": 0.96},
    "heldout57_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.97},
    "heldout58_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.94, "site_f1": 0.92},
    "heldout57_de.jsonl": {"status_acc": 0.95, "flag_f1": 0.95, "site_f1": 0.89},
    "heldout59_en.jsonl": {"status_acc": 0.92, "flag_f1": 0.89, "site_f1": 0.93},
    "heldout60_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.96, "site_f1": 0.95},
    "heldout59_de.jsonl": {"status_acc": 0.95, "flag_f1": 0.95, "site_f1": 0.90},
    "heldout61_en.jsonl": {"status_acc": 0.92, "flag_f1": 0.91, "site_f1": 0.97},
    "heldout62_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.94, "site_f1": 0.95},
    "heldout61_de.jsonl": {"status_acc": 0.95, "flag_f1": 0.93, "site_f1": 0.92},
    "heldout63_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.96, "site_f1": 0.95},
    "heldout64_en.jsonl": {"status_acc": 0.95, "flag_f1": 0.94, "site_f1": 0.91},
    "heldout63_de.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.97},
    "heldout65_en.jsonl": {"status_acc": 0.92, "flag_f1": 0.91, "site_f1": 0.86},
    "heldout66_en.jsonl": {"status_acc": 0.92, "flag_f1": 0.93, "site_f1": 0.89},
    "heldout65_de.jsonl": {"status_acc": 0.97, "flag_f1": 0.95, "site_f1": 0.89},
    "heldout67_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.97},
    "heldout68_en.jsonl": {"status_acc": 0.85, "flag_f1": 0.81, "site_f1": 0.89},
    "heldout67_de.jsonl": {"status_acc": 0.89, "flag_f1": 0.88, "site_f1": 0.90},
    "heldout69_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.94, "site_f1": 0.93},
    "heldout70_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.95, "site_f1": 0.95},
    "heldout69_de.jsonl": {"status_acc": 0.94, "flag_f1": 0.95, "site_f1": 0.95},
    "heldout71_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.94, "site_f1": 0.95},
    "heldout72_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.95},
    "heldout71_de.jsonl": {"status_acc": 0.91, "flag_f1": 0.91, "site_f1": 0.90},
    "heldout73_en.jsonl": {"status_acc": 0.84, "flag_f1": 0.85, "site_f1": 0.82},
    "heldout74_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.93, "site_f1": 0.94},
    "heldout73_de.jsonl": {"status_acc": 0.91, "flag_f1": 0.91, "site_f1": 0.87},
    "heldout75_en.jsonl": {"status_acc": 0.92, "flag_f1": 0.93, "site_f1": 0.90},
    "heldout76_en.jsonl": {"status_acc": 0.89, "flag_f1": 0.89, "site_f1": 0.94},
    "heldout75_de.jsonl": {"status_acc": 0.88, "flag_f1": 0.87, "site_f1": 0.83},
    "heldout77_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.94},
    "heldout78_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.91, "site_f1": 0.94},
    "heldout79_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.94, "site_f1": 0.81},
    "heldout77_de.jsonl": {"status_acc": 0.94, "flag_f1": 0.93, "site_f1": 0.83},
    "heldout80_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.95, "site_f1": 0.90},
    "heldout81_en.jsonl": {"status_acc": 0.92, "flag_f1": 0.91, "site_f1": 0.90},
    "heldout80_de.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.82},
    "heldout82_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.89, "site_f1": 0.92},
    "heldout83_en.jsonl": {"status_acc": 0.89, "flag_f1": 0.91, "site_f1": 0.81},
    "heldout82_de.jsonl": {"status_acc": 0.91, "flag_f1": 0.91, "site_f1": 0.87},
    "heldout84_en.jsonl": {"status_acc": 0.89, "flag_f1": 0.88, "site_f1": 0.92},
    "heldout85_en.jsonl": {"status_acc": 0.92, "flag_f1": 0.92, "site_f1": 0.94},
    "heldout84_de.jsonl": {"status_acc": 0.97, "flag_f1": 0.95, "site_f1": 0.91},
    "heldout86_en.jsonl": {"status_acc": 0.92, "flag_f1": 0.92, "site_f1": 0.84},
    "heldout87_en.jsonl": {"status_acc": 0.92, "flag_f1": 0.93, "site_f1": 0.89},
    "heldout86_de.jsonl": {"status_acc": 0.77, "flag_f1": 0.85, "site_f1": 0.76},
    "heldout88_en.jsonl": {"status_acc": 0.89, "flag_f1": 0.92, "site_f1": 0.91},
    "heldout89_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.93, "site_f1": 0.93},
    "heldout90_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.87},
    "heldout88_de.jsonl": {"status_acc": 0.94, "flag_f1": 0.94, "site_f1": 0.94},
    "heldout91_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.93},
    "heldout92_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.96, "site_f1": 0.87},
    "heldout91_de.jsonl": {"status_acc": 0.88, "flag_f1": 0.89, "site_f1": 0.84},
    "heldout93_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.95, "site_f1": 0.92},
    "heldout94_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.88},
    "heldout93_de.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.94},
    "heldout95_en.jsonl": {"status_acc": 0.89, "flag_f1": 0.91, "site_f1": 0.90},
    "heldout96_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.96, "site_f1": 0.90},
    "heldout95_de.jsonl": {"status_acc": 0.94, "flag_f1": 0.94, "site_f1": 0.95},
    "heldout97_en.jsonl": {"status_acc": 0.89, "flag_f1": 0.89, "site_f1": 0.83},
    "heldout98_en.jsonl": {"status_acc": 0.92, "flag_f1": 0.93, "site_f1": 0.86},
    "heldout97_de.jsonl": {"status_acc": 0.88, "flag_f1": 0.88, "site_f1": 0.80},
    "heldout99_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.90, "site_f1": 0.97},
    "heldout100_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.96, "site_f1": 0.93},
    "heldout101_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.95, "site_f1": 0.97},
    "heldout99_de.jsonl": {"status_acc": 0.94, "flag_f1": 0.94, "site_f1": 0.91},
    "heldout101_de.jsonl": {"status_acc": 0.97, "flag_f1": 0.94, "site_f1": 0.89},
    "heldout102_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.94, "site_f1": 0.97},
    "heldout103_en.jsonl": {"status_acc": 0.89, "flag_f1": 0.91, "site_f1": 0.79},
    "heldout102_de.jsonl": {"status_acc": 0.94, "flag_f1": 0.94, "site_f1": 0.91},
    "heldout104_en.jsonl": {"status_acc": 0.92, "flag_f1": 0.83, "site_f1": 0.90},
    "heldout105_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.81},
    "heldout106_en.jsonl": {"status_acc": 0.87, "flag_f1": 0.87, "site_f1": 0.88},
    "heldout104_de.jsonl": {"status_acc": 0.97, "flag_f1": 0.94, "site_f1": 0.89},
    "heldout107_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.97},
    "heldout107_de.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.95},
    "heldout108_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.97},
    "heldout109_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.94},
    "heldout109_de.jsonl": {"status_acc": 0.94, "flag_f1": 0.94, "site_f1": 0.89},
    "heldout112_en.jsonl": {"status_acc": 0.87, "flag_f1": 0.89, "site_f1": 0.93},
    "heldout112_de.jsonl": {"status_acc": 0.91, "flag_f1": 0.90, "site_f1": 0.78},
    "heldout113_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.94, "site_f1": 0.89},
    "heldout113_de.jsonl": {"status_acc": 0.91, "flag_f1": 0.91, "site_f1": 0.89},
    "heldout110_en.jsonl": {"status_acc": 0.89, "flag_f1": 0.88, "site_f1": 0.83},
    "heldout110_de.jsonl": {"status_acc": 0.85, "flag_f1": 0.87, "site_f1": 0.88},
    "heldout111_en.jsonl": {"status_acc": 0.92, "flag_f1": 0.93, "site_f1": 0.92},
    "heldout114_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.94, "site_f1": 0.97},
    "heldout114_de.jsonl": {"status_acc": 0.97, "flag_f1": 0.96, "site_f1": 0.97},
    "heldout115_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.97},
    "heldout115_de.jsonl": {"status_acc": 0.94, "flag_f1": 0.95, "site_f1": 0.92},
    "heldout116_de.jsonl": {"status_acc": 0.94, "flag_f1": 0.95, "site_f1": 0.93},
    "heldout117_en.jsonl": {"status_acc": 0.92, "flag_f1": 0.89, "site_f1": 0.91},
    "heldout117_de.jsonl": {"status_acc": 0.89, "flag_f1": 0.86, "site_f1": 0.79},
    "heldout118_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.95, "site_f1": 0.94},
    "heldout118_de.jsonl": {"status_acc": 0.92, "flag_f1": 0.91, "site_f1": 0.88},
    "heldout119_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.95, "site_f1": 0.94},
    "heldout119_de.jsonl": {"status_acc": 0.89, "flag_f1": 0.91, "site_f1": 0.85},
    "heldout120_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.94, "site_f1": 0.97},
    "heldout121_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.97},
    "heldout121_de.jsonl": {"status_acc": 0.97, "flag_f1": 0.95, "site_f1": 0.92},
    "heldout122_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.95, "site_f1": 0.91},
    "heldout122_de.jsonl": {"status_acc": 0.87, "flag_f1": 0.89, "site_f1": 0.91},
    "heldout123_en.jsonl": {"status_acc": 0.92, "flag_f1": 0.92, "site_f1": 0.93},
    "heldout123_de.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.93},
    "heldout124_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.97},
    "heldout124_de.jsonl": {"status_acc": 0.92, "flag_f1": 0.93, "site_f1": 0.95},
    "heldout125_en.jsonl": {"status_acc": 0.94, "flag_f1": 0.96, "site_f1": 0.96},
    "heldout125_de.jsonl": {"status_acc": 0.89, "flag_f1": 0.86, "site_f1": 0.89},
    "heldout126_en.jsonl": {"status_acc": 0.97, "flag_f1": 0.97, "site_f1": 0.95},
    "heldout126_de.jsonl": {"status_acc": 0.97, "flag_f1": 0.95, "site_f1": 0.88},
}


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_voices_corpus_meets_its_floor(name: str) -> None:
    rows = {}
    for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows[row["id"]] = row
    outputs = {
        rid: annotate(r["text"], procedure=r.get("procedure")).to_json_dict(rid)
        for rid, r in rows.items()
    }
    scores = score(rows, outputs)
    assert scores.shortfalls(FLOORS[name]) == [], scores.lines()
