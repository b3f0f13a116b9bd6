"""Running one scenario over several machines on Mininet's Cluster Edition."""
