"""The explorer's request bodies: pydantic models whose bounds keep every request small.

The bounds are the API's safety limits: points per request, CSV bytes, epochs, grid sizes.
A value outside them is a 422 whose ``detail`` names the field (FastAPI's validation).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

#: Most points in a regression fit or a classification request.
MAX_POINTS = 5000
#: Most bytes of CSV text in /api/recommend and /api/search (1 MB).
MAX_CSV_BYTES = 1_000_000
#: Most rows /api/search cross-validates (a search fits cv × losses models).
MAX_SEARCH_ROWS = 2000

Finite = Annotated[float, Field(ge=-1e6, le=1e6, allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$")]
ParamValue = Union[bool, Finite, Annotated[str, Field(max_length=64)], None,
                   Annotated[list[Finite], Field(max_length=64)],
                   Annotated[list[Annotated[list[Finite], Field(max_length=16)]], Field(max_length=16)]]
Params = Annotated[dict[Name, ParamValue], Field(max_length=16)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CurveRequest(Strict):
    """One loss's value, gradient and Hessian along its natural axis."""

    loss: Optional[Name] = Field(None, description="A catalog name (GET /api/losses); or give expression.")
    params: Params = Field(default_factory=dict, description="The loss's parameters by name.")
    expression: Optional[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        None, description="A formula in r (residual), m (margin) or p (probability), parsed without eval "
                          "by losslab.custom.from_expression.")
    task: Optional[Literal["regression", "binary"]] = Field(None, description="The expression's task.")
    n: int = Field(201, ge=11, le=2001, description="Number of points on the axis.")
    x_min: Optional[Finite] = None
    x_max: Optional[Finite] = None


class LineStart(Strict):
    slope: Finite
    intercept: Finite


class FitRequest(Strict):
    """Fit y ≈ f(x) (1-D x) under one regression loss."""

    loss: Optional[Name] = "mse"
    params: Params = Field(default_factory=dict)
    expression: Optional[Annotated[str, Field(min_length=1, max_length=200)]] = None
    x: Annotated[list[Finite], Field(min_length=2, max_length=MAX_POINTS)]
    y: Annotated[list[Finite], Field(min_length=2, max_length=MAX_POINTS)]
    model: Literal["linear", "mlp"] = "linear"
    start: Optional[LineStart] = Field(None, description="Warm start of the linear model (the previous answer's "
                                                          "coefficients): a refit after a drag then takes a few "
                                                          "iterations; the optimum is the same.")
    predictions: bool = Field(True, description="Include the prediction at every point (the playground, which "
                                                "draws the line, leaves them out to answer faster).")
    hidden: int = Field(16, ge=1, le=64, description="Hidden units of the MLP.")
    epochs: int = Field(200, ge=1, le=2000)
    seed: int = Field(0, ge=0, le=2**31 - 1)


class TrainHistory(Strict):
    """The run's curves so far (the page keeps them; the diagnosis reads them whole)."""

    train_loss: Annotated[list[Optional[float]], Field(max_length=5000)] = Field(default_factory=list)
    val_loss: Annotated[list[Optional[float]], Field(max_length=5000)] = Field(default_factory=list)
    accuracy: Annotated[list[Optional[float]], Field(max_length=5000)] = Field(default_factory=list)
    val_accuracy: Annotated[list[Optional[float]], Field(max_length=5000)] = Field(default_factory=list)
    initial_loss: Annotated[list[Optional[float]], Field(max_length=1)] = Field(default_factory=list)


class OptimizerState(Strict):
    """The optimiser's moments after the previous chunk, as that answer gave them
    (``Optimizer.state_dict``): adam and rmsprop continue their run instead of restarting."""

    optimizer: Literal["sgd", "adam", "gd", "rmsprop"]
    t: int = Field(ge=0, le=10**7)
    state: Annotated[list[Any], Field(max_length=8)]


class TrainRequest(Strict):
    """A few epochs of the classification playground, from the weights the page holds."""

    loss: Name = "cross_entropy"
    params: Params = Field(default_factory=dict)
    expression: Optional[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        None, description="A binary loss as a formula in m or p (e.g. '(1 - p)**2': squared error on a sigmoid); "
                          "replaces loss.")
    x: Annotated[list[Annotated[list[Finite], Field(min_length=2, max_length=2)]],
                 Field(min_length=4, max_length=MAX_POINTS)]
    y: Annotated[list[Annotated[int, Field(ge=0, le=9)]], Field(min_length=4, max_length=MAX_POINTS)]
    model: Literal["linear", "mlp"] = "linear"
    hidden: Annotated[list[Annotated[int, Field(ge=1, le=32)]], Field(max_length=3)] = Field(default_factory=lambda: [8])
    activation: Literal["relu", "tanh", "sigmoid"] = "tanh"
    optimizer: Literal["sgd", "adam", "gd", "rmsprop"] = Field(
        "sgd", description="sgd and gd (no momentum here) keep no state; adam and rmsprop continue from "
                           "optimizer_state when it is sent, else start their moments afresh.")
    lr: float = Field(0.1, gt=0, le=10, allow_inf_nan=False)
    penalty: Literal["none", "l1", "l2"] = "none"
    lam: float = Field(0.0, ge=0, le=10, allow_inf_nan=False)
    batch_size: Optional[int] = Field(32, ge=1, le=MAX_POINTS, description="null for the full batch.")
    steps: int = Field(5, ge=1, le=200, description="Epochs in this call.")
    weights: Optional[Annotated[list[Annotated[list[Optional[float]], Field(max_length=1100)]],
                                Field(max_length=8)]] = Field(None, description="The model's parameters, flattened, "
                                                                                "as a previous answer gave them.")
    history: TrainHistory = Field(default_factory=TrainHistory)
    optimizer_state: Optional[OptimizerState] = Field(None, description="The previous answer's optimizer_state.")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    grid: int = Field(50, ge=10, le=120, description="Decision grid points per side.")


class DatasetRequest(Strict):
    name: Literal["blobs", "moons", "circles", "spirals", "xor", "imbalanced", "noisy"] = "blobs"
    n: int = Field(200, ge=10, le=MAX_POINTS)
    classes: int = Field(2, ge=2, le=6)
    noise: float = Field(0.1, ge=0, le=2, allow_inf_nan=False)
    seed: int = Field(0, ge=0, le=2**31 - 1)


class LandscapeRequest(Strict):
    loss: Name = "mse"
    params: Params = Field(default_factory=dict)
    task: Literal["regression", "binary"] = "regression"
    model: Literal["linear", "mlp"] = Field("linear", description="linear: the plane of (w, b); mlp: a 1-8-1 tanh "
                                                                  "MLP, the plane of its path's principal directions.")
    optimizer: Literal["sgd", "adam", "gd", "rmsprop"] = "gd"
    lr: float = Field(0.1, gt=0, le=10, allow_inf_nan=False)
    steps: int = Field(50, ge=1, le=500)
    start: Annotated[list[Annotated[float, Field(ge=-4, le=4, allow_inf_nan=False)]],
                     Field(min_length=2, max_length=2)] = Field(default_factory=lambda: [-3.0, 3.0])
    size: int = Field(41, ge=11, le=61, description="Grid points per weight.")
    n: int = Field(200, ge=10, le=500, description="Data points.")
    seed: int = Field(0, ge=0, le=2**31 - 1)


class LossSpec(Strict):
    name: Name
    params: Params = Field(default_factory=dict)


class CsvRequest(Strict):
    csv: Annotated[str, Field(min_length=1, max_length=MAX_CSV_BYTES, description="CSV text with a header row.")]
    target: Annotated[str, Field(min_length=1, max_length=200, description="The column to predict.")]
    metric: Optional[Annotated[str, Field(max_length=64)]] = None


class RecommendRequest(CsvRequest):
    task: Optional[Literal["regression", "binary", "multiclass", "classification"]] = None


class SearchRequest(CsvRequest):
    losses: Optional[Annotated[list[LossSpec], Field(min_length=1, max_length=4)]] = Field(
        None, description="The candidates (default: recommend's top 3).")
    cv: int = Field(3, ge=2, le=5)
    max_epochs: int = Field(100, ge=1, le=300)
    seed: int = Field(0, ge=0, le=2**31 - 1)
