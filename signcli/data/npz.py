"""Read one single-stream sample: an `.npz` file holding `X [T, D]` (or `X2048`, or any key).

One implementation for `validate-npz` (which wants every problem) and for training
(which refuses a file with any error). Torch-free.
NaN means "landmark not detected" and is kept here; Inf is an error.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

NPZ_SUFFIX = ".npz"
FEATURES_KEY = "X2048"
FEATURES_DIM = 2048


@dataclass(frozen=True)
class Problem:
    """One finding about one file: `kind` is a stable short name, `message` is for people."""

    kind: str
    message: str
    severity: str = "error"  # "error" | "warning"


@dataclass
class NpzCheck:
    """What reading one file found: its shape, NaN share and problems."""

    path: Path
    T: int | None = None
    D: int | None = None
    nan_share: float = 0.0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


class SampleReadError(Exception):
    """A file that training cannot use; carries the problems found."""

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(p.message for p in problems))


def sample_id(name: str | Path) -> str:
    """The id of a sample: its file's basename without `.npz` (labels may use either)."""
    base = Path(str(name)).name
    return base[: -len(NPZ_SUFFIX)] if base.lower().endswith(NPZ_SUFFIX) else base


def list_npz_files(folder: Path) -> list[Path]:
    """The `.npz` files of a split folder, sorted by name so that every run sees one order."""
    return sorted(
        p for p in Path(folder).iterdir() if p.suffix.lower() == NPZ_SUFFIX and p.is_file()
    )


def check_npz(
    path: Path, key: str = "X", dim: int | None = None
) -> tuple[NpzCheck, np.ndarray | None]:
    """Read `path[key]` and check it; returns the findings and the float32 array (None on error)."""
    check = NpzCheck(Path(path))
    try:
        with np.load(path, allow_pickle=False) as npz:
            if key not in npz.files:
                present = ", ".join(npz.files) or "none"
                check.problems.append(
                    Problem("missing_key", f"no array {key!r} (keys present: {present})")
                )
                return check, None
            array = npz[key]
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        reason = str(exc) or type(exc).__name__
        check.problems.append(Problem("unreadable", f"not a readable .npz file ({reason})"))
        return check, None

    if array.ndim != 2:
        check.problems.append(
            Problem("rank", f"{key} has shape {tuple(array.shape)}, expected 2-D [T, D]")
        )
        return check, None
    check.T, check.D = (int(n) for n in array.shape)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        check.problems.append(Problem("dtype", f"{key} has dtype {array.dtype}, expected float"))
        return check, None
    if not np.issubdtype(array.dtype, np.floating):
        check.problems.append(
            Problem("dtype", f"{key} has dtype {array.dtype}; it is read as float32", "warning")
        )
    if check.T == 0:
        check.problems.append(Problem("empty", f"{key} has T = 0 frames"))
    if dim is not None and check.D != dim:
        check.problems.append(Problem("width", f"{key} has width D = {check.D}, expected {dim}"))
    array = array.astype(np.float32, copy=False)
    if check.T:
        nan = np.isnan(array)
        check.nan_share = float(nan.mean())
        if np.isinf(array).any():
            n_inf = int(np.isinf(array).sum())
            check.problems.append(Problem("inf", f"{key} holds {n_inf} infinite value(s)"))
        if check.nan_share > 0:
            check.problems.append(
                Problem("nan", f"{check.nan_share:.1%} of values are NaN (not detected)", "warning")
            )
    return check, (array if check.ok else None)


def read_npz_array(path: Path, key: str = "X", dim: int | None = None) -> np.ndarray:
    """The sample's float32 array [T, D] with NaN kept; SampleReadError if it has any error."""
    check, array = check_npz(path, key, dim)
    if array is None:
        raise SampleReadError(Path(path), [p for p in check.problems if p.severity == "error"])
    return array
