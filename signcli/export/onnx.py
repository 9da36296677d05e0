"""ONNX export of a checkpoint's whole model (input stage, encoder, the task's heads) with
dynamic batch and time axes, and its check against PyTorch in onnxruntime.

    report = export_onnx(Path("run/best.pt"), Path("model.onnx"))

The ONNX graph:

    inputs   <stream> float32 [batch, time, D]   one per stream, in the model's order, named
                                                 after it (`x` single-stream; `face`,
                                                 `hand_l`, ... multistream); NaN = missing
             mask     bool [batch, time]         True = real frame; padding may hold anything
    outputs  the task's (tasks/base.py `Task.onnx_output_names`); classify:
             <head>_logits float32 [batch, C]    `gloss_logits`, and `cat_logits` when the
                                                 model has a category head

`time` runs from 1 to model.max_len (longer sequences are resampled to max_len by the data
loader; do the same before calling the ONNX model).

How: torch.export (`dynamo=True`, torch's default exporter since 2.9) with
`dynamic_shapes` built from `torch.export.Dim`. Batch and time are symbolic in the exported
graph, so the graph cannot keep a length it was traced with (the trap of tracing an
nn.TransformerEncoder); the check still runs several batch sizes and lengths to prove it.
The example input has batch 2 and time >= 2 because torch.export specialises dimensions whose
example size is 0 or 1. The legacy TorchScript exporter (`dynamo=False`, `dynamic_axes`) is
faster to run but deprecated, so it is not used.

onnx, onnxruntime and onnxscript (the dynamo exporter's back end) are the optional extra
`signcli[onnx]`, imported inside the functions that need them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from signcli import __version__
from signcli.core.atomic import atomic_write, ensure_folder
from signcli.core.errors import UsageError
from signcli.core.files import read_input_bytes
from signcli.core.limits import MAX_JSON_BYTES
from signcli.core.run_files import TOKENIZER_FILE
from signcli.core.write_targets import check_write_target
from signcli.engine.restore import load_model_from_checkpoint
from signcli.export.text import GreedyCheck, step_path
from signcli.models import SignModel
from signcli.tasks import DEFAULT_TASK, build_task, task_spec
from signcli.tasks.base import Task
from signcli.tasks.classify import class_names

ONNX_EXTRA = 'pip install "signcli[onnx]"'
MASK_INPUT = "mask"
MIN_OPSET = 18  # the oldest opset torch's dynamo exporter writes without a lossy conversion
TOLERANCE = 1e-4  # max |onnxruntime - torch| over the logits, float32
# (batch, time) of the check: several of each, with padding in every batch of more than
# one; a time above max_len is cut to max_len, so the longest case checks the full range
CHECK_CASES = ((1, 64), (3, 17), (5, 3), (2, 100_000))
LATENCY_CASE = (1, 64)  # batch, time of the latency comparison
LATENCY_REPEATS = 30
NAN_FRAME_SHARE = 0.2  # frames of the check inputs with a block of landmarks missing


@dataclass
class CaseResult:
    batch: int
    time: int
    max_abs_diff: float


@dataclass
class CheckResult:
    """onnxruntime against PyTorch on random inputs, and the latency of both."""

    cases: list[CaseResult]
    max_abs_diff: float
    tolerance: float
    passed: bool
    latency_ms: dict[
        str, float
    ]  # onnxruntime, torch: medians; batch, time: the case ({}: not timed)

    @property
    def worst(self) -> CaseResult:
        return max(self.cases, key=lambda case: case.max_abs_diff)


@dataclass
class ExportResult:
    path: Path
    checkpoint: Path
    opset: int
    inputs: dict[str, list[int | str]]  # name -> shape with symbolic axes as names
    outputs: dict[str, list[int | str]]
    metadata: dict[str, str]
    check: CheckResult | None = None
    # text tasks: the other files written beside `path` (decoder step graph, tokenizer.json)
    # and translate's greedy decoding check (export/text.py)
    files: list[str] = field(default_factory=list)
    greedy: GreedyCheck | None = None

    @property
    def passed(self) -> bool:
        """Every check that ran passed."""
        checks = [c.passed for c in (self.check, self.greedy) if c is not None]
        return all(checks)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"], out["checkpoint"] = str(self.path), str(self.checkpoint)
        for key in ("check", "greedy"):
            if out[key] is None:
                out.pop(key)
        if not self.files:
            out.pop("files")
        return out


def require_onnx() -> None:
    """UsageError (exit 2) naming the extra to install when a package of it is missing."""
    for module in ("onnx", "onnxruntime", "onnxscript"):
        try:
            __import__(module)
        except ImportError:
            raise UsageError(
                f"export-onnx needs the onnx extra ({module} is not installed): {ONNX_EXTRA}"
            ) from None


class OnnxModel(nn.Module):
    """The model with positional inputs and a tuple of outputs, the form ONNX takes:
    (stream_1, ..., stream_n, mask) -> the task's outputs (classify: logits of each head)."""

    def __init__(self, model: SignModel, task: Task | None = None) -> None:
        super().__init__()
        self.model = model
        self.task = task if task is not None else build_task(DEFAULT_TASK)
        self.stream_names = list(model.stream_names)
        self.head_names = list(model.head_names)

    @property
    def input_names(self) -> list[str]:
        return [*self.stream_names, MASK_INPUT]

    @property
    def output_names(self) -> list[str]:
        return self.task.onnx_output_names(self.model)

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        *streams, mask = inputs
        named = dict(zip(self.stream_names, streams, strict=True))
        return self.task.onnx_forward(self.model, named, mask)


def export_onnx(
    checkpoint: Path,
    out: Path,
    *,
    opset: int | None = None,
    check: bool = True,
    trust_decoder_class: bool = False,
) -> ExportResult:
    """Export `checkpoint`'s model to `out` (atomically) and, with `check`, compare it with
    PyTorch in onnxruntime. A failed comparison is reported in the result, not raised.
    `trust_decoder_class` allows a stored decoder class that is not signcli's own
    (signcli/engine/trust.py)."""
    require_onnx()
    import onnx

    if opset is not None and opset < MIN_OPSET:
        raise UsageError(
            f"--opset {opset}: the torch.export-based exporter writes opset {MIN_OPSET} or later"
        )
    checkpoint, out = Path(checkpoint), Path(out)
    # before the export, which takes a while: never over the checkpoint or a run's files
    for target in (out, step_path(out)):
        check_write_target(target, "--out", inputs=[checkpoint])
    model, settings, labels, input_dims = load_model_from_checkpoint(
        checkpoint, trust_decoder_class=trust_decoder_class
    )
    tokenizer = labels.get("tokenizer") if isinstance(labels.get("tokenizer"), str) else None
    if tokenizer is not None:
        _check_tokenizer_target(out, tokenizer, checkpoint)
    wrapper = OnnxModel(model, build_task(settings.model.task)).eval()
    max_len = settings.model.max_len
    proto = _export(wrapper, max_len, opset, checkpoint)
    metadata = {
        "signcli_version": __version__,
        "model_name": settings.model.name,
        "task": settings.model.task,
        "input_layout": json.dumps(
            {
                "streams": input_dims,  # name -> D, in input order
                "mask": MASK_INPUT,
                "axes": ["batch", "time", "D"],
                "max_time": max_len,
                "missing": "NaN",
                # the graph splits x by these column ranges and normalises these streams
                # itself: feed landmarks as the detector gives them
                "column_layout": settings.data.layout,
                "normalized_streams": wrapper.model.normalize.streams,
                # which detector's landmarks, and for subsets (face:lips) which of them,
                # in the order of their columns (from the dataset manifest)
                "landmark_set": settings.data.landmark_set,
                "stream_landmarks": settings.data.stream_landmarks,
            }
        ),
        # a text task's head (ctc) outputs its vocabulary (num_tokens)
        "num_classes": json.dumps(
            {
                head: labels.get(f"num_{head}", labels.get("num_tokens"))
                for head in wrapper.head_names
            }
        ),
        "outputs": json.dumps(wrapper.output_names),
        "model_settings": json.dumps(settings.model.model_dump(mode="json")),
    }
    for head in wrapper.head_names:
        names = class_names(labels, head)
        if names:
            metadata[f"{head}_names"] = json.dumps({str(k): v for k, v in sorted(names.items())})
    extra = _text_graphs(wrapper, settings, labels, out, opset, checkpoint, metadata)
    onnx.helper.set_model_props(proto, {**_props(proto), **metadata})
    what = "encoder" if extra else settings.model.task
    proto.doc_string = f"signcli {__version__} {settings.model.name} {what} from {checkpoint.name}"
    onnx.checker.check_model(proto)
    ensure_folder(out.parent, "--out folder")
    for path, content in extra.items():
        atomic_write(path, content)
    atomic_write(out, proto.SerializeToString())
    written = [str(path) for path in extra]
    if tokenizer is not None:  # text tasks: ids -> text beside the graph
        atomic_write(out.parent / TOKENIZER_FILE, tokenizer)
        written.append(str(out.parent / TOKENIZER_FILE))

    result = ExportResult(
        path=out,
        checkpoint=checkpoint,
        opset=_opset(proto),
        inputs=_shapes(proto.graph.input),
        outputs=_shapes(proto.graph.output),
        metadata=metadata,
        files=written,
    )
    if check:
        result.check = check_onnx(out, wrapper, max_len)
        greedy = task_spec(settings.model.task).onnx_greedy  # the task's declaration
        if greedy == "decoder_step":
            from signcli.export.text import check_greedy

            result.greedy = check_greedy(wrapper, out, step_path(out), max_len)
        elif greedy == "ctc":
            from signcli.export.text import check_ctc_greedy

            result.greedy = check_ctc_greedy(wrapper, out, max_len)
    return result


def _check_tokenizer_target(out: Path, tokenizer: str, checkpoint: Path) -> None:
    """UsageError unless tokenizer.json may be written beside `out`: --out is not that file,
    and one already there is this checkpoint's tokenizer (a run's own, when exporting into
    its folder) or not a run's file."""
    target = out.parent / TOKENIZER_FILE
    if out.name == TOKENIZER_FILE:
        raise UsageError(
            f"--out {out}: the tokenizer is written to {TOKENIZER_FILE} beside the graph",
            hint="give the .onnx file another name",
        )
    try:
        stored = read_input_bytes(target, "tokenizer file", limit=MAX_JSON_BYTES)
        same = stored.decode("utf-8") == tokenizer
    except (OSError, UnicodeDecodeError):
        same = False
    if not same:
        check_write_target(target, "--out (its tokenizer.json)", inputs=[checkpoint])


def _text_graphs(
    wrapper: OnnxModel,
    settings: Any,
    labels: dict[str, Any],
    out: Path,
    opset: int | None,
    checkpoint: Path,
    metadata: dict[str, str],
) -> dict[Path, bytes]:
    """The files a text task writes beside the main graph (export/text.py): translate's
    decoder-step graph, and the tokenizer of both text tasks; their metadata entries are
    added to `metadata`."""
    from signcli.export.text import export_decoder_step, tokenizer_json

    files: dict[Path, bytes] = {}
    spec = task_spec(settings.model.task)
    if not spec.text_targets:
        return files
    import onnx

    if tokenizer_json(labels) is not None:  # written beside the graphs by export_onnx
        metadata["tokenizer"] = TOKENIZER_FILE
    metadata["special_ids"] = json.dumps({"pad": 0, "bos": 1, "eos": 2, "unk": 3})
    if spec.onnx_greedy == "decoder_step":
        decoder = wrapper.model.heads["decoder"]
        d_model = int(wrapper.model.encoder.out_dim)
        step = export_decoder_step(decoder, d_model, settings.model.max_len, opset, checkpoint)
        path = step_path(out)
        metadata.update(
            decoder_step=path.name,
            max_target_len=str(int(getattr(decoder, "max_target_len", 64))),
            decoder_class=settings.model.decoder_class or "signcli.text.decoder:TextDecoder",
        )
        step_meta = {**metadata, "graph": "decoder_step", "encoder": out.name}
        onnx.helper.set_model_props(step, {**_props(step), **step_meta})
        onnx.checker.check_model(step)
        files[path] = step.SerializeToString()
        metadata["graph"] = "encoder"
    return files


def _export(wrapper: OnnxModel, max_len: int, opset: int | None, checkpoint: Path) -> Any:
    """torch.export -> ONNX ModelProto with symbolic batch and time."""
    batch = torch.export.Dim("batch", min=1)
    time_axis = torch.export.Dim("time", min=1, max=max_len) if max_len > 1 else None
    example_time = min(8, max_len)
    example = random_inputs(wrapper, batch=2, time=example_time, seed=0)
    axes = {0: batch, 1: time_axis} if time_axis is not None else {0: batch}
    # forward(*inputs): torch.export sees one argument, the tuple of every input
    dynamic_shapes = (tuple(axes for _ in example),)
    try:
        with _quiet():
            program = torch.onnx.export(
                wrapper,
                example,
                None,
                input_names=wrapper.input_names,
                output_names=wrapper.output_names,
                dynamic_shapes=dynamic_shapes,
                opset_version=opset,
                dynamo=True,
                optimize=True,
                verbose=False,
            )
    except Exception as exc:  # noqa: BLE001 - the exporter raises many types; one message
        raise UsageError(
            f"ONNX export of {checkpoint} failed ({export_failure(exc)})",
            hint="try another --opset, or rerun with `signcli --debug` for the traceback",
        ) from exc
    return program.model_proto


def export_failure(exc: BaseException) -> str:
    """`Type: first line` of the error that says why an export failed (the exporter wraps
    it in errors of its own)."""
    cause = exc
    while cause.__cause__ is not None:
        cause = cause.__cause__
    text = str(cause).strip()
    reason = text.splitlines()[0] if text else type(cause).__name__
    return f"{type(cause).__name__}: {reason[:200]}"


# ---------------------------------------------------------------------------------------
# The check


def check_onnx(
    path: Path,
    wrapper: OnnxModel,
    max_len: int,
    *,
    cases: tuple[tuple[int, int], ...] = CHECK_CASES,
    tolerance: float = TOLERANCE,
    latency: bool = True,
) -> CheckResult:
    """Run `path` in onnxruntime and `wrapper` in PyTorch on the same random inputs (NaN
    landmarks, real padding) for every (batch, time) case; compare logits and, with
    `latency`, the median latency of both at LATENCY_CASE."""
    session = onnx_session(path)
    results = []
    seen = set()
    for index, (batch, length) in enumerate(cases):
        length = min(length, max_len)
        if (batch, length) in seen:
            continue
        seen.add((batch, length))
        inputs = random_inputs(wrapper, batch, length, seed=index + 1)
        expected = torch_outputs(wrapper, inputs)
        got = session.run(None, feeds(wrapper, inputs))
        diff = max(_max_abs_diff(e, g) for e, g in zip(expected, got, strict=True))
        results.append(CaseResult(batch, length, diff))
    worst = max(case.max_abs_diff for case in results)
    latency_ms = {}
    if latency:
        batch, length = LATENCY_CASE[0], min(LATENCY_CASE[1], max_len)
        inputs = random_inputs(wrapper, batch, length, seed=0, padding=False)
        onnx_feeds = feeds(wrapper, inputs)
        latency_ms = median_latency_ms(
            {
                "onnxruntime": lambda: session.run(None, onnx_feeds),
                "torch": lambda: torch_outputs(wrapper, inputs),
            }
        )
        latency_ms.update(batch=batch, time=length)
    return CheckResult(results, worst, tolerance, bool(worst <= tolerance), latency_ms)


def onnx_session(path: Path) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def feeds(wrapper: OnnxModel, inputs: tuple[Tensor, ...]) -> dict[str, np.ndarray]:
    return {name: t.numpy() for name, t in zip(wrapper.input_names, inputs, strict=True)}


@torch.inference_mode()
def torch_outputs(wrapper: OnnxModel, inputs: tuple[Tensor, ...]) -> list[np.ndarray]:
    return [t.numpy() for t in wrapper(*inputs)]


def random_inputs(
    wrapper: OnnxModel, batch: int, time: int, *, seed: int, padding: bool = True
) -> tuple[Tensor, ...]:
    """Streams drawn around the model's input statistics, with blocks of landmarks missing
    (NaN) in NAN_FRAME_SHARE of the frames; with `padding`, every sample but the first is
    shorter than `time` and its padding frames hold zeros. Returns (*streams, mask)."""
    rng = np.random.default_rng(seed)
    lengths = np.full(batch, time)
    if padding and batch > 1:
        lengths[1:] = rng.integers(1, time + 1, batch - 1)
    mask = np.arange(time)[None, :] < lengths[:, None]  # [B, T]
    streams = []
    for name in wrapper.stream_names:
        D = wrapper.model.input_dims[name]
        mean, std = _input_stats(wrapper.model, name, D)
        x = (mean + std * rng.standard_normal((batch, time, D))).astype(np.float32)
        block = max(1, D // 3)  # e.g. one hand's landmarks
        for b, t in zip(*np.nonzero(rng.random((batch, time)) < NAN_FRAME_SHARE), strict=True):
            start = int(rng.integers(0, max(1, D - block + 1)))
            x[b, t, start : start + block] = np.nan
        x[~mask] = 0.0
        streams.append(torch.from_numpy(x))
    return (*streams, torch.from_numpy(mask))


def median_latency_ms(
    calls: dict[str, Callable[[], Any]], repeats: int = LATENCY_REPEATS, warmup: int = 3
) -> dict[str, float]:
    """Median wall time in milliseconds of each call, after untimed warm-up calls. The calls
    take turns, so that load from other processes slows each of them alike."""
    for call in calls.values():
        for _ in range(warmup):
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - started)
    return {name: 1000.0 * statistics.median(values) for name, values in times.items()}


# ---------------------------------------------------------------------------------------
# Helpers


def _input_stats(model: SignModel, name: str, D: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean and std the model standardises its inputs with, or (0, 1) if it has none."""
    inputs = getattr(getattr(model, "encoder", None), "inputs", None)
    frame_input = inputs[name] if inputs is not None and name in inputs else None
    mean, std = getattr(frame_input, "mean", None), getattr(frame_input, "std", None)
    if mean is None or std is None or mean.numel() < D:
        return np.zeros(D, np.float32), np.ones(D, np.float32)
    # the stream's raw channels come first (models/sample_features.py), per-sample ones after
    return mean[:D].detach().cpu().numpy(), std[:D].detach().cpu().numpy()


def _max_abs_diff(expected: np.ndarray, got: np.ndarray) -> float:
    if expected.shape != got.shape:
        return float("inf")
    diff = np.abs(expected.astype(np.float64) - got.astype(np.float64))
    return float(diff.max()) if np.isfinite(diff).all() else float("inf")


def _props(proto: Any) -> dict[str, str]:
    return {entry.key: entry.value for entry in proto.metadata_props}


def _opset(proto: Any) -> int:
    return next(
        int(entry.version) for entry in proto.opset_import if entry.domain in ("", "ai.onnx")
    )


def _shapes(values: Any) -> dict[str, list[int | str]]:
    shapes = {}
    for value in values:
        dims = value.type.tensor_type.shape.dim
        shapes[value.name] = [d.dim_param if d.dim_param else int(d.dim_value) for d in dims]
    return shapes


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter's progress lines, warnings and log records: to stderr at most, never
    stdout (which `--json` keeps for its one document)."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
