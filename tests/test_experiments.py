"""Every experiment in quick mode, the report (HTML + JSON) written once for all of them.

The verdicts are computed over seeds (issue 14): the schema carries k/n, the checks and the
per-seed numbers; the page shows the same verdicts as results.json.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from losslab import experiments
from losslab.experiments._base import DEFAULT_SEEDS, seeds_for
from losslab.experiments.report import write_report

ALL_SIXTEEN = {
    "mean_vs_median", "outliers", "landscape", "own_metric_wins", "convergence", "huber_efficiency",
    "ce_vs_hinge", "squared_loss_classification", "vanishing_gradient", "imbalance", "embedding_geometry", "l1_vs_l2",
    "diagnosis", "calibration", "label_noise", "combined_objective",
}
#: Deterministic computations, run once and labelled as checks.
CHECKS = {"landscape", "vanishing_gradient"}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    pytest.importorskip("matplotlib")
    out = tmp_path_factory.mktemp("report")
    html_path, json_path = write_report(out, quick=True, progress=False, jobs=2)
    return out, html_path.read_text(encoding="utf-8"), json.loads(json_path.read_text())


def test_every_experiment_of_the_issue_is_registered():
    assert set(experiments.names()) == ALL_SIXTEEN
    assert {n for n in experiments.names() if experiments.get_experiment(n).kind == "check"} == CHECKS


def test_results_json_follows_the_schema(report):
    _, _, payload = report
    import losslab

    assert payload["losslab_version"] == losslab.__version__
    assert [e["name"] for e in payload["experiments"]] == experiments.names()
    for entry in payload["experiments"]:
        assert set(entry) >= {"name", "claim", "kind", "verdict_rule", "k", "n", "supported", "checks", "per_seed",
                              "numbers", "figures", "seeds"}
        assert isinstance(entry["supported"], bool)
        assert isinstance(entry["claim"], str) and entry["claim"].endswith(".")
        expected_n = 1 if entry["kind"] == "check" else DEFAULT_SEEDS
        assert entry["n"] == expected_n == len(entry["per_seed"]) == len(entry["seeds"]), entry["name"]
        assert entry["seeds"] == seeds_for(0, expected_n)
        assert entry["k"] == sum(seed["passed"] for seed in entry["per_seed"])
        for seed in entry["per_seed"]:
            assert seed["numbers"], entry["name"]
            assert seed["passed"] == all(check["passed"] for check in seed["checks"])
        for check in entry["checks"]:
            assert check["n"] == expected_n and 0 <= check["passed"] <= check["n"]
            assert (check["margin_ci95"] is None) == (expected_n == 1)
        assert entry["figures"], f"{entry['name']} has no figure"
        for figure in entry["figures"]:
            assert figure["path"].endswith(".png") and figure["caption"]


def test_the_verdict_is_the_rule_applied_to_k_of_n(report):
    # supported iff k/n >= min_share (80%): the verdict in results.json follows from its own k and n
    _, _, payload = report
    for entry in payload["experiments"]:
        assert entry["supported"] == (entry["k"] >= 0.8 * entry["n"]), entry["name"]
        assert f"{entry['min_share']:.0%}" in entry["verdict_rule"] or entry["kind"] == "check"


def test_figures_are_written_as_png_files(report):
    out, _, payload = report
    for entry in payload["experiments"]:
        for figure in entry["figures"]:
            assert (out / figure["path"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class _Checker(HTMLParser):
    VOID = {"meta", "img", "br", "hr", "input", "link", "source", "wbr", "col", "area", "base", "embed", "param",
            "track"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.images, self.external, self.verdicts = [], [], [], [], {}
        self._verdict_of = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            if value and not (value.startswith("data:") or value.startswith("#")):
                self.external.append((tag, value))
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "td" and "verdict" in (attrs.get("class") or ""):
            self._verdict_of = attrs["data-name"]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_data(self, data):
        if self._verdict_of and data.strip():
            self.verdicts[self._verdict_of] = data.strip()
            self._verdict_of = None

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> (open: {self.stack[-3:]})")
        else:
            self.stack.pop()


def _parse(text):
    checker = _Checker()
    checker.feed(text)
    checker.close()
    return checker


def test_report_is_valid_self_contained_html(report):
    _, text, payload = report
    assert text.startswith("<!DOCTYPE html>")
    checker = _parse(text)
    assert not checker.errors, checker.errors[:5]
    assert not checker.stack, f"unclosed tags: {checker.stack}"
    assert not checker.external, f"external references: {checker.external[:5]}"
    assert all(src.startswith("data:image/png;base64,") for src in checker.images)
    assert len(checker.images) >= sum(len(e["figures"]) for e in payload["experiments"])
    # contents first, then the summary, the experiments and the catalog
    first = payload["experiments"][0]["title"]
    assert text.index('id="contents"') < text.index("Claims and verdicts") < text.index(f"1. {first}") \
        < text.index('id="catalog"')


def test_page_verdicts_equal_the_json_verdicts(report):
    _, text, payload = report
    shown = _parse(text).verdicts
    expected = {}
    for e in payload["experiments"]:
        if e["kind"] == "check":
            expected[e["name"]] = "passes" if e["supported"] else "fails"
        else:
            expected[e["name"]] = "supported" if e["supported"] else "not supported"
    assert shown == expected


def test_page_has_no_raw_json_or_latex_and_says_how_to_reproduce(report):
    _, text, payload = report
    assert "<pre>" not in text and '"per_seed"' not in text
    # formulas are MathML (latex2mathml) or plain text, never TeX source
    assert not re.search(r"\\(frac|log|max|alpha|begin)\b", text)
    for entry in payload["experiments"]:
        assert f"losslab experiment {entry['name']} --seed 0 --quick" in text
        assert f"{entry['k']}/{entry['n']} seeds" in text or entry["kind"] == "check"


def test_different_base_seeds_draw_different_data():
    a = experiments.get_experiment("mean_vs_median").run(quick=True, seed=0, n_seeds=2)
    b = experiments.get_experiment("mean_vs_median").run(quick=True, seed=1, n_seeds=2)
    assert [t.seed for t in a.trials] == [0, 1] and [t.seed for t in b.trials] == [1000, 1001]
    assert a.trials[0].numbers["lognormal"] != b.trials[0].numbers["lognormal"]
    assert a.trials[0].numbers["lognormal"] != a.trials[1].numbers["lognormal"]


def test_unknown_experiment_names_and_bad_arguments():
    with pytest.raises(ValueError, match="unknown experiment 'landscap'. Did you mean 'landscape'"):
        experiments.get_experiment("landscap")
    with pytest.raises(ValueError, match="jobs must be an integer >= 1"):
        write_report("/nonexistent-never-written", quick=True, only=["landscape"], jobs=0, progress=False)
    with pytest.raises(ValueError, match="number of seeds must be an integer"):
        write_report("/nonexistent-never-written", quick=True, only=["landscape"], n_seeds=0, progress=False)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        seeds_for(-1, 5)


def test_parallel_jobs_give_the_same_numbers():
    # Seeded trials: running them in two processes changes nothing but the wall time.
    from losslab.experiments.report import run_experiments

    names = ["mean_vs_median", "convergence"]
    serial = run_experiments(names, quick=True, jobs=1, n_seeds=2)
    parallel = run_experiments(names, quick=True, jobs=2, n_seeds=2)
    assert [r.name for r in parallel] == names
    for a, b in zip(serial, parallel):
        assert a.to_dict()["per_seed"] == b.to_dict()["per_seed"] and a.supported == b.supported


def test_report_never_writes_through_a_link_out_of_its_folder(tmp_path):
    """A report.html that is a symbolic link to a file elsewhere is replaced, never written
    through (the first wave overwrote the link's target)."""
    from losslab.experiments.report import write_report

    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.html").symlink_to(outside)
    replaced: list = []
    html_path, _ = write_report(out, quick=True, only=["mean_vs_median"], progress=False, catalog=False,
                                replaced=replaced)
    assert outside.read_text() == "keep me"
    assert not html_path.is_symlink() and "mean_vs_median" in html_path.read_text()
    assert html_path in replaced
