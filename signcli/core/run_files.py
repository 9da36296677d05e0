"""The names of the files a run writes into its work directory (docs/architecture.md,
"Work directory"): a contract that the engine, the tasks (tokenizer.json) and eval's
language model (split.json) share. The life cycle is engine/workdir.py's."""

CONFIG_FILE = "config.json"
LABELS_FILE = "labels.json"
METRICS_FILE = "metrics.jsonl"
LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"
SPLIT_FILE = "split.json"
TOKENIZER_FILE = "tokenizer.json"  # text tasks: the run's tokenizer (also in every checkpoint)
TENSORBOARD_DIR = "tensorboard"
CURVES_FILE = "curves.png"  # the learning curves, redrawn as the run goes
# removal order for --overwrite: config.json first, so a removal that fails midway leaves
# a folder that `resume` refuses and `train` still calls a run (to be overwritten again)
RUN_FILES = (
    CONFIG_FILE,
    LABELS_FILE,
    SPLIT_FILE,
    METRICS_FILE,
    LAST_CHECKPOINT,
    BEST_CHECKPOINT,
    TOKENIZER_FILE,
    CURVES_FILE,
)
LOCK_FILE = ".signcli.lock"  # never a run file: --overwrite leaves it alone
