/* Landscape: the mean loss over (w, b) as contours, and the optimiser's path from a start
   point (click the map to move it); POST /api/landscape. Settings live in the URL. */
"use strict";
(() => {
  const $ = id => document.getElementById(id);
  const fields = ["task", "loss", "model", "optimizer", "lr", "steps"];
  const state = LL.readState({task: "regression", loss: "mse", model: "linear", optimizer: "gd", lr: 0.1, steps: 50,
                              w0: -3, b0: 3});
  for (const f of fields) $(f).value = state[f];
  function filterLosses() {
    const want = $("task").value === "regression" ? "regression" : "binary";
    let firstOk = null;
    for (const o of $("loss").options) { o.hidden = o.dataset.family !== want; if (!o.hidden && !firstOk) firstOk = o.value; }
    if ($("loss").selectedOptions[0].hidden) $("loss").value = firstOk;
  }
  let busy = false, again = false;
  async function run() {
    if (busy) { again = true; return; }
    busy = true;
    for (const f of fields) state[f] = $(f).value;
    LL.writeState(state);
    try {
      const r = await LL.post("api/landscape", {loss: state.loss, task: state.task, model: state.model,
        optimizer: state.optimizer, lr: +state.lr, steps: +state.steps, start: [+state.w0, +state.b0]});
      const px = r.path.map(p => p[0]), py = r.path.map(p => p[1]);
      Plotly.react("plot", [
        {type: "contour", x: r.w, y: r.b, z: r.z, colorscale: "Viridis", ncontours: 30, name: "mean loss",
         contours: {coloring: "heatmap"}, colorbar: {title: {text: "loss"}}},
        {x: px, y: py, mode: "lines+markers", name: `${r.loss} path (${state.optimizer})`,
         line: {color: "#fff", width: 2}, marker: {size: 4, color: "#d1495b"}},
        {x: [px[0]], y: [py[0]], mode: "markers", name: "start", marker: {size: 11, color: "#edae49", symbol: "x"}},
      ], LL.layout({xaxis: {title: {text: r.names[0]}, fixedrange: true}, yaxis: {title: {text: r.names[1]}, fixedrange: true},
                    dragmode: false}), LL.config);
      const last = r.path_values[r.path_values.length - 1];
      $("summary").textContent = `${r.path.length - 1} steps: loss ${LL.fmt(r.path_values[0])} → ${LL.fmt(last)}` +
        (r.model === "mlp" ? "; the plane passes through the final weights (0, 0)."
                           : `; ends at w = ${LL.fmt(px[px.length - 1])}, b = ${LL.fmt(py[py.length - 1])}.`);
      LL.status("");
    } catch (e) { LL.status(e.message); }
    busy = false;
    if (again) { again = false; run(); }
  }
  const plot = $("plot");
  plot.addEventListener("click", ev => {
    if (!plot._fullLayout || state.model === "mlp") return;
    const size = plot._fullLayout._size, box = plot.getBoundingClientRect();
    const xa = plot._fullLayout.xaxis, ya = plot._fullLayout.yaxis;
    const w = xa.p2l(ev.clientX - box.left - size.l), b = ya.p2l(ev.clientY - box.top - size.t);
    if (Math.abs(w) <= 4 && Math.abs(b) <= 4) { state.w0 = +w.toFixed(2); state.b0 = +b.toFixed(2); run(); }
  });
  $("task").addEventListener("change", () => { filterLosses(); run(); });
  for (const f of ["loss", "model", "optimizer", "lr", "steps"]) $(f).addEventListener("change", run);
  filterLosses(); run();
})();
