"""The SRM paper's analyses of what a recalibration module does (docs/design.md §12), as
documented reconstructions whose numbers are ours:

* :func:`gate_statistics`: per-channel gate means and spreads of every module over a dataset.
* :func:`prune_channels` / :func:`pruning_curve`: silence the channels of each residual branch
  with the smallest mean gate (or smallest BN scale, or at random) and measure top-1 accuracy
  without fine-tuning: which channels matter, not a smaller or faster network.

    from srm_keras.analysis import gate_statistics, prune_channels
    stats = gate_statistics(model, images)
    pruned = prune_channels(model, 0.3, data=images, criterion="gate")

Names are loaded on first use.
"""

from srm_keras._lazy import attach

_NAMES = {
    "GateStatistics": "gates",
    "block_of": "gates",
    "gate_statistics": "gates",
    "recalibration_modules": "gates",
    "statistics_table": "gates",
    "gate_reader": "readers",
    "register_gate_reader": "readers",
    "ResidualBlock": "residual",
    "residual_blocks": "residual",
    "CRITERIA": "pruning",
    "prune_channels": "pruning",
    "pruned_copy": "pruning",
    "pruned_count": "pruning",
    "pruning_curve": "pruning",
    "select_channels": "pruning",
    "silence_channels": "pruning",
    "pruning_figure": "report",
    "write_gate_table": "report",
    "write_pruning_report": "report",
    "RunData": "runs",
    "load_run": "runs",
}

__all__ = sorted(_NAMES)

__getattr__, __dir__ = attach(__name__, _NAMES)
