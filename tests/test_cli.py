"""The `losslab` command, run as a subprocess like a user runs it: good and bad arguments."""

from __future__ import annotations

import json
import re
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
    families = {}
    for entry in ll.catalog():
        families[entry.family] = families.get(entry.family, 0) + 1
    footer = " ".join(result.stdout.split())  # the footer may wrap
    assert all(f"{family} {n}" in footer for family, n in families.items()), footer[-400:]
    assert len(ll.catalog()) >= 100  # issue 13's catalog


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
    assert "verdict: passes" in run.stdout and "1/1 seeds pass" in run.stdout  # landscape is a deterministic check
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
    assert re.search(r"│ y\s+│ 2\.1\s+│", result.stdout)  # the slope on size recovered by the fit


def test_fit_bad_file_column_and_content(tmp_path):
    missing = losslab("fit", str(tmp_path / "none.csv"), "--target", "y")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    data = _houses_csv(tmp_path / "houses.csv")
    column = losslab("fit", str(data), "--target", "prize")
    assert column.returncode == 2 and "Did you mean 'price'" in column.stderr
    text = tmp_path / "text.csv"
    text.write_text("a,b\n1,x\n")
    content = losslab("fit", str(text), "--target", "a")
    assert content.returncode == 2 and "column 'b' is not numeric ('x' on line 2)" in content.stderr
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
    assert re.search(r"estimates\s+median", named.stdout) and "|" not in named.stdout  # rendered, not Markdown
    formula = losslab("profile", "log(cosh(r))", "--json", "--out", str(tmp_path / "p.png"))
    assert formula.returncode == 0, formula.stderr
    assert json.loads(formula.stdout[: formula.stdout.rindex("}") + 1])["convex"] is True
    assert (tmp_path / "p.png").exists()
    hostile = losslab("profile", "__import__('os').system('touch pwned')", cwd=tmp_path)
    assert hostile.returncode == 2 and "nor a valid expression" in hostile.stderr
    assert not (tmp_path / "pwned").exists()  # the text was parsed and rejected, never run


# --------------------------------------------------------------------------- in-process runs
def invoke(*args):
    """Run the command in this process (faster than a subprocess; the same code path)."""
    from typer.testing import CliRunner

    from losslab.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def _outliers_csv(path):
    # price = 2.1·size + t(2)·20 noise: heavy tails, so recommend ranks robust losses with a delta.
    import numpy as np

    rng = np.random.default_rng(1)
    size = rng.uniform(40, 160, 200)
    price = 2.1 * size + rng.standard_t(2, 200) * 20
    path.write_text("size,price\n" + "".join(f"{s:.2f},{p:.2f}\n" for s, p in zip(size, price)))
    return path


def _fraud_csv(path):
    # 10% "fraud" rows with a larger amount; labels are strings that sort the minority first.
    import numpy as np

    rng = np.random.default_rng(0)
    rows = ["amount,hour,label"]
    for _ in range(300):
        fraud = rng.random() < 0.1
        rows.append(f"{rng.normal(3 if fraud else 0, 1):.3f},{rng.normal():.3f},{'fraud' if fraud else 'ok'}")
    path.write_text("\n".join(rows) + "\n")
    return path


def _three_csv(path):
    import numpy as np

    rng = np.random.default_rng(0)
    rows = ["x1,x2,species"]
    for i in range(150):
        k = i % 3
        cx, cy = [(0, 0), (3, 0), (0, 3)][k]
        rows.append(f"{cx + rng.normal():.3f},{cy + rng.normal():.3f},{['setosa', 'versicolor', 'virginica'][k]}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_version_and_python_dash_m():
    import losslab as ll

    assert invoke("--version").stdout.strip() == f"losslab {ll.__version__}"
    result = subprocess.run([sys.executable, "-m", "losslab", "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == f"losslab {ll.__version__}"


def test_what_recommend_prints_pastes_into_every_command(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    data = _outliers_csv(tmp_path / "outliers.csv")
    advice = invoke("recommend", data, "--target", "price", "--metric", "mae")
    assert advice.exit_code == 0, advice.stderr
    specs = re.findall(r"^\s+\d+\. (.+?)\s{2,}\d\.\d\d", advice.stdout, flags=re.M)
    assert len(specs) >= 3 and any("(" in s for s in specs), advice.stdout  # at least one with parameters
    from losslab.spec import parse_spec

    for spec in specs:
        parse_spec(spec)  # what recommend prints is a spec
        fitted = invoke("fit", data, "--target", "price", "--loss", spec, "--epochs", 20)
        assert fitted.exit_code == 0, (spec, fitted.stderr)
        assert invoke("plot", spec, "--out", tmp_path / "p.png").exit_code == 0
        assert invoke("show", spec).exit_code == 0
    profiled = invoke("profile", specs[1], "--json")
    assert profiled.exit_code == 0, profiled.stderr
    assert json.loads(profiled.stdout)["name"] == parse_spec(specs[1])[0]
    searched = invoke("search", data, "--target", "price", "--losses", ",".join(specs), "--cv", 2, "--max-epochs", 20)
    assert searched.exit_code == 0, searched.stderr
    for spec in specs:
        assert spec in searched.stdout


def test_search_expands_a_grid_and_trains_quantile_at_the_pinball_level(tmp_path):
    pytest.importorskip("sklearn")
    data = _outliers_csv(tmp_path / "outliers.csv")
    grid = invoke("search", data, "--target", "price", "--losses", "mse,huber(delta=[0.5,1,1.345,2])", "--cv", 2,
                  "--max-epochs", 20)
    assert grid.exit_code == 0, grid.stderr
    for label in ("huber(delta=0.5)", "huber(delta=1)", "huber(delta=1.345)", "huber(delta=2)", "mse"):
        assert label in grid.stdout
    pinball = invoke("search", data, "--target", "price", "--losses", "quantile", "--metric", "pinball_0.9",
                     "--cv", 2, "--max-epochs", 20)
    assert pinball.exit_code == 0, pinball.stderr
    assert "quantile(q=0.9)" in pinball.stdout and "trains q=0.9" in pinball.stdout
    explicit = invoke("search", data, "--target", "price", "--losses", "quantile(q=0.3)", "--metric", "pinball_0.9",
                      "--cv", 2, "--max-epochs", 20)
    assert explicit.exit_code == 0 and "quantile(q=0.3)" in explicit.stdout  # a level the user typed is kept
    assert "trains q=" not in explicit.stdout


def test_fit_on_string_labels_with_pos_label_per_class_metrics_and_save(tmp_path):
    pytest.importorskip("sklearn")
    data = _fraud_csv(tmp_path / "fraud.csv")
    result = invoke("fit", data, "--target", "label", "--loss", "logistic", "--pos-label", "fraud",
                    "--save", tmp_path / "model")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "balanced accuracy" in out and "precision" in out and "recall" in out and "F1" in out
    assert re.search(r"│ fraud\s+│", out) and re.search(r"│ ok\s+│", out)
    assert "positive class: 'fraud'" in out and "toward fraud" in out
    # "fraud" sorts before "ok": without --pos-label the positive class is "ok" (as scikit-learn)
    default = invoke("fit", data, "--target", "label", "--loss", "logistic")
    assert "positive class: 'ok'" in default.stdout
    import csv
    import pickle

    rows = list(csv.DictReader((tmp_path / "model" / "predictions.csv").open()))
    assert len(rows) == 300 and {r["split"] for r in rows} == {"train", "test"}
    assert {r["y_true"] for r in rows} == {"fraud", "ok"} and "p(fraud)" in rows[0]
    saved = pickle.loads((tmp_path / "model" / "model.pkl").read_bytes())
    assert saved["classes"][1] == "fraud" and saved["features"] == ["amount", "hour"]
    again = invoke("fit", data, "--target", "label", "--loss", "logistic", "--save", tmp_path / "model")
    assert "(replaced the previous file)" in again.stdout
    wrong = invoke("fit", data, "--target", "label", "--loss", "logistic", "--pos-label", "fruad")
    assert wrong.exit_code == 2 and "labels: fraud, ok" in wrong.stderr


def test_fit_multiclass_labels_its_coefficients_per_class(tmp_path):
    pytest.importorskip("sklearn")
    data = _three_csv(tmp_path / "three.csv")
    result = invoke("fit", data, "--target", "species", "--loss", "cross_entropy", "--test-size", 0.3)
    assert result.exit_code == 0, result.stderr
    for name in ("setosa", "versicolor", "virginica"):
        assert f"class {name}" in result.stdout
    assert "105 training rows, 45 test rows" in result.stdout


def test_fit_is_reproducible_and_takes_a_learning_rate(tmp_path):
    pytest.importorskip("sklearn")
    data = _three_csv(tmp_path / "three.csv")
    args = ("fit", data, "--target", "species", "--loss", "focal(gamma=2)", "--model", "mlp", "--epochs", 30)
    first, second = invoke(*args), invoke(*args)
    assert first.exit_code == 0, first.stderr
    assert first.stdout == second.stdout
    assert invoke(*args, "--learning-rate", 0.1).stdout != first.stdout


def test_fit_diagnoses_a_converged_fit_with_outliers(tmp_path):
    pytest.importorskip("sklearn")
    # 8 of 200 prices off by +4000: the least-squares line is at its optimum, the loss left
    # is the outliers'; the diagnosis must say so, not ask for capacity.
    import numpy as np

    rng = np.random.default_rng(0)
    size = rng.uniform(40, 160, 200)
    price = 2.1 * size + rng.normal(0, 5, 200)
    price[:8] += 4000
    data = tmp_path / "houses.csv"
    data.write_text("size,price\n" + "".join(f"{s:.3f},{p:.3f}\n" for s, p in zip(size, price)))
    result = invoke("fit", data, "--target", "price", "--loss", "mse", "--test-size", 0)
    assert result.exit_code == 0, result.stderr
    assert "diagnosis: converged" in result.stdout and "robust loss" in result.stdout


def test_fit_reads_a_byte_order_mark_and_hints_at_semicolons(tmp_path):
    pytest.importorskip("sklearn")
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffy,x\n".encode() + "".join(f"{2 * i},{i}\n" for i in range(10)).encode())
    assert invoke("fit", bom, "--target", "y").exit_code == 0
    semi = tmp_path / "semi.csv"
    semi.write_text("a;b;y\n1;2;3\n4;5;6\n")
    for command in ("fit", "recommend", "search"):
        result = invoke(command, semi, "--target", "y")
        assert result.exit_code == 2 and "looks separated by semicolons" in result.stderr


def test_plot_draws_one_panel_per_variable_with_the_legend_outside():
    pytest.importorskip("matplotlib")
    import numpy as np

    from losslab.plot import plot_losses

    fig = plot_losses(["mse", "huber(delta=1.345)", "logistic", "binary_cross_entropy"])
    axes = fig.axes
    assert [a.get_xlabel() for a in axes] == ["residual r = y_pred − y_true", "margin y·f",
                                              "p, probability of the true class"]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    for a in axes:
        legend = a.get_legend().get_window_extent(renderer)
        box = a.get_window_extent(renderer)
        assert legend.y1 <= box.y0  # below the axes: it hides no curve
    xs = axes[2].lines[0].get_xdata()
    assert 0 < np.min(xs) and np.max(xs) < 1  # a probability-input loss on the probability axis
    with pytest.raises(ValueError, match="cannot share one axes"):
        plot_losses(["mse", "logistic"], ax=axes[0])


def test_plot_and_profile_out_into_an_existing_folder(tmp_path):
    pytest.importorskip("matplotlib")
    folder = tmp_path / "figures"
    folder.mkdir()
    result = invoke("plot", "mse,huber(delta=2)", "--gradient", "--out", folder)
    assert result.exit_code == 0, result.stderr
    assert (folder / "gradients.png").read_bytes()[:4] == b"\x89PNG" and not (tmp_path / "figures.png").exists()
    pytest.importorskip("sympy")
    assert invoke("profile", "mae", "--out", folder).exit_code == 0
    assert (folder / "profile.png").exists()
    bad = invoke("plot", "mse", "--out", tmp_path / "x.txt")
    assert bad.exit_code == 2 and "must end in .png, .svg, .pdf" in bad.stderr


def test_write_atomic_never_writes_through_a_link_out_of_its_folder(tmp_path):
    from losslab._files import write_atomic

    out, outside = tmp_path / "report", tmp_path / "precious.txt"
    out.mkdir()
    outside.write_text("keep me")
    (out / "report.html").symlink_to(outside)
    assert write_atomic(out / "report.html", "<html>", root=out) is True  # replaced the link itself
    assert outside.read_text() == "keep me" and not (out / "report.html").is_symlink()
    (out / "sub").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(ValueError, match="outside the output folder"):
        write_atomic(out / "sub" / "precious.txt", "x", root=out)
    assert outside.read_text() == "keep me"
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")] == []  # no temporary file left


def test_report_refuses_an_empty_selection(tmp_path):
    result = invoke("report", "--quick", "--only", ",", "--out", tmp_path / "r")
    assert result.exit_code == 2 and "selects nothing" in result.stderr
    assert not (tmp_path / "r").exists()


def test_search_with_ray_missing_is_one_line(tmp_path):
    pytest.importorskip("sklearn")
    try:
        import ray  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("ray is installed")
    data = _outliers_csv(tmp_path / "outliers.csv")
    result = invoke("search", data, "--target", "price", "--losses", "mse", "--backend", "ray")
    assert result.exit_code == 2 and "needs Ray" in result.stderr and "Traceback" not in result.stderr


def test_fit_on_diverging_data_is_one_line(tmp_path):
    pytest.importorskip("sklearn")
    data = tmp_path / "huge.csv"  # features near 1e161: the first squared error overflows
    data.write_text("x,y\n" + "".join(f"{(i + 1) * 1e160},{i % 7}.5\n" for i in range(40)))
    result = losslab("fit", str(data), "--target", "y")
    assert result.returncode == 2 and "training diverged at epoch 0" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_a_bad_thread_count_in_the_environment_is_not_a_traceback():
    import os

    env = {**os.environ, "LOSSLAB_NUM_THREADS": "abc"}
    result = subprocess.run([sys.executable, "-m", "losslab", "list"], capture_output=True, text=True, timeout=120,
                            env=env)
    assert "Traceback" not in result.stderr and "LOSSLAB_NUM_THREADS" in result.stderr


def _bad_inputs(tmp):
    """(command line, text the one error line must hold) for every command taking user input."""
    houses = _houses_csv(tmp / "houses.csv")
    missing = tmp / "missing.csv"
    empty = tmp / "empty.csv"
    empty.write_text("")
    header_only = tmp / "header.csv"
    header_only.write_text("a,b\n")
    gap = tmp / "gap.csv"
    gap.write_text("a,b\n1,\n2,3\n")
    fit, rec, srch = ("fit", houses, "--target", "price"), ("recommend", houses, "--target", "price"), \
        ("search", houses, "--target", "price")
    return [
        (("show", "hubr"), "Did you mean 'huber'"),
        (("show", "huber(delta=x)"), "is not a literal"),
        (("show", "huber(dlta=1)"), "Did you mean 'delta'"),
        (("list", "--family", "nope"), "unknown family"),
        (("plot", ""), "names no loss"),
        (("plot", ","), "names no loss"),
        (("plot", "mse,,mae"), "is empty"),
        (("plot", "huber(delta=-1)"), "delta must be"),
        (("plot", "huber(delta=[1,2])"), "grid only in a search"),
        (("plot", "triplet"), "cannot be drawn"),
        (("plot", "mse", "--out", tmp / "no" / "x.png"), "does not exist"),
        (("profile", "huber(delta=0)"), "delta must be"),
        (("profile", "nonsense"), "unknown loss"),
        (("profile", "mse", "--out", tmp / "x.gif"), "must end in"),
        (("fit", missing, "--target", "y"), "does not exist"),
        (("fit", tmp, "--target", "y"), "is a folder"),
        (("fit", empty, "--target", "y"), "needs a header row"),
        (("fit", header_only, "--target", "a"), "needs a header row"),
        (("fit", gap, "--target", "a"), "missing value on line 2"),
        ((*fit[:2], "--target", "prize"), "Did you mean 'price'"),
        ((*fit, "--loss", "hubr"), "Did you mean 'huber'"),
        ((*fit, "--loss", "huber(delta=)"), "not valid"),
        ((*fit, "--loss", "logistic"), "continuous values"),
        ((*fit, "--loss", "triplet"), "fit trains regression and classification losses"),
        ((*fit, "--epochs", "0"), "max_epochs must be an integer >= 1"),
        ((*fit, "--test-size", "1.5"), "--test-size must be a fraction"),
        ((*fit, "--learning-rate", "-1"), "learning_rate must be a finite number > 0"),
        ((*fit, "--pos-label", "x"), "for binary targets"),
        ((*fit, "--penalty", "l3"), "penalty must be"),
        ((*fit, "--model", "forest"), "model must be 'linear' or 'mlp'"),
        ((*fit, "--save", houses), "is a file"),
        (("recommend", missing, "--target", "y"), "does not exist"),
        ((*rec, "--metric", "maee"), "unknown metric"),
        ((*rec, "--task", "clustering"), "task"),
        (("search", missing, "--target", "y"), "does not exist"),
        ((*srch, "--losses", ","), "names no loss"),
        ((*srch, "--losses", "mse,hubr"), "Did you mean 'huber'"),
        ((*srch, "--losses", "huber(delta=[])"), "grid of delta is empty"),
        ((*srch, "--losses", "mse,log(cosh(r))"), "is a formula; search trains catalog losses"),
        ((*srch, "--losses", "huber(delta=x)"), "is not a literal"),
        ((*srch, "--losses", "mse", "--cv", "1"), "cv"),
        ((*srch, "--losses", "mse", "--backend", "spark"), "backend must be one of"),
        (("experiment", "landscap"), "Did you mean 'landscape'"),
        (("report", "--only", " , "), "selects nothing"),
    ]


def test_every_command_under_bad_input_exits_2_with_one_clear_line(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    pytest.importorskip("sympy")
    failures = []
    for args, expected in _bad_inputs(tmp_path):
        result = invoke(*args)
        lines = result.stderr.strip().splitlines()
        ok = (result.exit_code == 2 and isinstance(result.exception, SystemExit) and len(lines) == 1
              and lines[0].startswith("error: ") and expected in lines[0]
              and "Traceback" not in result.stderr + result.stdout)
        if not ok:
            failures.append((" ".join(map(str, args)), result.exit_code, result.stderr, repr(result.exception)))
    assert not failures, "\n".join(map(str, failures))


def test_typer_parse_errors_show_usage_not_a_traceback():
    for args in (("fit", "x.csv", "--target", "y", "--epochs", "abc"), ("plot",), ("fit", "x.csv")):
        result = losslab(*args)
        assert result.returncode == 2 and "Traceback" not in result.stderr and "Usage" in result.stderr


def test_profile_titles_read_as_typed():
    pytest.importorskip("sympy")
    formula = invoke("profile", "log(cosh(r))")
    assert formula.exit_code == 0, formula.stderr
    assert formula.stdout.startswith("Profile of log(cosh(r))\n") and "log(cosh(r))()" not in formula.stdout
    named = invoke("profile", "huber(delta=1.345)")
    assert named.stdout.startswith("Profile of huber(delta=1.345)\n")


def test_the_csv_reader_keeps_huge_integers_exact_and_labels_as_text(tmp_path):
    import numpy as np

    from losslab.datasets import read_csv

    big = tmp_path / "big.csv"
    big.write_text("x,y\n" + "".join(f"{i},{10**30 + i * 10**20}\n" for i in range(5)))
    X, y, features = read_csv(big, "y")
    assert y.dtype == np.float64 and y[0] == 1e30  # not cast to int64 (which would give -2**63)
    small = tmp_path / "small.csv"
    small.write_text("x,y\n1,2\n3,4\n")
    assert read_csv(small, "y")[1].dtype == np.int64
    labels = tmp_path / "labels.csv"
    labels.write_text("\ufefflabel,x\nfraud,1\nok,2\n", encoding="utf-8")
    X, y, features = read_csv(labels, "label")
    assert list(y) == ["fraud", "ok"] and features == ["x"]


def test_show_a_spec_lists_its_values_beside_the_defaults():
    result = invoke("show", "huber(delta=2)")
    assert result.exit_code == 0, result.stderr
    assert re.search(r"│ delta\s+│ 2\s+│ 1\.0\s+│", result.stdout)
