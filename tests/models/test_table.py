import pytest

from srm_keras.models.table import format_table, zoo_table


def test_every_paper_row_matches():
    rows = zoo_table()
    assert len(rows) == 8
    assert all(row["matches_paper"] for row in rows), format_table(rows)


def test_rows_without_paper_figures():
    rows = zoo_table(["srm_resnet20", "resnet18"])
    assert rows[0]["params"] == 271_066 and "paper_top1" not in rows[0]
    assert "gmacs_1x1" not in rows[1]  # basic blocks have one layout
    text = format_table(rows)
    assert "srm_resnet20 | 271,066" in text


def test_module_rows_give_what_the_module_costs():
    rows = zoo_table(["mssar_resnet20", "resnet20"])
    mssar, plain = rows
    assert mssar["params_overhead"] == pytest.approx(mssar["params"] / plain["params"] - 1)
    assert mssar["macs_overhead"] == pytest.approx(mssar["gmacs"] / plain["gmacs"] - 1)
    assert mssar["params_overhead"] > 0 and "params_overhead" not in plain
    assert f"+{100 * mssar['params_overhead']:.2f}%" in format_table(rows)
