"""One module per CLI command: a docstring, add_arguments(parser) and run(args) -> int."""
