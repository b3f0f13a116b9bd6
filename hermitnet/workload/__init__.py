"""What runs on the emulated network: servers, clients and observers."""
