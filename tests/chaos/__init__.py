"""Chaos suite: faults under a steady load, and a count of every acknowledged message."""
