"""The models signcli can build, torch-free: each model's entry names it, says what it is,
and declares its own options: a small pydantic class with the fields the model reads
beyond the ones every model shares (`SHARED_OPTIONS`, the fields of ModelSettings), with
their defaults, bounds and docstrings.

    class GRUOptions(ModelOptions):
        hidden_size: int = Field(256, ge=8)
        \"\"\"GRU hidden size per direction.\"\"\"

    ModelEntry("gru", "CNN features: bidirectional GRU layers", GRUOptions)

The settings keep a model's options as flat keys of the `model` section
(`--set model.hidden_size=512`, config.json as before) and validate them against the options
class of `model.name`, here, without importing torch: a key that is no option of any model
is an error naming the model and its options; an option of another model is validated by
that model's class, kept, and a run warns that it is ignored (`smoke --model all` shares one
config file between models). The model's code (models/<name>.py) registers its builder and
parameter count under the entry's name (models/registry.py `register_model`, refused
without an entry) and reads its options typed: `GRUOptions.read(settings.model)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError

from signcli.core.errors import did_you_mean
from signcli.core.limits import MAX_HEADS

# read by every model, or by the task's heads: the fields of ModelSettings (settings.py)
SHARED_OPTIONS = ("task", "name", "num_gloss", "num_cat", "num_tokens", "d_model", "num_layers")
SHARED_OPTIONS += ("dropout", "max_len", "pooling")
# the translate task's, read for every encoder (tasks/translate.py)
SHARED_OPTIONS += ("max_target_len", "decoder_class", "decoder_kwargs", "ctc_weight")

Auto = Literal["auto"]  # sized from the training set when the run starts (signcli/auto_size.py)
CONV_KERNEL = 5  # the default temporal convolution (docs/models.md: the evidence for the defaults)
UNKNOWN_OPTION = "unknown_model_option"  # the error type of a key that is no model's option


class ModelOptions(BaseModel):
    """A model's own options. Subclass it beside the model's entry; its fields become keys
    `model.<field>` (docstrings: their help in `signcli settings` and the flags)."""

    model_config = ConfigDict(
        extra="forbid",
        use_attribute_docstrings=True,
        validate_assignment=True,
        allow_inf_nan=False,
    )

    @classmethod
    def read(cls, model: Any) -> Self:
        """These options as `model` (a ModelSettings of this model) holds them, typed."""
        return cls.model_validate({key: getattr(model, key) for key in cls.model_fields})


class TransformerOptions(ModelOptions):
    num_heads: Annotated[int, Field(ge=1)] | Auto = "auto"
    """Attention heads per transformer block; must divide d_model (auto: d_model / 32)."""
    ff_dim: Annotated[int, Field(ge=8)] | Auto = "auto"
    """Hidden width of each transformer block's feed-forward layer (auto: 2 * d_model)."""
    conv_kernel: int = Field(CONV_KERNEL, ge=0)
    """Frames of the depthwise temporal convolution placed before each attention block
    (odd; 0 = attention blocks only)."""

    @field_validator("num_heads")
    @classmethod
    def _heads(cls, num_heads: int | str, info: ValidationInfo) -> int | str:
        # signcli/core/limits.py: a checkpoint's stored settings pass here too, before any
        # model is built from them
        if isinstance(num_heads, int) and num_heads > MAX_HEADS.value():
            raise ValueError(MAX_HEADS.at_most())
        d_model = (info.context or {}).get("d_model")
        if isinstance(d_model, int) and isinstance(num_heads, int) and d_model % num_heads:
            raise ValueError(f"must divide model.d_model={d_model}")
        return num_heads

    @field_validator("conv_kernel")
    @classmethod
    def _odd_kernel(cls, kernel: int) -> int:
        if kernel % 2 == 0 and kernel != 0:
            raise ValueError("must be odd (a frame and as many neighbours on each side) or 0")
        return kernel


class MultistreamOptions(TransformerOptions):
    fusion: Literal["concat", "sum", "attention"] = "concat"
    """How the streams of a frame are combined (concat is then projected)."""


class GRUOptions(ModelOptions):
    hidden_size: int = Field(256, ge=8)
    """GRU hidden size per direction."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    summary: str  # what it reads and how, for help texts and errors
    options: type[ModelOptions] = ModelOptions  # its own options beyond SHARED_OPTIONS


MODEL_CATALOG: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in (
        ModelEntry(
            "transformer",
            "keypoints: temporal convolution and attention blocks",
            TransformerOptions,
        ),
        ModelEntry("gru", "CNN features: bidirectional GRU layers", GRUOptions),
        ModelEntry(
            "multistream",
            "face/hands/pose streams fused per frame, then the transformer's blocks",
            MultistreamOptions,
        ),
    )
}


def model_entry(name: str) -> ModelEntry:
    """The entry of model `name`; ValueError naming the closest and all models otherwise."""
    entry = MODEL_CATALOG.get(name)
    if entry is None:
        hint = did_you_mean(name, MODEL_CATALOG)
        raise ValueError(f"unknown model {name!r}{hint}; models: {', '.join(MODEL_CATALOG)}")
    return entry


def own_options(name: str) -> tuple[str, ...]:
    """The keys of model `name`'s own options."""
    return tuple(model_entry(name).options.model_fields)


def option_owners(key: str) -> list[str]:
    """The models that declare option `key`, in catalog order."""
    return [e.name for e in MODEL_CATALOG.values() if key in e.options.model_fields]


def option_field(key: str) -> FieldInfo | None:
    """The field of option `key` as the first model declaring it has it; None for none."""
    for entry in MODEL_CATALOG.values():
        if key in entry.options.model_fields:
            return entry.options.model_fields[key]
    return None


def option_default(key: str) -> Any:
    """The default of option `key`, as the first model declaring it sets it."""
    for entry in MODEL_CATALOG.values():
        if key in entry.options.model_fields:
            return entry.options().model_dump()[key]
    raise KeyError(key)


def all_options() -> list[str]:
    """Every option key of every model, each once, in catalog order."""
    keys: dict[str, None] = {}
    for entry in MODEL_CATALOG.values():
        keys.update(dict.fromkeys(entry.options.model_fields))
    return list(keys)


def validate_options(
    name: str, given: Mapping[str, Any], context: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The options of model `name` from `given` (the model section's keys beyond the shared
    ones): its own, validated with their defaults filled in, then the options of other
    models that `given` sets, each validated by the first model declaring it. Raises a
    ValidationError holding every problem, a key that no model declares named with the
    model's own options (`context`: `d_model`, which `num_heads` must divide)."""
    entry = model_entry(name)
    own = {key: value for key, value in given.items() if key in entry.options.model_fields}
    errors: list[InitErrorDetails] = []
    try:
        values = entry.options.model_validate(own, context=dict(context or {})).model_dump()
    except ValidationError as exc:
        errors += _details(exc)
        values = {}
    for key, value in given.items():
        if key in entry.options.model_fields:
            continue
        owners = option_owners(key)
        if not owners:
            errors.append(_unknown(entry, key, value))
            continue
        options = model_entry(owners[0]).options
        try:
            checked = options.model_validate({key: value}, context=dict(context or {}))
        except ValidationError as exc:
            errors += _details(exc)
            continue
        values[key] = getattr(checked, key)
    if errors:
        raise ValidationError.from_exception_data(f"model {name} options", errors)
    return values


def foreign_options(name: str, values: Mapping[str, Any], reads: tuple[str, ...] = ()) -> list[str]:
    """Warnings for the options in `values` (a model section) that belong to other models
    than `name` and that neither it nor the task (`reads`: the options its task reads) reads
    and are set to something else than their default, one line each."""
    entry = MODEL_CATALOG.get(name)
    if entry is None:
        return []
    own = tuple(entry.options.model_fields)
    return [
        f"model.{key} = {value!r} is ignored: model {name} does not read it "
        f"(its own options: {', '.join(own) or 'none'})"
        for key, value in values.items()
        if key not in own
        and key not in reads
        and option_owners(key)
        and value != option_default(key)
    ]


def _details(exc: ValidationError) -> list[InitErrorDetails]:
    """A ValidationError's problems, to be raised again with others."""
    details = []
    for error in exc.errors(include_url=False):
        detail = InitErrorDetails(type=error["type"], loc=error["loc"], input=error["input"])
        if "ctx" in error:
            detail["ctx"] = error["ctx"]
        details.append(detail)
    return details


def _unknown(entry: ModelEntry, key: str, value: Any) -> InitErrorDetails:
    own = ", ".join(entry.options.model_fields) or "none"
    hint = did_you_mean(f"model.{key}", [f"model.{k}" for k in (*SHARED_OPTIONS, *all_options())])
    message = f"not an option of model {entry.name}{hint} (its own options: {own})"
    error = PydanticCustomError(UNKNOWN_OPTION, message.replace("{", "{{").replace("}", "}}"))
    return InitErrorDetails(type=error, loc=(key,), input=value)
