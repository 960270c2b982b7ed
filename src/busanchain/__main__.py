"""`python -m busanchain` runs the CLI."""

from busanchain.cli.main import main

main()
