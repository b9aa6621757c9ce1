"""Loss specs in text (losslab.spec): parsed without eval, round-tripped, expanded as grids."""

from __future__ import annotations

import pytest

import losslab as ll
from losslab.spec import expand_grid, format_spec, parse_spec, resolve_loss, split_specs


@pytest.mark.parametrize("text, expected", [
    ("mse", ("mse", {})),
    ("huber(delta=1.345)", ("huber", {"delta": 1.345})),
    ("  quantile( q = 0.9 ) ", ("quantile", {"q": 0.9})),
    ("focal(gamma=2, alpha=0.25)", ("focal", {"gamma": 2, "alpha": 0.25})),
    ("x(a=-1, b=+2.5, c='s', d=True, e=None, f=[1, -2, [3]], g=(4,))",
     ("x", {"a": -1, "b": 2.5, "c": "s", "d": True, "e": None, "f": [1, -2, [3]], "g": [4]})),
])
def test_parse_spec_reads_literals(text, expected):
    assert parse_spec(text) == expected


@pytest.mark.parametrize("text, fragment", [
    ("", "empty"),
    ("huber(delta=", "position"),
    ("huber(2)", "position 7 has no parameter name"),
    ("huber(delta=x)", "delta at position 13 (x) is not a literal"),
    ("huber(delta=10**400)", "is not a literal"),
    ("huber(delta=__import__('os'))", "is not a literal"),
    ("huber(**{'delta': 1})", "'**'"),
    ("huber(delta=1, delta=2)", "gives delta twice"),
    ("a.b", "not a name or name(...)"),
    ("huber(delta=1j)", "is not a literal"),
])
def test_parse_spec_refuses_everything_but_literals(text, fragment):
    with pytest.raises(ValueError, match="allowed|position|empty|twice|name") as info:
        parse_spec(text)
    assert fragment in str(info.value)


def test_nothing_in_a_spec_is_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for text in ("huber(delta=__import__('os').system('touch pwned'))", "__import__('os').system('touch pwned')"):
        with pytest.raises(ValueError):
            resolve_loss(text)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("name, params", [
    ("huber", {"delta": 1.345}), ("quantile", {"q": 0.1 + 0.2}), ("x", {"s": "it's", "n": None, "b": False}),
    ("x", {"l": [1, -2.5, [3e-300]]}), ("mse", {}),
])
def test_format_spec_round_trips(name, params):
    assert parse_spec(format_spec(name, params)) == (name, params)


def test_format_spec_of_a_loss_shows_non_default_parameters():
    assert format_spec(ll.get("huber")) == "huber"
    text = format_spec(ll.get("focal", gamma=3.0, alpha=0.25))
    assert resolve_loss(text).params == ll.get("focal", gamma=3.0, alpha=0.25).params
    with pytest.raises(ValueError, match="no literal form"):
        format_spec("huber", {"delta": float("inf")})


def test_resolve_loss_accepts_loss_name_alias_spec_and_formula():
    L = ll.get("huber", delta=2.0)
    assert resolve_loss(L) is L
    assert resolve_loss("mean_squared_error").name == "mse"
    assert resolve_loss("huber(delta=2)").params == {"delta": 2}
    assert resolve_loss("quantile", q=0.9).params["q"] == 0.9
    pytest.importorskip("sympy")
    formula = resolve_loss("log(cosh(r))")
    assert formula(0.0, 1.0) == pytest.approx(0.4337808304830271)  # log(cosh(1)), by hand


def test_resolve_loss_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"unknown loss 'hubr'.*Did you mean 'huber'"):
        resolve_loss("hubr(delta=1)")
    with pytest.raises(TypeError, match="Did you mean 'delta'"):
        resolve_loss("huber(dlta=1)")
    with pytest.raises(ValueError, match="grid only in a search"):
        resolve_loss("huber(delta=[1, 2])")
    with pytest.raises(ValueError, match="both give delta"):
        resolve_loss("huber(delta=1)", delta=2)
    with pytest.raises(TypeError, match="must be a Loss"):
        resolve_loss(3)


def test_split_specs_respects_parentheses_brackets_and_quotes():
    assert split_specs("mse,huber(delta=[0.5,1]),x(s='a,b')") == ["mse", "huber(delta=[0.5,1])", "x(s='a,b')"]
    for bad in (",", "mse,,mae", "mse,", "huber(delta=1", "mse)"):
        with pytest.raises(ValueError):
            split_specs(bad)


def test_expand_grid_is_a_cartesian_product():
    losses = expand_grid("huber(delta=[0.5, 1, 1.345, 2])")
    assert [L.params["delta"] for L in losses] == [0.5, 1, 1.345, 2]
    pairs = expand_grid("focal(gamma=[1, 2], alpha=[0.25, 0.5])")
    assert [(L.params["gamma"], L.params["alpha"]) for L in pairs] == [(1, 0.25), (1, 0.5), (2, 0.25), (2, 0.5)]
    assert len(expand_grid("mse")) == 1
    with pytest.raises(ValueError, match="grid of delta is empty"):
        expand_grid("huber(delta=[])")


def test_expand_grid_keeps_a_list_valued_parameter():
    (one,) = expand_grid("cross_entropy(class_weight=[1, 5])")
    assert list(one.params["class_weight"]) == [1, 5]
    two = expand_grid("cross_entropy(class_weight=[[1, 5], [5, 1]])")
    assert [list(L.params["class_weight"]) for L in two] == [[1, 5], [5, 1]]


def test_top_level_names():
    assert ll.resolve_loss is resolve_loss and ll.spec.parse_spec is parse_spec
