"""eval/predict decoding flags outside their setting's range (issue 23): `--beam-size
100000` reached pydantic's assignment check and escaped as "unexpected ValidationError ...
report it"; it is a UsageError naming the flag and the bound."""

from __future__ import annotations

import pytest

from signcli.core.errors import UsageError
from signcli.evaluation.run import _set_decoding
from signcli.settings import load_settings


@pytest.mark.parametrize(
    ("flag", "key", "value", "bound"),
    [
        ("--beam-size", "beam_size", 100000, "less than or equal to 256"),
        ("--beam-size", "beam_size", 0, "greater than or equal to 1"),
        ("--length-penalty", "length_penalty", 11.0, "less than or equal to 10"),
    ],
)
def test_a_decoding_flag_out_of_range_is_a_usage_error(flag, key, value, bound) -> None:
    settings = load_settings()
    with pytest.raises(
        UsageError, match=rf"^{flag} {value}: Input should be {bound} \(text\.{key}\)"
    ):
        _set_decoding(settings, flag, key, value)


def test_a_decoding_flag_in_range_sets_the_setting() -> None:
    settings = load_settings()
    _set_decoding(settings, "--beam-size", "beam_size", 12)
    _set_decoding(settings, "--length-penalty", "length_penalty", None)
    assert settings.text.beam_size == 12 and settings.text.length_penalty == 1.0
