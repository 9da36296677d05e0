"""`python -m signcli` runs the same app as the `signcli` console script."""

from signcli.cli import main

if __name__ == "__main__":
    main()
