/* Regression playground: drag points, click to add outliers; each chosen loss refits live
   through POST /api/fit. Points and losses live in the URL. */
"use strict";
(() => {
  const MAX_LOSSES = 4;
  let X_RANGE = [0, 10], Y_RANGE = [-5, 20];
  const plot = document.getElementById("plot"), tbody = document.querySelector("#fits tbody");
  const picks = [...document.querySelectorAll(".loss-pick")], model = document.getElementById("model");
  const state = LL.readState({losses: "mse|mae", model: "linear", pts: ""});
  let points = [];
  function generate(seed) {
    // a seeded linear congruential generator: the same points on every load
    let s = seed >>> 0;
    const rand = () => ((s = (1664525 * s + 1013904223) >>> 0) / 4294967296);
    const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
    return Array.from({length: 30}, (_, i) => {
      const x = 0.5 + 9 * (i + rand()) / 30;
      return [+x.toFixed(3), +(1 + 0.8 * x + 0.8 * gauss()).toFixed(3)];
    });
  }
  points = state.pts ? state.pts.split(";").map(p => p.split(",").map(Number)).filter(p => p.length === 2 && p.every(Number.isFinite))
                     : generate(1);
  // a chosen loss is a label: a catalog name, "name(param=value, ...)" or "expr:FORMULA in r"
  const chosen = new Set(state.losses.split("|").filter(Boolean).slice(0, MAX_LOSSES));
  function request(label) {
    if (label.startsWith("expr:")) return {expression: label.slice(5)};
    const m = /^([A-Za-z0-9_]+)\s*(?:\((.*)\))?$/.exec(label);
    if (!m) throw new Error(`loss: cannot read ${JSON.stringify(label)}; write name, name(param=value) or expr:FORMULA`);
    return {loss: m[1], params: LL.parseParams(m[2])};
  }
  const rowId = label => label.replace(/[^A-Za-z0-9_]/g, "_");
  picks.forEach(p => { p.checked = chosen.has(p.value); });
  model.value = state.model === "mlp" ? "mlp" : "linear";
  const fits = {};

  function save() {
    LL.writeState({losses: [...chosen].join("|"), model: model.value,
                   pts: points.map(p => `${+p[0].toFixed(3)},${+p[1].toFixed(3)}`).join(";")});
  }
  function draw() {
    const traces = [{x: points.map(p => p[0]), y: points.map(p => p[1]), mode: "markers", name: "points",
                     marker: {size: 10, color: "#333", opacity: 0.75}}];
    [...chosen].forEach((name, i) => {
      const f = fits[name];
      if (f) traces.push({x: f.line.x, y: f.line.y, mode: "lines", name,
                          line: {color: LL.colors[i % LL.colors.length], width: 3}});
    });
    Plotly.react(plot, traces, LL.layout({dragmode: false, hovermode: false,
      xaxis: {range: X_RANGE, fixedrange: true, title: {text: "x"}},
      yaxis: {range: Y_RANGE, fixedrange: true, title: {text: "y"}}}), {...LL.config, staticPlot: false});
    tbody.innerHTML = "";
    [...chosen].forEach((name, i) => {
      const f = fits[name], tr = document.createElement("tr");
      const c = f && f.coefficients;
      const id = rowId(name), label = document.createElement("td");
      label.style.color = LL.colors[i % LL.colors.length];
      label.textContent = name;
      label.title = "click to remove";
      label.style.cursor = "pointer";
      label.addEventListener("click", () => {
        chosen.delete(name);
        picks.forEach(p => { if (p.value === name) p.checked = false; });
        save(); draw();
      });
      tr.innerHTML = `<td id="slope-${id}">${c ? c.slope.toFixed(4) : "–"}</td><td id="intercept-${id}">${c ? c.intercept.toFixed(4) : "–"}</td>` +
        `<td>${f ? f.estimates : ""}</td><td id="constant-${id}">${f ? LL.fmt(f.constant) : "–"}</td>` +
        `<td>${f ? f.time_ms.toFixed(1) + (f.stopped_by_time_limit ? " (time limit: not converged)" : "") : ""}</td>`;
      tr.prepend(label);
      tbody.appendChild(tr);
    });
  }
  let busy = false, dirty = false;
  async function refit() {
    if (busy) { dirty = true; return; }
    busy = true;
    const xs = points.map(p => p[0]), ys = points.map(p => p[1]);
    try {
      const answers = await Promise.all([...chosen].map(name =>
        LL.post("api/fit", {...request(name), x: xs, y: ys, model: model.value, predictions: false,
                            start: fits[name] && fits[name].coefficients && model.value === "linear" ? fits[name].coefficients : null})
          .then(r => [name, r])
          .catch(e => { throw new Error(`${name}: ${e.message}`); })));
      for (const [name, r] of answers) fits[name] = r;
      LL.status("");
      document.body.dataset.fitted = String(Number(document.body.dataset.fitted || 0) + 1);
    } catch (e) { LL.status(e.message); }
    busy = false;
    draw();
    if (dirty) { dirty = false; refit(); }
  }
  // pixel <-> data through the plot area Plotly laid out (axes are fixed, so the map is linear)
  function toData(ev) {
    const size = plot._fullLayout._size, box = plot.getBoundingClientRect();
    const px = ev.clientX - box.left - size.l, py = ev.clientY - box.top - size.t;
    return [X_RANGE[0] + px / size.w * (X_RANGE[1] - X_RANGE[0]), Y_RANGE[1] - py / size.h * (Y_RANGE[1] - Y_RANGE[0]),
            px >= 0 && py >= 0 && px <= size.w && py <= size.h];
  }
  function nearest(ev) {
    const size = plot._fullLayout._size, [x, y] = toData(ev);
    let best = -1, bestD = 12;  // pixels
    points.forEach((p, i) => {
      const dx = (p[0] - x) / (X_RANGE[1] - X_RANGE[0]) * size.w, dy = (p[1] - y) / (Y_RANGE[1] - Y_RANGE[0]) * size.h;
      const d = Math.hypot(dx, dy);
      if (d < bestD) { bestD = d; best = i; }
    });
    return best;
  }
  let dragging = -1;
  plot.addEventListener("mousedown", ev => {
    const [x, y, inside] = toData(ev);
    if (!inside) return;
    const i = nearest(ev);
    if (i >= 0 && ev.shiftKey) { points.splice(i, 1); draw(); refit(); save(); return; }
    if (i >= 0) { dragging = i; ev.preventDefault(); return; }
    if (points.length < 500) { points.push([+x.toFixed(3), +y.toFixed(3)]); draw(); refit(); save(); }
  });
  window.addEventListener("mousemove", ev => {
    if (dragging < 0) return;
    const [x, y] = toData(ev);
    points[dragging] = [Math.min(Math.max(x, X_RANGE[0]), X_RANGE[1]), Math.min(Math.max(y, Y_RANGE[0]), Y_RANGE[1])];
    draw(); refit();
  });
  window.addEventListener("mouseup", () => { if (dragging >= 0) { dragging = -1; save(); } });
  picks.forEach(p => p.addEventListener("change", () => {
    if (p.checked && chosen.size >= MAX_LOSSES) { p.checked = false; LL.status(`at most ${MAX_LOSSES} losses at once`); return; }
    p.checked ? chosen.add(p.value) : chosen.delete(p.value);
    save(); refit();
  }));
  model.addEventListener("change", () => { save(); refit(); });
  document.getElementById("add").addEventListener("click", () => {
    const label = document.getElementById("extra").value.trim();
    if (!label) return;
    if (chosen.size >= MAX_LOSSES) { LL.status(`at most ${MAX_LOSSES} losses at once; untick one first`); return; }
    try { request(label); } catch (e) { LL.status(e.message); return; }
    chosen.add(label);
    const pick = picks.find(p => p.value === label);
    if (pick) pick.checked = true;
    save(); refit();
  });
  document.getElementById("reset").addEventListener("click", () => {
    points = generate(Math.floor(Math.random() * 1e9)); save(); refit();
  });
  document.getElementById("csv").addEventListener("change", async ev => {
    const file = ev.target.files[0];
    if (!file) return;
    const rows = (await file.text()).trim().split(/\r?\n/).map(l => l.split(",").map(Number));
    const numeric = rows.filter(r => r.length >= 2 && Number.isFinite(r[0]) && Number.isFinite(r[1])).slice(0, 500);
    if (numeric.length < 2) { LL.status("csv: needs at least two rows of two numbers (x,y)"); return; }
    points = numeric.map(r => [r[0], r[1]]);
    const span = (vs) => { const lo = Math.min(...vs), hi = Math.max(...vs), pad = 0.1 * (hi - lo || 1); return [lo - pad, hi + pad]; };
    X_RANGE = span(points.map(p => p[0])); Y_RANGE = span(points.map(p => p[1]));
    save(); refit();
  });
  draw(); save(); refit();
})();
