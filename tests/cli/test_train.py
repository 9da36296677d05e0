"""`signcli train`, `resume` and `smoke` through the CLI: exit codes and messages; a run
with a column layout (`--layout`), evaluated and exported."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.data.npz import read_npz_array
from signcli.data.synthetic import write_npz_dataset
from signcli.engine.checkpoint import STATE_KEY, load_checkpoint
from signcli.engine.restore import load_model_from_checkpoint
from tests.tiny import TINY_FLAGS

runner = CliRunner()
TINY = TINY_FLAGS


def data_flags(root: Path) -> list[str]:
    return [
        "--train-dir", str(root / "train"), "--train-labels", str(root / "train_labels.csv"),
        "--val-dir", str(root / "val"), "--val-labels", str(root / "val_labels.csv"),
    ]  # fmt: skip


def train_one_epoch(root: Path, work: Path) -> None:
    result = runner.invoke(
        app,
        [
            "train",
            "transformer",
            *data_flags(root),
            *TINY,
            "--epochs",
            "1",
            "--work-dir",
            str(work),
        ],
    )
    assert result.exit_code == 0, result.output


@pytest.fixture
def root(make_npz_dataset) -> Path:
    return make_npz_dataset(n=8, T=5, D=6)


def test_train_writes_the_run_and_prints_a_summary(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "train",
            "transformer",
            *data_flags(root),
            *TINY,
            "--epochs",
            "2",
            "--work-dir",
            str(work),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "epoch 2/2" in result.output and "done: 2 epoch(s)" in result.output
    assert len((work / "metrics.jsonl").read_text().splitlines()) == 2


def test_guide_aliases(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "guide"
    args = ["train", "transformer", "--keypoints-train", str(root / "train"),
            "--labels-train-csv", str(root / "train_labels.csv"), "--output-dir", str(work),
            "--epochs", "1", "--amp", "--precision", "amp", "--patience", "3", "--log-csv", str(tmp_path / "log.csv"), *TINY]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    config = json.loads((work / "config.json").read_text())
    assert config["training"]["precision"] == "amp" and config["training"]["early_stop"] == 3
    assert (tmp_path / "log.csv").exists()


def test_features_flag_implies_x2048(tmp_path: Path, write_split) -> None:
    root = tmp_path / "feat"
    write_split(root, "train", 6, T=5, D=12, key="X2048")
    args = ["train", "gru", "--features-train", str(root / "train"), "--labels-train-csv",
            str(root / "train_labels.csv"), "--epochs", "1", "--work-dir", str(tmp_path / "g"),
            "--set", "model.hidden_size=8", *TINY]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "g" / "config.json").read_text())["data"]["key"] == "X2048"


def test_bad_settings_exit_2_with_one_line_each(root: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "train",
            "transfomer",
            *data_flags(root),
            "--lr",
            "-1",
            "--set",
            "optim.lrr=3",
            "--work-dir",
            str(tmp_path / "x"),
        ],
    )
    assert result.exit_code == 2
    assert "did you mean transformer?" in result.output
    assert "optim.lr: expected greater than 0" in result.output
    assert "optim.lrr: unknown key (did you mean optim.lr?)" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_a_key_no_model_declares_exits_2_naming_the_model_and_its_options(
    root: Path, tmp_path: Path
) -> None:
    args = ["train", "gru", *data_flags(root), "--work-dir", str(tmp_path / "x")]
    result = runner.invoke(app, [*args, "--set", "model.hiden_size=64", "--fusion", "mean"])
    assert result.exit_code == 2
    assert (
        "model.hiden_size: not an option of model gru (did you mean model.hidden_size?) "
        "(its own options: hidden_size)" in result.output
    )
    assert "model.fusion: expected 'concat', 'sum' or 'attention'" in result.output  # multistream's
    assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


# Hostile input, each refused before anything is read or written: exit 2, the message names
# the key, flag or file, one line per problem, no traceback. Files are written to the cwd.
LAUGHS = (
    "".join(  # 9 nested anchors of 9 aliases each: 9 ** 9 values once expanded
        f"l{n}: &l{n} [{', '.join(['lol' if n == 0 else f'*l{n - 1}'] * 9)}]\n" for n in range(9)
    )
    + "optim: {lr: *l8}\n"
)
BAD_INPUT = [
    pytest.param({}, ["--set", "optim.lr=inf"], "optim.lr: expected a finite number (got 'inf')",
                 id="set-inf"),
    pytest.param({}, ["--set", "optim.lr=1e400"], "optim.lr: expected a finite number (got '1e400')",
                 id="set-overflow"),
    pytest.param({}, ["--set", "model.dropout=nan"],
                 "model.dropout: expected a finite number, or auto (got 'nan')", id="set-nan-auto"),
    pytest.param({}, ["--lr", "inf"], "optim.lr: expected a finite number (got Infinity)",
                 id="flag-inf"),
    pytest.param({"inf.yaml": "optim:\n  weight_decay: .inf\n"}, ["--config", "inf.yaml"],
                 "optim.weight_decay: expected a finite number (got Infinity)", id="yaml-inf"),
    pytest.param({"nan.json": '{"data": {"augment": {"shear": NaN}}}'}, ["--config", "nan.json"],
                 "data.augment.shear: expected a finite number (got NaN)", id="json-nan"),
    pytest.param({"five.yaml": "model: 5\n"}, ["--config", "five.yaml"],
                 "five.yaml: model: expected a mapping of model keys (got 5)", id="section-number"),
    pytest.param({"list.yaml": "model: [1, 2]\n"}, ["--config", "list.yaml"],
                 "list.yaml: model: expected a mapping of model keys (got [1, 2])",
                 id="section-list"),
    pytest.param({}, ["--work-dir", ""], "--work-dir is empty", id="empty-work-dir"),
    pytest.param({}, ["-o", " "], "--work-dir is empty", id="blank-output-dir"),
    pytest.param({}, ["--set", "training.work_dir="],
                 "training.work_dir: expected a run folder, e.g. runs/exp1, not an empty path",
                 id="set-empty-work-dir"),
    pytest.param({}, ["--amp", "--precision", "bf16"],
                 "--amp and --precision bf16 contradict each other", id="amp-bf16"),
    pytest.param({}, ["--amp", "--precision", "float32"],
                 "--amp and --precision float32 contradict each other", id="amp-float32"),
    pytest.param({}, ["--features-train", "feat/train"],
                 "--train-dir (--keypoints-train) and --features-train both give the training "
                 "folder (data/train and feat/train)", id="train-dir-and-features"),
    pytest.param({}, ["--keypoints-val", "data/val", "--features-val", "feat/val"],
                 "--val-dir (--keypoints-val) and --features-val both give the validation folder",
                 id="val-dir-and-features"),
    pytest.param({"latin1.yaml": b"optim:\n  lr: 0.1  # caf\xe9\n"}, ["--config", "latin1.yaml"],
                 "latin1.yaml:2: not UTF-8 text (byte 0xe9)", id="not-utf8"),
    pytest.param({"laughs.yaml": LAUGHS}, ["--config", "laughs.yaml"],
                 "laughs.yaml: more than 10,000 values once its YAML aliases are expanded",
                 id="billion-laughs"),
    pytest.param({"loop.yaml": "model: &m\n  sub: *m\n"}, ["--config", "loop.yaml"],
                 "loop.yaml: model.sub: a YAML alias refers to a value that holds it",
                 id="recursive-alias"),
]  # fmt: skip


@pytest.mark.parametrize(("files", "args", "message"), BAD_INPUT)
def test_bad_input_is_refused_up_front(
    tmp_path: Path, monkeypatch, files: dict[str, str | bytes], args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    result = runner.invoke(app, ["train", "transformer", "--train-dir", "data/train", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and "unexpected" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)  # nothing written


def test_conflicting_flags_are_reported_together(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["train", "gru", "--train-dir", "a", "--features-train", "b", "--val-dir", "c",
            "--features-val", "d", "--amp", "--precision", "bf16", "--work-dir", ""]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4 and lines[0].startswith("error: --amp and --precision bf16")
    assert [line.split(" ", 1)[0] for line in lines[1:]] == [
        "--train-dir",
        "--val-dir",
        "--work-dir",
    ]
    assert not list(tmp_path.iterdir())


def test_missing_data_and_labels_out_of_range(root: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "transformer", "--train-dir", str(tmp_path / "nope"),
                                 "--train-labels", str(root / "train_labels.csv"), "--work-dir", str(tmp_path / "w")])  # fmt: skip
    assert result.exit_code == 2 and "does not exist" in result.output
    result = runner.invoke(app, ["train", "transformer", *data_flags(root), "--num-gloss", "2", *TINY,
                                 "--work-dir", str(tmp_path / "w")])  # fmt: skip
    assert result.exit_code == 2
    assert "train_labels.csv, line 4: gloss 2" in result.output and "--num-gloss" in result.output


def test_existing_run_is_refused_then_overwritten(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "run"
    args = [
        "train",
        "transformer",
        *data_flags(root),
        *TINY,
        "--epochs",
        "1",
        "--work-dir",
        str(work),
    ]
    assert runner.invoke(app, args).exit_code == 0
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and f"signcli resume {work}" in refused.output
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0


def test_val_fraction_carves_a_split_and_overwrite_removes_it(write_split, tmp_path: Path) -> None:
    write_split(tmp_path / "signed", "train", 16, signers=("a", "b", "c", "d"))
    train = ["--train-dir", str(tmp_path / "signed" / "train"),
             "--train-labels", str(tmp_path / "signed" / "train_labels.csv")]  # fmt: skip
    work = tmp_path / "run"
    args = ["train", "transformer", *train, *TINY, "--epochs", "1", "--work-dir", str(work)]
    carved = runner.invoke(app, [*args, "--val-fraction", "0.25", "--group-by", "signer"])
    assert carved.exit_code == 0, carved.output
    assert "12 train / 4 val samples" in carved.output
    assert json.loads((work / "config.json").read_text())["data"]["group_by"] == "signer"
    assert len(json.loads((work / "split.json").read_text())["val_groups"]) == 1
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "split.json" in refused.output
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0
    assert not (work / "split.json").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--val-fraction", "0.2"], "carves a validation split from the training data, but --val-dir and --val-labels"),
        (["--group-by", "signer"], "--group-by signer (data.group_by) given without --val-fraction"),
        (["--val-fraction", "1.5"], "data.val_fraction: expected less than 1"),
    ],
)  # fmt: skip
def test_val_fraction_conflicts_exit_2(root: Path, tmp_path: Path, flags, message) -> None:
    args = ["train", "transformer", *data_flags(root), *TINY, "--work-dir", str(tmp_path / "w")]
    result = runner.invoke(app, [*args, *flags])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "w").exists()


def test_unknown_group_column_names_the_file_and_its_columns(root: Path, tmp_path: Path) -> None:
    args = ["train", "transformer", "--train-dir", str(root / "train"), "--train-labels",
            str(root / "train_labels.csv"), "--val-fraction", "0.25", "--group-by", "signer",
            *TINY, "--work-dir", str(tmp_path / "w")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "train_labels.csv has no column 'signer' to group by" in result.output
    assert "(its columns: file, gloss, cat, occluded)" in result.output


def test_resume_cli_finished_run_and_extension(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "run"
    train_one_epoch(root, work)
    done = runner.invoke(app, ["resume", str(work)])
    assert done.exit_code == 0 and "already finished" in done.output
    longer = runner.invoke(app, ["resume", str(work), "--epochs", "2"])
    assert longer.exit_code == 0, longer.output
    assert load_checkpoint(work / "last.pt")[STATE_KEY]["epoch"] == 2


def test_resume_of_a_folder_without_a_run(tmp_path: Path) -> None:
    result = runner.invoke(app, ["resume", str(tmp_path)])
    assert result.exit_code == 2 and "holds no run" in result.output


def test_resume_refuses_changed_model_settings(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "run"
    train_one_epoch(root, work)
    config = json.loads((work / "config.json").read_text())
    config["model"]["d_model"] = 32
    (work / "config.json").write_text(json.dumps(config))
    result = runner.invoke(app, ["resume", str(work), "--epochs", "2"])
    assert result.exit_code == 2 and "model settings differ" in result.output


def test_full_disk_during_training_keeps_last_checkpoint(
    root: Path, tmp_path: Path, monkeypatch
) -> None:
    from signcli.core import atomic

    work = tmp_path / "run"
    train_one_epoch(root, work)
    before = (work / "last.pt").read_bytes()

    def full_disk(src, dst) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full_disk)
    result = runner.invoke(app, ["resume", str(work), "--epochs", "2"])
    assert result.exit_code == 2
    assert f"in {work}" in result.output and "No space left" in result.output
    assert "Traceback" not in result.output
    assert (work / "last.pt").read_bytes() == before
    assert not list(work.glob("*.tmp"))


def test_bad_checkpoint_for_warm_start_exit_2(root: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    result = runner.invoke(app, ["train", "transformer", *data_flags(root), *TINY, "--epochs", "1",
                                 "--work-dir", str(tmp_path / "w"), "--init-checkpoint", str(bad)])  # fmt: skip
    assert result.exit_code == 2 and "bad.pt" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("model", ["transformer", "gru", "multistream"])
def test_smoke_passes_for_every_model(model: str) -> None:
    result = runner.invoke(app, ["smoke", "--model", model, "--steps", "5", "--num-gloss", "6", "--num-cat", "2",
                                 "--set", "model.d_model=32", "--set", "model.hidden_size=16", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    checks = {c["check"]: c["passed"] for c in document["models"][0]["checks"]}
    assert checks == {
        "output shapes": True,
        "finite loss": True,
        "gradients": True,
        "loss goes down": True,
    }


@pytest.mark.slow
def test_smoke_overfit_reports_steps() -> None:
    result = runner.invoke(app, ["smoke", "--model", "transformer", "--overfit", "--num-gloss", "4",
                                 "--num-cat", "0", "--set", "model.d_model=32"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "overfit one batch" in result.output and "steps" in result.output


def test_smoke_unknown_model_exit_2() -> None:
    result = runner.invoke(app, ["smoke", "--model", "transfomer"])
    assert result.exit_code == 2 and "did you mean transformer?" in result.output


# ---------------------------------------------------------------------------------------
# --layout: single-stream keypoints normalised and augmented as body parts, then evaluated
# and exported with `x` as stored (module-scoped: these tests never change the data or run)

LAYOUT = "hand_l=0:63,hand_r=63:126,pose=126:156"  # synthetic.STREAM_COLUMNS


@pytest.fixture(scope="module")
def keypoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic keypoints X [T, 156] (hands out of frame as NaN)."""
    return write_npz_dataset(tmp_path_factory.mktemp("layout"), 8, 4, num_gloss=3, num_cat=2)


@pytest.fixture(scope="module")
def layout_run(keypoints: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("run") / "run"
    augment = ["--set", "data.augment.mirror_p=0.5", "--set", "data.augment.affine_p=0.5",
               "--mix-stream", "hand_r:0.5"]  # fmt: skip
    args = ["train", "transformer", *data_flags(keypoints), "--layout", LAYOUT, *TINY, *augment,
            "--epochs", "2", "--work-dir", str(work)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return work


def test_the_run_records_the_layout_and_the_model_takes_x(layout_run: Path) -> None:
    config = json.loads((layout_run / "config.json").read_text())
    assert config["data"]["layout"] == {"hand_l": [0, 63], "hand_r": [63, 126], "pose": [126, 156]}
    restored = load_model_from_checkpoint(layout_run / "last.pt")
    assert restored.input_dims == {"x": 156}
    assert restored.model.encoder.input_dims == {"hand_l": 63, "hand_r": 63, "pose": 30}
    assert restored.model.normalize.streams == ["hand_l", "hand_r", "pose"]


def test_eval_reads_the_stored_x(layout_run: Path, keypoints: Path, tmp_path: Path) -> None:
    args = ["eval", str(layout_run / "best.pt"), "--data-dir", str(keypoints / "val"), "--labels",
            str(keypoints / "val_labels.csv"), "--out", str(tmp_path / "eval"), "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["num_samples"] == 4
    epochs = [json.loads(line) for line in (layout_run / "metrics.jsonl").read_text().splitlines()]
    best = max(epochs, key=lambda m: m["val_gloss_top1"])  # best.pt: the first best epoch
    assert report["gloss_top1"] == pytest.approx(best["val_gloss_top1"])
    assert report["loss"] == pytest.approx(best["val_loss"], rel=1e-4)


@pytest.mark.slow
def test_onnx_takes_raw_x_and_matches_pytorch_on_a_real_sample(
    layout_run: Path, keypoints: Path, exported_matches_pytorch
) -> None:
    x = read_npz_array(keypoints / "val" / "val_00001.npz", "X")[None]  # [1, T, 156], NaN kept
    layout = exported_matches_pytorch(layout_run / "best.pt", {"x": x})
    assert layout["streams"] == {"x": 156}
    assert layout["normalized_streams"] == ["hand_l", "hand_r", "pose"]
    assert layout["column_layout"] == {"hand_l": [0, 63], "hand_r": [63, 126], "pose": [126, 156]}


def test_a_layout_wider_than_x_exits_2_naming_it(keypoints: Path, tmp_path: Path) -> None:
    args = ["train", "transformer", *data_flags(keypoints), "--layout", "pose=126:159", *TINY,
            "--epochs", "1", "--work-dir", str(tmp_path / "run")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "data.layout" in result.output and "156 columns wide" in result.output
    args[args.index("pose=126:159")] = "pose=126:155"
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "whole landmarks" in result.output


def test_a_layout_run_resumes(layout_run: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(layout_run, tmp_path / "run"))
    result = runner.invoke(app, ["resume", str(copy), "--epochs", "3"])
    assert result.exit_code == 0, result.output
    assert len((copy / "metrics.jsonl").read_text().splitlines()) == 3
    assert load_model_from_checkpoint(copy / "last.pt").model.split.layout is not None


def test_augmentation_is_on_by_default_and_no_augment_turns_every_transform_off(
    root: Path, tmp_path: Path
) -> None:
    def augment_of(*flags: str) -> dict:
        work = tmp_path / f"run{len(flags)}"
        args = ["train", "transformer", *data_flags(root), *TINY, "--epochs", "1"]
        result = runner.invoke(app, [*args, *flags, "--work-dir", str(work)])
        assert result.exit_code == 0, result.output
        return json.loads((work / "config.json").read_text())["data"]["augment"]

    default = augment_of()
    assert default["speed_p"] == 0.5 and default["frame_drop_p"] == 0.5
    assert default["mirror_p"] == 0.0
    off = augment_of("--no-augment")
    assert all(value == 0.0 for key, value in off.items() if key.endswith("_p"))
    one_back = augment_of("--no-augment", "--set", "data.augment.speed_p=0.3")
    assert one_back["speed_p"] == 0.3 and one_back["frame_drop_p"] == 0.0


def test_work_dir_that_is_a_file_or_under_one_exit_2_naming_it(root: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("keep")
    for work, message in (
        (blocker, f"--work-dir {blocker} is a file, not a folder"),
        (blocker / "sub", f"cannot be created: {blocker} is a file"),
    ):
        args = ["train", "transformer", *data_flags(root), *TINY, "--work-dir", str(work)]
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert message in result.stderr
        assert "unexpected" not in result.output and "Traceback" not in result.output
    assert blocker.read_text() == "keep"
