"""`radflag annotate` (being built)."""
