"""hermitnet: a network-emulation testbed for closed national 3G networks."""

__version__ = "0.1.0"
