"""The command-line entry point (`busanchain`)."""
