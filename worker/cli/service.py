"""radflag service commands (being built)."""
