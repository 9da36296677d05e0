"""The ground floor (docs/architecture.md, "Floors"): what every other package uses and
that imports nothing of signcli above it. Errors, file checks and atomic writes, the
structured-file reader, limits, stream names, the work directory's file names, the column
layout and the dataset manifest, and the torch-free declarations of tasks and models.
Torch-free."""
