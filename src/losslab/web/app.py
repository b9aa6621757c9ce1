"""The explorer's FastAPI application: the JSON API under /api and the pages.

Every error is a 4xx whose JSON names the field: FastAPI's validation (422, ``detail``
lists each field's ``loc``), the library's ValueError/TypeError mapped to the field that
carried the value (422), unknown pages and losses (404). Request bodies are bounded
(``schemas.py``) and every fit stops after a few seconds. Nothing outside the package's
own static folder is served; the interactive Swagger page is off, since it loads its
scripts from a CDN (the schema itself is at /openapi.json).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from typing import Any, Callable, Iterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

import losslab as ll

from . import compute, schemas, site
from .compute import FieldError

#: Largest request body accepted, in bytes (the CSV limit plus room for the JSON around it).
MAX_BODY_BYTES = schemas.MAX_CSV_BYTES + 100_000


def _error(status: int, field: str, message: str) -> JSONResponse:
    return JSONResponse({"detail": [{"loc": ["body", field], "field": field, "msg": message}],
                         "field": field, "error": f"{field}: {message}"}, status_code=status)


def create_app() -> FastAPI:
    """A new explorer application (the CLI's ``serve`` runs one under uvicorn)."""
    app = FastAPI(title="losslab explorer", version=ll.__version__, docs_url=None, redoc_url=None,
                  description="See any loss, drag the data, watch the model follow. Every error is a 4xx that "
                              "names the field.")
    app.mount("/static", StaticFiles(directory=str(site.STATIC)), name="static")

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Any) -> Any:
        """Refuse oversized bodies before reading them; time the rest (the Server-Timing header:
        what the server spent, from the request's arrival to the answer, without the network)."""
        length = request.headers.get("content-length")
        if length is None and request.method == "POST":
            # a chunked body of unknown size would be read whole before any bound applied
            return _error(411, "body", "send the request body with a Content-Length header")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return _error(413, "body", f"the request body is limited to {MAX_BODY_BYTES} bytes; got {length}")
        start = time.perf_counter()
        response = await call_next(request)
        response.headers["Server-Timing"] = f"app;dur={1000 * (time.perf_counter() - start):.2f}"
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            field = ".".join(p for p in loc if p != "body") or "body"
            details.append({"loc": loc, "field": field, "msg": str(err.get("msg", "invalid value")),
                            "type": str(err.get("type", ""))})
        first = details[0] if details else {"field": "body", "msg": "invalid request"}
        return JSONResponse({"detail": details, "field": first["field"],
                             "error": f"{first['field']}: {first['msg']}"}, status_code=422)

    @app.exception_handler(FieldError)
    async def field_error(request: Request, exc: FieldError) -> JSONResponse:
        return _error(422, exc.field, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Any:
        if request.url.path.startswith("/api") or request.url.path.startswith("/static"):
            return _error(exc.status_code, "path", str(exc.detail))
        return HTMLResponse(site.render("error.html", title="Not found", message=str(exc.detail)),
                            status_code=exc.status_code)

    # ------------------------------------------------------------------ the API
    @app.get("/api/losses", tags=["api"], summary="Every loss: family, formula, traits, parameter controls")
    def losses() -> JSONResponse:
        return JSONResponse(list(site.catalog_rows()))

    @app.post("/api/curve", tags=["api"], summary="Value, gradient and Hessian along the loss's natural axis")
    def curve(req: schemas.CurveRequest) -> JSONResponse:
        loss = compute.make_loss(req.loss, req.params, req.expression, req.task)
        return _json(compute.curve(loss, n=req.n, lo=req.x_min, hi=req.x_max))

    @app.post("/api/fit", tags=["api"], summary="Fit y ≈ f(x) under a regression loss; the constant it estimates")
    def fit(req: schemas.FitRequest) -> JSONResponse:
        loss = compute.make_loss(req.loss, req.params, req.expression, "regression" if req.expression else None)
        start = None if req.start is None else (req.start.slope, req.start.intercept)
        return _json(compute.fit_regression(loss, req.x, req.y, req.model, req.hidden, req.epochs, req.seed,
                                            start=start, predictions=req.predictions))

    @app.post("/api/dataset", tags=["api"], summary="A labelled 2-D data set for the classification playground")
    def dataset(req: schemas.DatasetRequest) -> JSONResponse:
        return _json(compute.make_points(req.name, req.n, req.classes, req.noise, req.seed))

    @app.post("/api/train", tags=["api"], summary="Train a classifier a few epochs: decision grid, curves, diagnosis")
    def train(req: schemas.TrainRequest) -> JSONResponse:
        if len(req.x) != len(req.y):
            raise FieldError("y", f"must have one label per point; got {len(req.y)} labels for {len(req.x)} points")
        if req.batch_size is not None and req.batch_size > len(req.x):
            raise FieldError("batch_size", f"must be at most the number of points ({len(req.x)}); got {req.batch_size}")
        weights = None if req.weights is None else [[0.0 if v is None else v for v in w] for w in req.weights]
        return _json(compute.train_classifier(
            req.loss, req.params, req.x, req.y, req.model, req.hidden, req.activation, req.optimizer, req.lr,
            req.penalty, req.lam, req.batch_size, req.steps, weights, _history(req.history), req.seed, req.grid,
            expression=req.expression,
            optimizer_state=None if req.optimizer_state is None else req.optimizer_state.model_dump()))

    @app.post("/api/landscape", tags=["api"], summary="The loss over two weights and an optimiser's path")
    def landscape(req: schemas.LandscapeRequest) -> JSONResponse:
        loss = compute.make_loss(req.loss, req.params)
        return _json(compute.landscape(loss, req.task, req.optimizer, req.lr, req.steps, (req.start[0], req.start[1]),
                                       req.size, req.n, req.seed, model=req.model))

    @app.post("/api/recommend", tags=["api"], summary="recommend's ranked advice for a CSV's target column")
    def recommend(req: schemas.RecommendRequest) -> JSONResponse:
        return _json(compute.recommend(req.csv, req.target, req.task, req.metric))

    @app.post("/api/search", tags=["api"], summary="Cross-validate losses on a CSV (search)")
    def search(req: schemas.SearchRequest) -> JSONResponse:
        losses = None if req.losses is None else [s.model_dump() for s in req.losses]
        return _json(compute.search(req.csv, req.target, losses, req.metric, req.cv, req.max_epochs, req.seed))

    @app.post("/api/search/stream", tags=["api"],
              summary="search with progress: NDJSON lines {done, total} as fits end, then {result}",
              responses={200: {"content": {"application/x-ndjson": {}},
                               "description": "One JSON object per line: {\"done\": k, \"total\": n} after each "
                                              "fit, then {\"result\": ...} (the answer of /api/search), or "
                                              "{\"error\": ..., \"field\": ...} if a fit fails part-way."}})
    def search_stream(req: schemas.SearchRequest) -> Any:
        losses = None if req.losses is None else [s.model_dump() for s in req.losses]
        return _ndjson(lambda progress: compute.search(req.csv, req.target, losses, req.metric, req.cv,
                                                       req.max_epochs, req.seed, progress=progress))

    # ------------------------------------------------------------------ the pages
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return site.catalog_page()

    @app.get("/loss/{name}", response_class=HTMLResponse, include_in_schema=False)
    def loss_page(name: str) -> str:
        try:
            return site.loss_page(name)
        except KeyError:
            raise StarletteHTTPException(404, f"no loss named {name!r} in the catalog") from None

    for kind in ("regression", "classification"):
        app.add_api_route(f"/playground/{kind}", _page(kind), response_class=HTMLResponse, include_in_schema=False)
    for kind in ("landscape", "choose"):
        app.add_api_route(f"/{kind}", _page(kind), response_class=HTMLResponse, include_in_schema=False)
    return app


def _ndjson(work: Callable[[Callable[[int, int], None]], Any]) -> Any:
    """Run ``work(progress)`` in a thread and stream its progress as JSON lines.

    The answer waits for the first event, so that an error found before any fit (a bad
    column, too few rows per fold) is still a plain 4xx naming the field; once the stream has
    begun, its status is sent and a later failure arrives as an ``error`` line."""
    events: queue.Queue[Any] = queue.Queue()

    def run() -> None:
        try:
            events.put({"result": work(lambda done, total: events.put({"done": done, "total": total}))})
        except BaseException as exc:  # handed to the request's thread, which raises or reports it
            events.put(exc)

    threading.Thread(target=run, name="losslab-search", daemon=True).start()
    first = events.get()
    if isinstance(first, BaseException):
        raise first

    def lines() -> Iterator[bytes]:
        item = first
        while True:
            if isinstance(item, FieldError):
                item = {"error": f"{item.field}: {item.message}", "field": item.field}
            elif isinstance(item, BaseException):
                item = {"error": f"server: {type(item).__name__}: {item}", "field": "body"}
            yield _json(item).body + b"\n"
            if "done" not in item:
                return
            item = events.get()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


def _json(content: Any) -> JSONResponse:
    """The answer as JSON, serialised directly (FastAPI's jsonable_encoder would walk every
    float of a 2,000-point answer first, a third of a live refit's time). JSON has no NaN
    or infinity: where the library reports one, the answer says null."""
    try:
        return JSONResponse(content)
    except (ValueError, TypeError):
        return JSONResponse(_finite_tree(content))


def _finite_tree(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _finite_tree(w) for k, w in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite_tree(w) for w in v]
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if v is None or isinstance(v, (bool, int, str)):
        return v
    return compute.plain(v)


def _page(kind: str) -> Any:
    def page() -> str:
        return site.playground_page(kind)

    page.__name__ = f"{kind}_page"
    return page


def _history(h: schemas.TrainHistory) -> dict[str, list[float]]:
    out = {k: [float("nan") if v is None else v for v in getattr(h, k)]
           for k in ("train_loss", "val_loss", "accuracy", "val_accuracy")}
    out["initial_loss"] = [float("nan") if v is None else v for v in h.initial_loss]
    return out
