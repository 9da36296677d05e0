"""The multi-stream layout: reading, and every refusal naming the id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signcli.core.errors import DataError, UsageError
from signcli.core.streams import STREAM_NAMES
from signcli.data.sources import load_training_data
from signcli.data.stream_files import read_index, read_meta
from signcli.data.synthetic import write_multistream_dataset
from signcli.settings import load_settings

DIR_KEYS = {"face": "face_dir", "hand_l": "hand_left_dir", "hand_r": "hand_right_dir",
            "pose": "pose_dir"}  # fmt: skip


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pristine multi-stream dataset (read-only: tests that break it copy it first)."""
    root = tmp_path_factory.mktemp("multistream")
    return write_multistream_dataset(root, n_train=6, n_val=3, num_gloss=3, num_cat=2)


@pytest.fixture
def copy(layout: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(layout, tmp_path / "copy"))


def settings_for(root: Path, streams=STREAM_NAMES, val: bool = True, **data):
    flags = {f"data.{DIR_KEYS[s]}": root / s for s in streams}
    flags |= {"data.train_index": root / "train_index.csv", "data.labels": root / "labels.csv"}
    if val:
        flags["data.val_index"] = root / "val_index.csv"
    flags |= {f"data.{k}": v for k, v in data.items()}
    return load_settings(flags=flags)


def test_reads_every_stream_with_labels_and_meta(layout: Path) -> None:
    data = load_training_data(settings_for(layout, meta=layout / "meta.csv"))
    assert data.input_dims == {"face": 24, "hand_l": 63, "hand_r": 63, "pose": 30}
    assert (data.num_gloss, data.num_cat) == (3, 2)
    assert data.train.ids == [f"train_{i:05d}" for i in range(6)]
    assert data.val is not None and data.val.ids == [f"val_{i:05d}" for i in range(3)]
    sample = data.train.dataset[0]
    assert set(sample.streams) == set(STREAM_NAMES)
    assert len({a.shape[0] for a in sample.streams.values()}) == 1
    assert sample.targets == {"gloss": int(data.train.gloss[0]), "cat": int(data.train.cat[0])}
    assert data.train.meta["train_00000"].startswith("sign ")
    assert set(data.val.meta) == set(data.val.ids)
    assert data.labels_map()["gloss_names"] == {"0": "sign_00", "1": "sign_01", "2": "sign_02"}


def test_streams_are_read_as_recorded_and_the_model_normalises_them(layout: Path) -> None:
    from signcli.tasks.model import build_run_model

    raw = np.load(layout / "hand_r" / "train_00000.npy")
    settings = settings_for(layout)
    data = load_training_data(settings)
    np.testing.assert_array_equal(data.train.dataset[0].streams["hand_r"], raw)
    model = build_run_model(
        settings, data.input_dims, {"num_gloss": data.num_gloss, "num_cat": data.num_cat}
    )
    assert model.normalize.streams == ["face", "hand_l", "hand_r", "pose"]
    only_pose = settings_for(layout, normalize_streams=["pose"])
    assert build_run_model(only_pose, data.input_dims, {"num_gloss": 3}).normalize.streams == [
        "pose"
    ]
    off = settings_for(layout, normalize=False)
    assert build_run_model(off, data.input_dims, {"num_gloss": 3}).normalize.streams == []


def test_any_subset_of_streams(layout: Path) -> None:
    data = load_training_data(settings_for(layout, streams=["hand_l"]))
    assert data.input_dims == {"hand_l": 63}
    assert set(data.train.dataset[0].streams) == {"hand_l"}


def test_npz_stream_files_and_id_column(copy: Path) -> None:
    array = np.load(copy / "pose" / "train_00001.npy")
    (copy / "pose" / "train_00001.npy").unlink()
    np.savez(copy / "pose" / "train_00001.npz", other=array)  # first array when no X
    (copy / "train_index.csv").write_text(
        "id\n" + "\n".join(f"train_{i:05d}" for i in range(6)) + "\n"
    )
    data = load_training_data(settings_for(copy, normalize=False))
    np.testing.assert_array_equal(data.train.dataset[1].streams["pose"], array)


def test_streams_that_disagree_on_T_are_refused_naming_the_id(copy: Path) -> None:
    face = np.load(copy / "face" / "train_00002.npy")
    np.save(copy / "face" / "train_00002.npy", face[:-3])
    with pytest.raises(DataError, match=r"train_00002.*disagree.*face T = "):
        load_training_data(settings_for(copy))


def test_id_missing_from_a_stream_folder_is_refused(copy: Path) -> None:
    (copy / "hand_l" / "val_00001.npy").unlink()
    with pytest.raises(DataError, match=r"no hand_l file.*val_00001"):
        load_training_data(settings_for(copy))


def test_labelled_id_in_no_index_is_refused(copy: Path) -> None:
    with open(copy / "labels.csv", "a") as file:
        file.write("stray_0001,1,1,sign_01\n")
    with pytest.raises(DataError, match=r"in no index: stray_0001"):
        load_training_data(settings_for(copy))


def test_val_ids_without_a_val_index_are_in_no_index(layout: Path) -> None:
    with pytest.raises(DataError, match=r"in no index: val_00000"):
        load_training_data(settings_for(layout, val=False))


def test_indexed_id_without_a_label_is_refused(copy: Path) -> None:
    with open(copy / "train_index.csv", "a") as file:
        file.write("unlabelled_7\n")
    with pytest.raises(DataError, match=r"unlabelled_7"):
        load_training_data(settings_for(copy))


def test_unusable_stream_file_names_the_id(copy: Path) -> None:
    pose = np.load(copy / "pose" / "train_00003.npy")
    pose[0, 0] = np.inf
    np.save(copy / "pose" / "train_00003.npy", pose)
    with pytest.raises(DataError, match=r"train_00003.*infinite"):
        load_training_data(settings_for(copy))


def test_missing_settings_are_usage_errors(layout: Path) -> None:
    settings = settings_for(layout)
    settings.data.train_index = None
    with pytest.raises(UsageError, match="--train-index"):
        load_training_data(settings)
    settings = settings_for(layout, train_dir=layout)
    with pytest.raises(UsageError, match="one layout"):
        load_training_data(settings)


def test_read_index_and_meta_formats(tmp_path: Path) -> None:
    index = tmp_path / "index.csv"
    index.write_text("video_id,signer\na,1\nb,2\n")
    assert read_index(index) == ["a", "b"]
    index.write_text("name\na\n")
    with pytest.raises(DataError, match="video_id or id"):
        read_index(index)
    index.write_text("id\na\na\n")
    with pytest.raises(DataError, match="more than once"):
        read_index(index)
    meta = tmp_path / "meta.csv"
    meta.write_text("id;texto\na;hola, mundo\nb;adiós\n")
    assert read_meta(meta) == {"a": "hola, mundo", "b": "adiós"}
    meta.write_text("id,texto\na,b\n")
    with pytest.raises(DataError, match="id;texto"):
        read_meta(meta)
    # the header is read without case: found while fuzzing, "unexpected AttributeError"
    # (id;ID) and "unexpected ValueError" (texto;TEXTO)
    for header in ("id;ID;texto", "id;texto;TEXTO"):
        meta.write_text(f"{header}\na;b;c\n")
        with pytest.raises(DataError, match=r"meta\.csv: column\(s\) .* given more than once"):
            read_meta(meta)


def test_a_column_layout_with_stream_folders_is_refused_before_reading(layout: Path) -> None:
    settings = settings_for(layout, layout="pose=0:30")
    with pytest.raises(UsageError, match="--layout splits single-stream keypoints"):
        load_training_data(settings)
