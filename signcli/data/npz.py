"""Read one single-stream sample: an `.npz` file holding `X [T, D]` (or `X2048`, or any key).

One implementation for `validate-npz` (which wants every problem) and for training
(which refuses a file with any error). Torch-free.
NaN means "landmark not detected" and is kept here; Inf is an error.
"""

from __future__ import annotations

import zipfile
import zlib
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
    nan_columns: np.ndarray | None = None  # [D] NaN count per column (for --layout shares)
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
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a bare .npy saved under .npz
            raise ValueError("a single .npy array, not an .npz archive")
        with loaded as npz:
            if key not in npz.files:
                present = ", ".join(npz.files) or "none"
                check.problems.append(
                    Problem("missing_key", f"no array {key!r} (keys present: {present})")
                )
                return check, None
            array = npz[key]
        if not isinstance(array, np.ndarray):  # NpzFile hands back raw bytes of a non-.npy member
            raise ValueError(f"member {key!r} is not a .npy array")
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as exc:
        reason = str(exc) or type(exc).__name__
        check.problems.append(Problem("unreadable", f"not a readable .npz file ({reason})"))
        return check, None
    return check, check_array(check, array, key, dim)


def check_array(
    check: NpzCheck, array: np.ndarray, key: str = "X", dim: int | None = None
) -> np.ndarray | None:
    """The checks of one loaded array [T, D] (rank, dtype, T = 0, width, Inf, NaN share),
    recorded on `check`; returns the float32 array, or None when it has an error."""
    if array.ndim != 2:
        check.problems.append(
            Problem("rank", f"{key} has shape {tuple(array.shape)}, expected 2-D [T, D]")
        )
        return None
    check.T, check.D = (int(n) for n in array.shape)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        check.problems.append(Problem("dtype", f"{key} has dtype {array.dtype}, expected float"))
        return None
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
        check.nan_columns = nan.sum(axis=0, dtype=np.int32)
        if np.isinf(array).any():
            n_inf = int(np.isinf(array).sum())
            check.problems.append(Problem("inf", f"{key} holds {n_inf} infinite value(s)"))
        if check.nan_share > 0:
            check.problems.append(
                Problem("nan", f"{check.nan_share:.1%} of values are NaN (not detected)", "warning")
            )
    return array if check.ok else None


def check_stream_file(path: Path, dim: int | None = None) -> tuple[NpzCheck, np.ndarray | None]:
    """Read one stream file of the multi-stream layout and check it like `check_npz`: a
    `.npy` array, or an `.npz` holding `X` (else its first array)."""
    path = Path(path)
    if path.suffix.lower() == NPZ_SUFFIX:
        try:
            with np.load(path, allow_pickle=False) as npz:
                names = list(npz.files)
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            OSError,
            ValueError,
            TypeError,
            AttributeError,
        ):
            names = []  # check_npz reports why it cannot be read
        key = "X" if "X" in names or not names else names[0]
        return check_npz(path, key, dim)
    check = NpzCheck(path)
    try:
        array = np.load(path, allow_pickle=False)
        if not isinstance(array, np.ndarray):
            raise ValueError("an .npz archive, not a single .npy array")
    except (EOFError, OSError, ValueError) as exc:
        reason = str(exc) or type(exc).__name__
        check.problems.append(Problem("unreadable", f"not a readable .npy file ({reason})"))
        return check, None
    return check, check_array(check, array, path.stem, dim)


def read_npz_array(path: Path, key: str = "X", dim: int | None = None) -> np.ndarray:
    """The sample's float32 array [T, D] with NaN kept; SampleReadError if it has any error."""
    check, array = check_npz(path, key, dim)
    if array is None:
        raise SampleReadError(Path(path), [p for p in check.problems if p.severity == "error"])
    return array
