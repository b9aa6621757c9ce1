"""Every experiment in quick mode, the report (HTML + JSON) written once for all of them."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from losslab import experiments
from losslab.experiments.report import write_report

#: Issue 7: experiments 1-9 and 11-14 must be supported with the default seeds; 10
#: (imbalance) and 15 (label_noise) report whichever way their numbers fall.
MUST_BE_SUPPORTED = {
    "mean_vs_median", "outliers", "landscape", "own_metric_wins", "convergence", "huber_efficiency",
    "ce_vs_hinge", "squared_loss_classification", "vanishing_gradient", "embedding_geometry", "l1_vs_l2",
    "diagnosis", "calibration",
}
ALL_SIXTEEN = MUST_BE_SUPPORTED | {"imbalance", "label_noise", "combined_objective"}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    pytest.importorskip("matplotlib")
    out = tmp_path_factory.mktemp("report")
    html_path, json_path = write_report(out, quick=True, progress=False)
    return out, html_path.read_text(encoding="utf-8"), json.loads(json_path.read_text())


def test_every_experiment_of_the_issue_is_registered():
    assert set(experiments.names()) == ALL_SIXTEEN


def test_results_json_follows_the_schema(report):
    _, _, payload = report
    import losslab

    assert payload["losslab_version"] == losslab.__version__
    names = [e["name"] for e in payload["experiments"]]
    assert names == experiments.names()
    for entry in payload["experiments"]:
        assert set(entry) >= {"name", "claim", "supported", "numbers", "figures"}
        assert isinstance(entry["supported"], bool)
        assert isinstance(entry["claim"], str) and entry["claim"].endswith(".")
        assert isinstance(entry["numbers"], dict) and entry["numbers"], entry["name"]
        assert entry["figures"], f"{entry['name']} has no figure"
        for figure in entry["figures"]:
            assert figure["path"].endswith(".png") and figure["caption"]


def test_figures_are_written_as_png_files(report):
    out, _, payload = report
    for entry in payload["experiments"]:
        for figure in entry["figures"]:
            assert (out / figure["path"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", sorted(MUST_BE_SUPPORTED))
def test_claims_are_supported_with_the_default_seed(report, name):
    _, _, payload = report
    entry = {e["name"]: e for e in payload["experiments"]}.get(name)
    assert entry is not None, f"{name} missing from the report"
    assert entry["supported"], f"{name}: {entry['notes']} {entry['numbers']}"


class _Checker(HTMLParser):
    VOID = {"meta", "img", "br", "hr", "input", "link", "source", "wbr", "col", "area", "base", "embed", "param", "track"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.images, self.external = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            if value and not (value.startswith("data:") or value.startswith("#")):
                self.external.append((tag, value))
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> (open: {self.stack[-3:]})")
        else:
            self.stack.pop()


def test_report_is_valid_self_contained_html(report):
    _, text, payload = report
    assert text.startswith("<!DOCTYPE html>")
    checker = _Checker()
    checker.feed(text)
    checker.close()
    assert not checker.errors, checker.errors[:5]
    assert not checker.stack, f"unclosed tags: {checker.stack}"
    assert not checker.external, f"external references: {checker.external[:5]}"
    assert all(src.startswith("data:image/png;base64,") for src in checker.images)
    n_figures = sum(len(e["figures"]) for e in payload["experiments"])
    assert len(checker.images) >= n_figures
    # The summary table lists every claim and verdict first; the catalog follows the experiments.
    assert text.index("Claims and verdicts") < text.index(payload["experiments"][0]["title"]) < text.index('id="catalog"')


def test_unknown_experiment_names_get_suggestions():
    with pytest.raises(ValueError, match="unknown experiment 'landscap'. Did you mean 'landscape'"):
        experiments.get_experiment("landscap")
    with pytest.raises(ValueError, match="jobs must be an integer >= 1"):
        write_report("/nonexistent-never-written", quick=True, only=["landscape"], jobs=0, progress=False)


def test_parallel_jobs_give_the_same_numbers(tmp_path):
    # Seeded experiments: running them in two processes changes nothing but the wall time.
    from losslab.experiments.report import run_experiments

    names = ["mean_vs_median", "convergence"]
    serial = run_experiments(names, quick=True, jobs=1)
    parallel = run_experiments(names, quick=True, jobs=2)
    assert [r.name for r in parallel] == names
    for a, b in zip(serial, parallel):
        assert a.to_dict()["numbers"] == b.to_dict()["numbers"] and a.supported == b.supported
