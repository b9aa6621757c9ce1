"""The explorer: a local web app to see any loss, drag the data and watch the model follow.

``losslab serve`` runs :func:`create_app` under uvicorn on 127.0.0.1; ``losslab docs --out
DIR`` writes the catalog and a page per loss as a static site (:func:`build_static_site`).
Needs the web extra: ``pip install 'losslab[web]'`` (FastAPI, uvicorn, Jinja2, latex2mathml).
Plotly.js ships inside the package (static/), so the pages work with the network off.
"""

from __future__ import annotations

__all__ = ["create_app", "build_static_site", "serve"]


def create_app():  # noqa: ANN201 - FastAPI is imported on demand
    """The FastAPI application (pages and the JSON API under /api)."""
    from .app import create_app as make

    return make()


def build_static_site(out):  # noqa: ANN001, ANN201
    """Write the catalog and every loss page under ``out``; return the files written."""
    from .site import build_static_site as build

    return build(out)


def serve(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False) -> None:
    """Run the explorer under uvicorn until interrupted; ``open_browser`` opens the address."""
    import threading
    import webbrowser

    import uvicorn

    from .compute import warm_up

    warm_up()  # the first refit would otherwise pay for imports and first allocations while a user drags
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    print(f"losslab explorer at {url}  (Ctrl+C stops it)", flush=True)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(create_app(), host=host, port=port, log_level="warning")
