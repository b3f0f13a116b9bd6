"""Building, shaping, observing and tearing down the emulated network (needs root)."""
