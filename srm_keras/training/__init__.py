"""The paper's training recipe: SGD + momentum, step/cosine schedules with warm-up, coupled L2
weight decay that spares the SRM parameters, mixed precision, XLA, tf.distribute, and
crash-safe, resumable runs.

    from srm_keras.training import TrainConfig, train
    result = train(TrainConfig.from_file("models/digits_srm_resnet20.toml", output="runs/x"))

Names are loaded on first use: ``srm_keras.training.config`` (the settings) needs no TensorFlow.
"""

from srm_keras._lazy import attach

_NAMES = {
    "AtomicBackupAndRestore": "callbacks",
    "BestModelCheckpoint": "callbacks",
    "compare_modules": "compare",
    "HistoryCSV": "callbacks",
    "LearningRateLogger": "callbacks",
    "TrainConfig": "config",
    "read_recipe": "config",
    "evaluate": "evaluation",
    "load_model": "evaluation",
    "plot_comparison": "plots",
    "plot_history": "plots",
    "read_history": "plots",
    "EpochSchedule": "schedules",
    "TrainResult": "trainer",
    "train": "trainer",
    "apply_weight_decay": "weight_decay",
    "decayed_variables": "weight_decay",
    "exempt_variables": "weight_decay",
}

__all__ = sorted(_NAMES)

__getattr__, __dir__ = attach(__name__, _NAMES)
