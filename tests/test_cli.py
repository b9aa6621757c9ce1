"""The `losslab` command, run as a subprocess like a user runs it: good and bad arguments."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("typer")
pytest.importorskip("rich")


def losslab(*args, timeout=300, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "losslab.cli", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def test_list_shows_the_catalog():
    import losslab as ll

    result = losslab("list")
    assert result.returncode == 0, result.stderr
    for entry in ll.catalog():
        assert entry.name in result.stdout
    assert f"{len(ll.catalog())} losses" in result.stdout


def test_list_by_family_and_unknown_family():
    assert "huber" in losslab("list", "--family", "regression").stdout
    bad = losslab("list", "--family", "regresion")
    assert bad.returncode == 2 and "unknown family 'regresion'" in bad.stderr


def test_show_prints_formula_traits_and_estimate():
    result = losslab("show", "quantile")
    assert result.returncode == 0, result.stderr
    assert "formula:" in result.stdout and "estimates" in result.stdout and "quantile(0.5)" in result.stdout


def test_unknown_loss_gets_suggestions_and_exit_2():
    result = losslab("show", "hubr")
    assert result.returncode == 2
    assert "unknown loss 'hubr'" in result.stderr and "huber" in result.stderr
    assert "Traceback" not in result.stderr


def test_experiments_and_one_experiment(tmp_path):
    listing = losslab("experiments")
    assert listing.returncode == 0 and "mean_vs_median" in listing.stdout
    run = losslab("experiment", "landscape", "--quick", "--out", str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert "verdict: supported" in run.stdout
    assert list(tmp_path.glob("landscape-*.png"))
    bad = losslab("experiment", "landscap")
    assert bad.returncode == 2 and "Did you mean 'landscape'" in bad.stderr


def test_report_writes_html_and_json(tmp_path):
    result = losslab("report", "--quick", "--only", "mean_vs_median,landscape", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    payload = json.loads((tmp_path / "results.json").read_text())
    assert [e["name"] for e in payload["experiments"]] == ["mean_vs_median", "landscape"]
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    bad = losslab("report", "--quick", "--only", "nope", "--out", str(tmp_path / "x"))
    assert bad.returncode == 2 and "unknown experiment 'nope'" in bad.stderr


def _houses_csv(path):
    # size → price at exactly 2.1 per m², plus an unrelated column.
    rows = ["size,price,rooms"] + [f"{s},{2.1 * s:.1f},{s % 5}" for s in range(40, 160, 4)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_fit_trains_on_a_csv_and_prints_metrics_and_diagnosis(tmp_path):
    data = _houses_csv(tmp_path / "houses.csv")
    result = losslab("fit", str(data), "--target", "price", "--loss", "huber")
    assert result.returncode == 0, result.stderr
    assert "MAE" in result.stdout and "diagnosis:" in result.stdout
    assert "size=2.1" in result.stdout  # the slope recovered by the fit


def test_fit_bad_file_column_and_content(tmp_path):
    missing = losslab("fit", str(tmp_path / "none.csv"), "--target", "y")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    data = _houses_csv(tmp_path / "houses.csv")
    column = losslab("fit", str(data), "--target", "prize")
    assert column.returncode == 2 and "Did you mean 'price'" in column.stderr
    text = tmp_path / "text.csv"
    text.write_text("a,b\n1,x\n")
    content = losslab("fit", str(text), "--target", "a")
    assert content.returncode == 2 and "must hold numbers only" in content.stderr
    loss = losslab("fit", str(data), "--target", "price", "--loss", "nonsense")
    assert loss.returncode == 2 and "unknown loss 'nonsense'" in loss.stderr


def test_plot_writes_an_image_and_rejects_unknown_names(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "gradients.png"
    result = losslab("plot", "mse,mae,huber", "--gradient", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = losslab("plot", "mse,nope", "--out", str(tmp_path / "x.png"))
    assert bad.returncode == 2 and "'nope'" in bad.stderr and not (tmp_path / "x.png").exists()


def test_profile_of_a_name_and_of_a_formula(tmp_path):
    pytest.importorskip("sympy")
    named = losslab("profile", "mae")
    assert named.returncode == 0, named.stderr
    assert "| estimates | median |" in named.stdout
    formula = losslab("profile", "log(cosh(r))", "--json", "--out", str(tmp_path / "p.png"))
    assert formula.returncode == 0, formula.stderr
    assert json.loads(formula.stdout[: formula.stdout.rindex("}") + 1])["convex"] is True
    assert (tmp_path / "p.png").exists()
    hostile = losslab("profile", "__import__('os').system('touch pwned')", cwd=tmp_path)
    assert hostile.returncode == 2 and "nor a valid expression" in hostile.stderr
    assert not (tmp_path / "pwned").exists()  # the text was parsed and rejected, never run
