"""The `perseus` command line: one subcommand per user verb, no logic of its own."""
