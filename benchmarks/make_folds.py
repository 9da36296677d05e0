"""Grouped development folds of a single-stream set: whole speakers (signers, sessions) held out.

    python benchmarks/make_folds.py DATA_ROOT --group-by speaker --out FOLDS_DIR [--folds K]

Pools the train and val splits of DATA_ROOT (`{split}_labels.csv`, `{split}_meta.csv` with
the group column, `{split}/*.npz`) and writes one ordinary DATA_ROOT per fold,
`FOLDS_DIR/fold-<k>/` (`train/`, `val/` as symlinks to the original npz files; labels and
meta CSVs cut to the fold; `classes.csv` linked), plus `FOLDS_DIR/folds.json` (source,
group column, each fold's held-out groups and sizes). Without `--folds` every group is
held out once (leave-one-group-out); with K folds, groups go to folds as `signcli cv` assigns
them (signcli/data/folds.py: largest first, each to the fold with the fewest samples so far),
so the folds are deterministic and about equal. `bench_accuracy.py FOLDS_DIR` trains on every fold and
reports each fold and their mean.

The folds are a proxy for "a signer the model never saw": with leave-one-speaker-out on
`boston104_words` (3 speakers) the validation side of each fold is one whole speaker.
Nothing is written into the repository: FOLDS_DIR is typically beside the data sets.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

from signcli.data.folds import assign_folds  # the folds `signcli cv` makes of the same data

SPLITS = ("train", "val")


def npz_name(name: str) -> str:
    return name if name.lower().endswith(".npz") else name + ".npz"


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def pool(root: Path, group_by: str) -> tuple[list[str], list[str], list[dict]]:
    """Every sample of both splits: label and meta rows side by side, with its npz path."""
    samples: list[dict] = []
    label_header = meta_header = None
    for split in SPLITS:
        label_header, labels = read_csv(root / f"{split}_labels.csv")
        meta_path = root / f"{split}_meta.csv"
        if not meta_path.exists():
            raise SystemExit(f"{meta_path}: missing; the group column {group_by!r} is read there")
        meta_header, meta = read_csv(meta_path)
        if group_by not in meta_header:
            raise SystemExit(f"{meta_path}: no column {group_by!r} (columns: {meta_header})")
        meta_of = {npz_name(r["file"]): r for r in meta}
        for row in labels:
            name = npz_name(row["file"])
            if name not in meta_of:
                raise SystemExit(f"{meta_path}: no row for {name}")
            samples.append(
                {
                    "name": name,
                    "label": row,
                    "meta": meta_of[name],
                    "group": meta_of[name][group_by],
                    "path": (root / split / name).resolve(),
                }  # fmt: skip
            )
    names = [s["name"] for s in samples]
    if len(set(names)) < len(names):
        raise SystemExit(f"{root}: train and val share file names; cannot pool them")
    return label_header, meta_header, samples


def write_fold(dest: Path, root: Path, headers: tuple[list[str], list[str]], sides: dict) -> None:
    label_header, meta_header = headers
    for split, members in sides.items():
        (dest / split).mkdir(parents=True)
        for s in members:
            (dest / split / s["name"]).symlink_to(s["path"])
        write_csv(dest / f"{split}_labels.csv", label_header, [s["label"] for s in members])
        write_csv(dest / f"{split}_meta.csv", meta_header, [s["meta"] for s in members])
    if (root / "classes.csv").exists():
        (dest / "classes.csv").symlink_to((root / "classes.csv").resolve())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, metavar="DATA_ROOT")
    parser.add_argument("--group-by", required=True, help="meta column: speaker, signer, session")
    parser.add_argument("--folds", type=int, help="K folds (default: one per group)")
    parser.add_argument("--out", type=Path, required=True, help="FOLDS_DIR (replaced)")
    args = parser.parse_args()
    root = args.root.resolve()
    label_header, meta_header, samples = pool(root, args.group_by)
    sizes: dict[str, int] = {}
    for s in samples:
        sizes[s["group"]] = sizes.get(s["group"], 0) + 1
    k = args.folds or len(sizes)
    if k < 2 or k > len(sizes):
        raise SystemExit(f"--folds {k}: need 2 to {len(sizes)} folds ({len(sizes)} groups)")
    fold_of = assign_folds(sizes, k)
    if args.out.exists():
        if not (args.out / "folds.json").exists():
            raise SystemExit(f"{args.out}: exists and is not a folds folder; not replacing it")
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    folds = []
    for fold in range(k):
        held = sorted(g for g, f in fold_of.items() if f == fold)
        sides = {
            "train": [s for s in samples if fold_of[s["group"]] != fold],
            "val": [s for s in samples if fold_of[s["group"]] == fold],
        }
        name = f"fold-{fold}"
        write_fold(args.out / name, root, (label_header, meta_header), sides)
        train_classes = {s["label"]["gloss"] for s in sides["train"]}
        unseen = sum(s["label"]["gloss"] not in train_classes for s in sides["val"])
        folds.append(
            {
                "name": name,
                "held_out": held,
                "train": len(sides["train"]),
                "val": len(sides["val"]),
                "val_classes_unseen_in_train": unseen,
            }  # fmt: skip
        )
        print(f"{name}: held out {', '.join(held)}; train {len(sides['train'])}, "
              f"val {len(sides['val'])} ({unseen} of a class absent from train)")  # fmt: skip
    (args.out / "folds.json").write_text(
        json.dumps(
            {"source": str(root), "name": root.name, "group_by": args.group_by, "folds": folds},
            indent=2,
        )
        + "\n"  # fmt: skip
    )
    print(f"wrote {k} folds to {args.out}")


if __name__ == "__main__":
    main()
