"""The explorer in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium).

The server runs in a subprocess on a free port (bounded wait to start, terminated at the
end). Every request to a host other than 127.0.0.1 is blocked and recorded, so the pages
are tested as they work with the network off. Skips cleanly without Playwright or Chromium;
never downloads a browser. Set LOSSLAB_WEB_SCREENSHOTS=DIR to keep the screenshots.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

import losslab  # noqa: E402

PAGES = ["/", "/loss/huber", "/loss/cross_entropy", "/playground/regression", "/playground/classification",
         "/landscape", "/landscape?model=mlp&task=binary&loss=logistic&lr=0.5", "/choose"]


@pytest.fixture(scope="module")
def server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = str(Path(losslab.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    code = (f"import uvicorn; from losslab.web import create_app; "
            f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning')")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/api/losses", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the explorer did not start on port {port} within 60 s (exit code {proc.poll()})")
            time.sleep(0.2)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode is not None


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = os.environ.get("LOSSLAB_WEB_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


class Page:
    """A page whose console errors and outside requests are recorded (outside ones blocked)."""

    def __init__(self, browser, base):
        self.context = browser.new_context(viewport={"width": 1300, "height": 900})
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.base = base

    def _route(self, route):
        url = urlparse(route.request.url)
        if url.scheme == "file" or url.hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def goto(self, path):
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")

    def close(self):
        self.context.close()


@pytest.fixture
def tab(browser, server):
    p = Page(browser, server)
    yield p
    p.close()


def plotted(tab, div, trace=0):
    return tab.page.evaluate(f"() => Array.from(document.getElementById('{div}').data[{trace}].y)")


def test_every_page_loads_offline_without_console_errors(tab, shots):
    for path in PAGES:
        tab.goto(path)
        name = path.strip("/").split("?")[0].replace("/", "_") + ("_mlp" if "mlp" in path else "") or "catalog"
        tab.page.screenshot(path=str(shots / f"{name}.png"))
        assert tab.errors == [], (path, tab.errors)
        assert tab.outside == [], (path, tab.outside)
        if path != "/" and path != "/choose":
            assert tab.page.locator(".js-plotly-plot").count() >= 1, path


def test_catalog_filters_and_keeps_them_in_the_url(tab):
    tab.goto("/")
    tab.page.fill("#q", "hinge")
    visible = tab.page.locator("#catalog tbody tr:not([hidden])")
    names = sorted(visible.nth(i).get_attribute("data-name") for i in range(visible.count()))
    expected = sorted(e.name for e in losslab.catalog()
                      if "hinge" in " ".join([e.name, *e.aliases, e.description]).lower())
    assert names == expected and {"hinge", "multiclass_hinge", "squared_hinge"} <= set(names)
    tab.page.select_option("#family", "binary")
    assert tab.page.locator("#catalog tbody tr:not([hidden])").count() == sum(
        e.family == "binary" for e in losslab.catalog() if e.name in expected)
    assert "q=hinge" in tab.page.url


def test_a_slider_moves_the_curve(tab, shots):
    tab.goto("/loss/huber")
    before = plotted(tab, "plot-value")
    assert before[-1] == pytest.approx(3.5)  # delta = 1 at r = 4: 1·(4 − 0.5)
    tab.page.locator("#param-delta").fill("3")
    tab.page.wait_for_function("() => document.getElementById('plot-value').data[0].y.at(-1) > 5")
    after = plotted(tab, "plot-value")
    assert after[-1] == pytest.approx(7.5)  # delta = 3: 3·(4 − 1.5)
    assert "p_delta=3" in tab.page.url
    tab.page.screenshot(path=str(shots / "huber_delta3.png"))
    tab.goto("/loss/huber?p_delta=3")  # the shared address reopens the same view
    tab.page.wait_for_function("() => document.getElementById('plot-value').data[0].y.at(-1) > 5")
    assert tab.errors == [] and tab.outside == []


def test_dragging_a_point_moves_mse_not_mae(tab, shots):
    # 30 points on y = 1 + 0.8x with a small deterministic wiggle; the last one will be dragged up
    xs = [0.5 + 0.3 * i for i in range(30)]
    pts = ";".join(f"{x:.2f},{1 + 0.8 * x + 0.3 * ((-1) ** i):.2f}" for i, x in enumerate(xs))
    tab.goto(f"/playground/regression?losses=mse|mae|quantile(q=0.9)|expr:abs(r)**1.5&pts={pts}")
    tab.page.wait_for_function("() => document.getElementById('slope-mae').textContent !== '–'")
    slope = {k: float(tab.page.text_content(f"#slope-{k}")) for k in ("mse", "mae")}
    assert slope["mse"] == pytest.approx(0.8, abs=0.05) and slope["mae"] == pytest.approx(0.8, abs=0.05)
    # a loss with parameters and a user formula refit beside them (row ids: the label, [^A-Za-z0-9_] → _)
    assert float(tab.page.text_content("#slope-quantile_q_0_9_")) == pytest.approx(0.8, abs=0.1)
    assert float(tab.page.text_content("#slope-expr_abs_r___1_5")) == pytest.approx(0.8, abs=0.05)
    # the last point's pixel position, from the plot's own layout (fixed axes: x 0..10, y −5..20)
    start = tab.page.evaluate("""() => {
        const gd = document.getElementById('plot'), s = gd._fullLayout._size, box = gd.getBoundingClientRect();
        const x = gd.data[0].x.at(-1), y = gd.data[0].y.at(-1);
        return [box.left + s.l + x / 10 * s.w, box.top + s.t + (20 - y) / 25 * s.h, box.top + s.t + 0.04 * s.h];
    }""")
    fits_before = int(tab.page.evaluate("() => document.body.dataset.fitted"))
    tab.page.mouse.move(start[0], start[1])
    tab.page.mouse.down()
    tab.page.mouse.move(start[0], start[2], steps=8)
    tab.page.mouse.up()
    tab.page.wait_for_function(f"() => +document.body.dataset.fitted > {fits_before}")
    tab.page.wait_for_load_state("networkidle")
    tab.page.wait_for_timeout(300)
    moved = {k: float(tab.page.text_content(f"#slope-{k}")) for k in ("mse", "mae")}
    tab.page.screenshot(path=str(shots / "regression_dragged.png"))
    # least squares: Δslope = Δy·(x_n − x̄)/Σ(x − x̄)² ≈ 10·4.35/202 ≈ 0.2; the median line barely moves
    assert moved["mse"] - slope["mse"] > 0.12, (slope, moved)
    assert abs(moved["mae"] - slope["mae"]) < 0.03, (slope, moved)
    assert "pts=" in tab.page.url and tab.errors == [] and tab.outside == []


@pytest.mark.parametrize("loss", ["cross_entropy", "hinge", "expr:(1 - p)**2"])
def test_training_lowers_the_loss_curve(tab, shots, loss):
    tab.goto(f"/playground/classification?loss={quote(loss)}&dataset=blobs&model=linear&lr=0.05")
    assert tab.page.input_value("#loss") == loss
    for k in range(1, 4):
        tab.page.click("#step")
        tab.page.wait_for_function(f"() => +document.getElementById('epoch').textContent >= {5 * k}")
    train = plotted(tab, "curves")
    assert len(train) == 15 and train[-1] < train[0], train
    assert tab.page.text_content("#diagnosis").strip()
    tab.page.screenshot(path=str(shots / f"classification_{re.sub(r'[^A-Za-z0-9]+', '_', loss).strip('_')}.png"))
    assert tab.errors == [] and tab.outside == []


def test_start_and_pause(tab):
    tab.goto("/playground/classification?dataset=moons&model=mlp&hidden=8")
    tab.page.click("#start")
    tab.page.wait_for_function("() => +document.getElementById('epoch').textContent >= 15", timeout=30000)
    tab.page.click("#start")  # pause
    tab.page.wait_for_load_state("networkidle")
    tab.page.wait_for_timeout(300)
    paused_at = tab.page.text_content("#epoch")
    tab.page.wait_for_timeout(500)
    assert tab.page.text_content("#epoch") == paused_at
    assert tab.errors == [] and tab.outside == []


def test_the_static_site_works_from_files(tab, shots, tmp_path):
    """`losslab docs` output opened as files: no server, no console errors, curves drawn."""
    from losslab.web import build_static_site

    build_static_site(tmp_path / "site")
    tab.page.goto((tmp_path / "site" / "index.html").as_uri())
    tab.page.click("a[href$=\"loss/huber.html\"]")
    tab.page.wait_for_function("() => document.getElementById('plot-value') && document.getElementById('plot-value').data")
    assert plotted(tab, "plot-value")[-1] == pytest.approx(3.5)
    assert tab.page.locator("#param-delta").is_disabled()
    tab.page.screenshot(path=str(shots / "static_huber.png"))
    assert tab.errors == [] and tab.outside == []


def test_choose_recommends_and_searches_an_uploaded_csv(tab, shots, tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 2))
    y = X @ [1.0, -2.0] + rng.standard_t(1.5, 150)  # heavy tails: recommend turns to a robust loss
    csv = tmp_path / "data.csv"
    csv.write_text("a,b,price\n" + "\n".join(f"{a:.4f},{b:.4f},{t:.4f}" for (a, b), t in zip(X, y)))
    tab.goto("/choose?metric=mae")
    tab.page.set_input_files("#csv", str(csv))
    tab.page.wait_for_function("() => !document.getElementById('recommend').disabled")
    assert tab.page.input_value("#target") == "price"
    tab.page.click("#recommend")
    tab.page.wait_for_selector("#advice table")
    first = tab.page.text_content("#advice tbody tr td:nth-child(2)")
    expected = losslab.recommend(y, X=X, metric="mae").ranking[0].label
    assert first.strip() == expected
    assert tab.page.input_value("#candidates")  # pre-filled from the advice
    tab.page.fill("#cv", "2")
    # Record each progress event the page's handler receives, and what the progress line says
    # (the browser may deliver several lines of the stream at once, and repaints only the last).
    tab.page.evaluate("""() => {
        window.events = []; window.shown = [];
        const stream = LL.postStream;
        LL.postStream = (path, body, onProgress) => stream(path, body, (done, total) => {
            onProgress(done, total);
            window.events.push([done, total]);
            window.shown.push(document.getElementById('progress').textContent);
        });
    }""")
    tab.page.click("#search")
    tab.page.wait_for_selector("#results table", timeout=60000)
    n_fits = 2 * len(tab.page.input_value("#candidates").split(";"))
    assert tab.page.evaluate("() => window.events") == [[k, n_fits] for k in range(1, n_fits + 1)]
    shown = tab.page.evaluate("() => window.shown")
    assert shown[0].startswith(f"cross-validating: 1/{n_fits} fits") and f"{n_fits}/{n_fits} fits" in shown[-1]
    assert tab.page.locator("#results tbody tr").count() >= 2
    assert "metric=mae" in tab.page.url and "target=price" in tab.page.url
    tab.page.screenshot(path=str(shots / "choose.png"), full_page=True)
    assert tab.errors == [] and tab.outside == []
