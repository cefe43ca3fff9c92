"""The paper's training recipe: SGD + momentum, step/cosine schedules with warm-up, coupled L2
weight decay that spares the SRM parameters, mixed precision, XLA, tf.distribute, and
crash-safe, resumable runs.

    from srm_keras.training import TrainConfig, train
    result = train(TrainConfig.from_file("models/digits_srm_resnet20.toml", output="runs/x"))
"""

from srm_keras.training.callbacks import (
    AtomicBackupAndRestore,
    BestModelCheckpoint,
    HistoryCSV,
    LearningRateLogger,
)
from srm_keras.training.config import TrainConfig, read_recipe
from srm_keras.training.evaluate import evaluate, load_model
from srm_keras.training.plots import plot_comparison, plot_history, read_history
from srm_keras.training.schedules import EpochSchedule
from srm_keras.training.train import TrainResult, train
from srm_keras.training.weight_decay import apply_weight_decay, decayed_variables, exempt_variables

__all__ = [
    "AtomicBackupAndRestore",
    "BestModelCheckpoint",
    "EpochSchedule",
    "HistoryCSV",
    "LearningRateLogger",
    "TrainConfig",
    "TrainResult",
    "apply_weight_decay",
    "decayed_variables",
    "evaluate",
    "exempt_variables",
    "load_model",
    "plot_comparison",
    "plot_history",
    "read_history",
    "read_recipe",
    "train",
]
