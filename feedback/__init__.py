"""Radiologists' feedback on flags, turned into gold labels and agreement figures.

Pure: no database, no web framework. `worker/` stores reviews and serves the pages.
"""
