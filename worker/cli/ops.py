"""radflag ops commands (being built)."""
