"""`python -m perseus` = the `perseus` command."""

from perseus.cli.app import main

main()
