"""The click subcommands. Each module imports the library inside its command function, so that
``jepa-bench CMD --help`` answers without importing torch."""
