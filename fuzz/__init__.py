"""Fuzz targets for radflag's parsers and annotator (Atheris), and their runner.

`python -m fuzz.run TARGET [--seconds N]` runs one target under Atheris
(libFuzzer), seeded from tests/fixtures; `make fuzz` runs all of them longer,
and tests/fuzz runs each briefly in the test suite.
"""
