"""DataLoader worker errors read as the worker raised them (issue 23): torch re-raised them
with its "Original Traceback" text as the message, and a worker that died as a bare
RuntimeError."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import Dataset

from signcli.core.errors import DataError, SettingsError, TrainingDiverged, UsageError
from signcli.engine.worker_errors import Loader, worker_error

TRACEBACK = (
    "Caught {name} in DataLoader worker process 0.\n"
    "Original Traceback (most recent call last):\n"
    '  File "/x/torch/utils/data/_utils/worker.py", line 374, in _worker_loop\n'
    "    data = fetcher.fetch(index)\n"
    '  File "/x/signcli/data/npz_split.py", line 222, in __call__\n'
    "    raise DataError(\n"
    "{module}.{name}: {message}\n"
)


def _as_torch_raises(cls: type[Exception], message: str) -> Exception:
    text = TRACEBACK.format(name=cls.__qualname__, module=cls.__module__, message=message)
    error = cls.__new__(cls)
    Exception.__init__(error, text)
    error.message, error.hint = text, None  # what DataError(text) holds
    return error


def test_a_signcli_error_keeps_its_class_and_message_without_the_traceback() -> None:
    raised = _as_torch_raises(DataError, "s1.npz: X is 9 wide\n  restore the file")
    error = worker_error(raised)
    assert type(error) is DataError and error.exit_code == 2
    assert str(error) == "s1.npz: X is 9 wide\n  restore the file"
    assert "Traceback" not in str(error)


def test_the_exit_code_follows_the_class() -> None:
    error = worker_error(_as_torch_raises(TrainingDiverged, "loss is nan"))
    assert type(error) is TrainingDiverged and error.exit_code == 1


def test_a_settings_error_keeps_its_lines() -> None:
    error = worker_error(_as_torch_raises(SettingsError, "a: bad\nb: bad"))
    assert isinstance(error, SettingsError) and error.problems == ["a: bad", "b: bad"]


def test_another_error_keeps_its_class_and_last_line() -> None:
    text = TRACEBACK.format(name="ValueError", module="builtins", message="bad value")
    error = worker_error(ValueError(text))
    assert type(error) is ValueError and str(error) == "bad value"


def test_a_worker_that_died_is_a_data_error_naming_num_workers() -> None:
    error = worker_error(RuntimeError("DataLoader worker (pid(s) 4242) exited unexpectedly"))
    assert isinstance(error, DataError) and "pid 4242" in str(error)
    assert "data.num_workers" in str(error)


def test_other_errors_are_left_alone() -> None:
    assert worker_error(RuntimeError("shape mismatch")) is None
    assert worker_error(UsageError("plain")) is None


class _Failing(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> torch.Tensor:
        if index == 2:
            raise DataError("s2.npz: unreadable", hint="restore the file")
        return torch.zeros(1)


@pytest.mark.slow
def test_a_real_worker_error_reads_as_the_worker_raised_it() -> None:
    with pytest.raises(DataError) as caught:
        list(Loader(_Failing(), batch_size=1, num_workers=1))
    assert str(caught.value) == "s2.npz: unreadable\n  restore the file"
