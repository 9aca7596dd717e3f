"""Command-line subcommands that orchestrate the library."""
