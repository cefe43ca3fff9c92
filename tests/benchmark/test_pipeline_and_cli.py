"""The input pipeline benchmark on generated JPEGs, and ``srm-keras bench`` end to end."""

import argparse
import json

import pytest
import tensorflow as tf

from srm_keras.benchmark import pipeline_benchmark, write_jpegs
from srm_keras.cli import bench


def test_write_jpegs_makes_an_image_folder(tmp_path):
    root = write_jpegs(tmp_path, 6, size=(30, 40), classes=2)
    train = sorted((root / "train").rglob("*.jpg"))
    assert len(train) == 6 and len(list((root / "val").rglob("*.jpg"))) == 2
    assert {p.parent.name for p in train} == {"class0", "class1"}
    image = tf.io.decode_jpeg(tf.io.read_file(str(train[0])))
    assert tuple(image.shape) == (30, 40, 3)
    with pytest.raises(ValueError, match="count must be at least"):
        write_jpegs(tmp_path, 1, classes=2)


def test_pipeline_rows_per_thread_setting():
    rows, settings = pipeline_benchmark(
        threads=(1, 2), image_size=32, batch_size=4, images=8, repeats=2, warmup_batches=1
    )
    assert [row["threads"] for row in rows] == [1, 2]
    for row in rows:
        assert row["images_per_s"] > 0 and row["batches_per_repeat"] == 2
        assert row["images_per_s_per_thread"] == pytest.approx(row["images_per_s"] / row["threads"])
        assert row["min_s"] <= row["median_s"] <= row["max_s"]
    assert settings["images"] == 8 and settings["mean_file_bytes"] > 1000


def test_pipeline_bad_threads():
    with pytest.raises(ValueError, match="threads"):
        pipeline_benchmark(threads=(0,), images=2)


def _run(argv):
    parser = argparse.ArgumentParser()
    bench.register(parser.add_subparsers())
    args = parser.parse_args(["bench", *argv])
    return args.func(args)


def test_bench_command_writes_all_outputs(tmp_path, capsys):
    output = tmp_path / "results.json"
    arguments = (
        "--models resnet20 se_resnet20 --image-size 16 --batch-size 2 --classes 10 "
        "--mode inference train --repeats 2 --warmup 0 "
        "--input-pipeline --pipeline-images 4 --pipeline-threads 1"
    )
    code = _run([*arguments.split(), "--output", str(output)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| se_resnet20 | train | float32 | off | 2 | 16 |" in printed
    assert "Input pipeline" in printed and "input needs" in printed
    data = json.loads(output.read_text())
    assert len(data["results"]) == 4 and len(data["pipeline"]) == 1
    assert output.with_suffix(".csv").is_file() and output.with_suffix(".md").is_file()


def test_bench_command_rejects_unknown_models(tmp_path):
    with pytest.raises(ValueError, match="Unknown model 'vgg16'"):
        _run(["--models", "vgg16", "--repeats", "1"])
