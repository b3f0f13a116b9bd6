"""The live view of a run (`hermitnet run ... --view`): a read-only web page for the projector."""
