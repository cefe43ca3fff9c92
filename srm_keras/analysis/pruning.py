"""The SRM paper's pruning study, reconstructed: silence the channels whose gates are smallest
and see how much accuracy is left, without fine-tuning (docs/design.md §12).

Pruning a channel here means: in every residual block, the branch's last convolution loses that
output filter and the branch's last batch normalisation gets gamma = beta = 0 there, so the
branch outputs exactly 0 in that channel (the module multiplies it by a finite gate: 0) and the
block passes its shortcut through unchanged in it. The model keeps its shape and cost: this
measures which channels matter (the paper's question), it does not make a network smaller or
faster. A channel silenced in one block is not silenced in the next (the shortcut carries it).
Modules that mix channels (SE, GE-θ⁺, MS-SAR, SRM's MLP variant) see the silenced channel's
zeros in their pooled input, so the other channels' gates change too, as they would in any
pruned network; SRM's channel-wise CFC and the global GE gather do not mix channels.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence

import keras
import numpy as np
from keras import ops

from srm_keras.analysis.gates import GateStatistics, gate_statistics
from srm_keras.analysis.residual import ResidualBlock, residual_blocks

logger = logging.getLogger(__name__)

#: Ranking criteria: the smallest mean gate over the data (needs a recalibration module), the
#: smallest |gamma| of the branch's last batch normalisation (the baseline of plain networks),
#: or a seeded random choice (the control).
CRITERIA = ("gate", "bn_scale", "random")


def pruned_count(fraction: float, channels: int) -> int:
    """How many of ``channels`` a ``fraction`` prunes: ``floor(fraction * channels)``, with
    1e-9 of slack so that e.g. 0.3 of 10 channels is 3 despite binary rounding."""
    return min(channels, int(math.floor(fraction * channels + 1e-9)))


def select_channels(
    model: keras.Model,
    fraction: float,
    *,
    data=None,
    criterion: str = "gate",
    seed: int = 0,
    statistics: Sequence[GateStatistics] | None = None,
    steps: int | None = None,
) -> dict[str, np.ndarray]:
    """The channels :func:`prune_channels` silences: block name -> sorted channel indices.

    In each block the ``pruned_count(fraction, C)`` channels with the lowest score go, ties to
    the lower index. The sets are nested: a larger fraction prunes every channel a smaller one
    does (for ``"random"``, with the same seed: each block draws one permutation of its channels
    from ``numpy.random.default_rng(seed)``, in block order, and prunes its first ones).
    Arguments as :func:`prune_channels`.
    """
    _check_fraction(fraction)
    blocks = residual_blocks(model)
    scores = _scores(model, blocks, criterion, data, seed, statistics, steps)
    return {
        block.name: np.sort(order[: pruned_count(fraction, block.channels)])
        for block, order in zip(blocks, scores)
    }


def prune_channels(
    model: keras.Model,
    fraction: float,
    *,
    data=None,
    criterion: str = "gate",
    seed: int = 0,
    statistics: Sequence[GateStatistics] | None = None,
    steps: int | None = None,
) -> keras.Model:
    """A copy of ``model`` with ``fraction`` of every residual branch's output channels silenced.

    Only for the ResNets of ``srm_keras.resnet`` (plain or with any module); DenseNets are out
    of scope (ValueError): a dense layer has no shortcut to fall back on. See the module
    docstring for what "silenced" means; the model is not fine-tuned.

    Args:
        model: the trained model; it is not modified.
        fraction: of each block's C branch channels, ``floor(fraction * C)`` are pruned (0: an
            exact copy; 1: every block passes its shortcut through).
        data: images for the ``"gate"`` criterion, in any form
            :func:`srm_keras.analysis.gate_statistics` takes (labels are not used).
        criterion: ``"gate"`` (smallest mean gate of the block's module over ``data``),
            ``"bn_scale"`` (smallest |gamma| of the branch's last batch normalisation) or
            ``"random"`` (seeded).
        seed: the seed of ``"random"``.
        statistics: gate statistics computed already (by ``gate_statistics(model, data)``), to
            rank by instead of reading ``data`` again.
        steps: batches of ``data`` to read (default: all).

    Returns:
        A new functional model (``keras.models.clone_model``) with the original's weights but
        for the zeros.
    """
    channels = select_channels(
        model,
        fraction,
        data=data,
        criterion=criterion,
        seed=seed,
        statistics=statistics,
        steps=steps,
    )
    return pruned_copy(model, channels)


def pruned_copy(model: keras.Model, channels: Mapping[str, np.ndarray]) -> keras.Model:
    """A copy of ``model`` (``keras.models.clone_model``, weights copied) with ``channels``
    (block name -> channel indices, as :func:`select_channels` gives) silenced."""
    pruned = keras.models.clone_model(model)
    pruned.set_weights(model.get_weights())
    for block in residual_blocks(pruned):
        silence_channels(pruned, block, np.asarray(channels.get(block.name, []), dtype=int))
    return pruned


def silence_channels(model: keras.Model, block: ResidualBlock, channels: np.ndarray) -> None:
    """Zero, in place, output filters ``channels`` of the block's last convolution (and bias)
    and the gamma and beta of its last batch normalisation there."""
    if len(channels) == 0:
        return
    conv = model.get_layer(block.conv)
    _zero(conv.kernel, channels)
    if conv.use_bias:
        _zero(conv.bias, channels)
    bn = model.get_layer(block.batch_norm)
    if not bn.center:
        raise ValueError(
            f"{bn.name!r} has no beta (center=False): its output cannot be set to 0 by its "
            "weights, so its channels cannot be silenced."
        )
    _zero(bn.beta, channels)
    if bn.scale:
        _zero(bn.gamma, channels)


def pruning_curve(
    models: Mapping[str, keras.Model] | Sequence[keras.Model],
    fractions: Iterable[float],
    data,
    *,
    criteria: Iterable[str] = CRITERIA,
    seed: int = 0,
    gate_data=None,
    steps: int | None = None,
) -> list[dict]:
    """Top-1 accuracy of every model pruned at every fraction by every criterion, no fine-tuning.

    Args:
        models: name -> model, or models (named by ``model.name``).
        fractions: fractions of each block's channels to prune, each in [0, 1].
        data: labelled evaluation batches, ``(images, labels)`` (e.g. a ``tf.data.Dataset``),
            read once per pruned model: it must be iterable again (not a generator).
        criteria: any of :data:`CRITERIA`. ``"gate"`` is skipped, with a warning, for a model
            without recalibration modules.
        seed: the seed of ``"random"``.
        gate_data: images to rank gates over (default: the images of ``data``; no labels are
            used to rank).
        steps: batches of the gate data to read (default: all).

    Returns:
        One row per model, criterion and fraction (in that nesting): ``model``, ``criterion``,
        ``fraction``, ``pruned_channels`` (over all blocks), ``channels`` (all blocks' branch
        channels), ``accuracy`` (top-1), ``loss`` (cross-entropy), ``num_examples``. At fraction
        0 every criterion gives the unpruned model, evaluated once.
    """
    from srm_keras.training.evaluation import evaluate

    named = _named(models)
    fractions = [_check_fraction(f) for f in fractions]
    criteria = [_check_criterion(c) for c in criteria]
    if not fractions or not criteria:
        raise ValueError("give at least one fraction and one criterion.")
    rows = []
    for label, model in named.items():
        blocks = residual_blocks(model)
        total = sum(block.channels for block in blocks)
        statistics = None
        unpruned = None
        for criterion in criteria:
            if criterion == "gate":
                if all(block.module is None for block in blocks):
                    logger.warning(
                        "%s has no recalibration modules: criterion 'gate' skipped for it.", label
                    )
                    continue
                if statistics is None:
                    statistics = gate_statistics(
                        model, data if gate_data is None else gate_data, steps=steps
                    )
            for fraction in fractions:
                if fraction == 0:
                    if unpruned is None:
                        unpruned = evaluate(model, data)
                    metrics, pruned_channels = unpruned, 0
                else:
                    channels = select_channels(
                        model, fraction, criterion=criterion, seed=seed, statistics=statistics
                    )
                    metrics = evaluate(pruned_copy(model, channels), data)
                    pruned_channels = sum(len(c) for c in channels.values())
                rows.append(
                    {
                        "model": label,
                        "criterion": criterion,
                        "fraction": fraction,
                        "pruned_channels": pruned_channels,
                        "channels": total,
                        "accuracy": metrics["accuracy"],
                        "loss": metrics["loss"],
                        "num_examples": metrics["num_examples"],
                    }
                )
                logger.info(
                    "%s, %s, %.3g pruned: top-1 %.4f",
                    label,
                    criterion,
                    fraction,
                    rows[-1]["accuracy"],
                )
    return rows


# -- helpers ---------------------------------------------------------------------------------


def _scores(model, blocks, criterion, data, seed, statistics, steps) -> list[np.ndarray]:
    """Per block, its channels from first to last pruned."""
    criterion = _check_criterion(criterion)
    if criterion == "random":
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
            raise ValueError(f"seed must be an integer; got {seed!r}.")
        rng = np.random.default_rng(int(seed))
        return [rng.permutation(block.channels) for block in blocks]
    if criterion == "bn_scale":
        values = []
        for block in blocks:
            bn = model.get_layer(block.batch_norm)
            if not bn.scale:
                raise ValueError(f"{bn.name!r} has no gamma (scale=False) to rank by.")
            values.append(np.abs(ops.convert_to_numpy(bn.gamma)))
    else:
        missing = [block.name for block in blocks if block.module is None]
        if missing:
            raise ValueError(
                f"criterion 'gate' ranks channels by a recalibration module's gates; blocks "
                f"{', '.join(missing)} of {model.name!r} have none: use 'bn_scale' or 'random'."
            )
        if statistics is None:
            if data is None:
                raise ValueError("criterion 'gate' needs data= (images to read the gates over).")
            statistics = gate_statistics(model, data, steps=steps)
        by_name = {stats.name: stats for stats in statistics}
        values = []
        for block in blocks:
            if block.module not in by_name:
                raise ValueError(
                    f"the statistics given have no entry for {block.module!r}: compute them "
                    f"with gate_statistics on this model ({model.name!r})."
                )
            values.append(by_name[block.module].mean)
    return [np.argsort(v, kind="stable") for v in values]


def _zero(variable, channels: np.ndarray) -> None:
    value = ops.convert_to_numpy(variable).copy()
    value[..., channels] = 0
    variable.assign(value)


def _check_fraction(fraction) -> float:
    if isinstance(fraction, bool) or not isinstance(fraction, int | float | np.floating):
        raise ValueError(f"a fraction must be a number in [0, 1]; got {fraction!r}.")
    if not 0.0 <= float(fraction) <= 1.0:
        raise ValueError(f"a fraction must lie in [0, 1]; got {fraction}.")
    return float(fraction)


def _check_criterion(criterion) -> str:
    if criterion not in CRITERIA:
        raise ValueError(f"unknown criterion {criterion!r}; valid: {', '.join(CRITERIA)}.")
    return criterion


def _named(models) -> dict[str, keras.Model]:
    if isinstance(models, Mapping):
        named = dict(models)
    else:
        models = list(models)
        named = {model.name: model for model in models}
        if len(named) != len(models):
            raise ValueError(
                "two models share a name; pass them as a dict of distinct labels to models."
            )
    if not named:
        raise ValueError("give at least one model.")
    return named
