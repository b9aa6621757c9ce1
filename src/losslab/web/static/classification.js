/* Classification playground: a data set, a loss and a model; Start trains chunk by chunk
   (POST /api/train with the weights and curves the page holds), drawing the decision
   regions, the train and validation loss and the diagnosis. Settings live in the URL. */
"use strict";
(() => {
  const $ = id => document.getElementById(id);
  const fields = ["dataset", "classes", "n", "noise", "loss", "formula", "params", "model", "hidden", "activation",
                  "optimizer", "lr", "penalty", "lam", "batch"];
  const defaults = {dataset: "blobs", classes: 2, n: 200, noise: 0.1, loss: "cross_entropy", formula: "", params: "",
                    balanced: false, model: "linear",
                    hidden: "8,8", activation: "tanh", optimizer: "sgd", lr: 0.1, penalty: "none", lam: 0.001,
                    batch: 32, seed: 0, steps: 5};
  const state = LL.readState(defaults);
  for (const f of fields) if ($(f)) $(f).value = state[f];
  $("balanced").checked = state.balanced;
  const showFormula = () => { $("formula-label").hidden = $("loss").value !== "expr"; };
  showFormula();
  let data = null, weights = null, optimizerState = null, history = null, running = false, busy = false;

  function settings() {
    const s = {seed: state.seed, steps: state.steps, balanced: $("balanced").checked};
    for (const f of fields) s[f] = $(f).value;
    return s;
  }
  function save() { LL.writeState(settings()); }
  function resetRun() {
    weights = null; optimizerState = null;
    history = {train_loss: [], val_loss: [], accuracy: [], val_accuracy: [], initial_loss: []};
    $("epoch").textContent = "0"; $("train-loss").textContent = "–"; $("accuracy").textContent = "–";
    $("diagnosis").textContent = "";
    drawCurves();
  }
  async function loadData() {
    if ($("dataset").value === "csv") return;
    try {
      data = await LL.post("api/dataset", {name: $("dataset").value, n: +$("n").value, classes: +$("classes").value,
                                           noise: +$("noise").value, seed: state.seed});
      LL.status("");
    } catch (e) { LL.status(e.message); return; }
    resetRun(); drawData(null);
  }
  function drawData(grid) {
    const k = Math.max(...data.y) + 1, traces = [];
    if (grid) {
      const cs = k === 1 ? [[0, LL.colors[0]], [1, LL.colors[0]]] :
        Array.from({length: k}, (_, i) => [i / (k - 1), LL.colors[i % LL.colors.length]]);
      traces.push({type: "heatmap", x: grid.x, y: grid.y, z: grid.z, zmin: 0, zmax: k - 1, colorscale: cs,
                   opacity: 0.25, showscale: false, hoverinfo: "skip", name: "regions"});
    }
    for (let c = 0; c < k; c++) {
      const idx = data.y.map((v, i) => v === c ? i : -1).filter(i => i >= 0);
      traces.push({x: idx.map(i => data.x[i][0]), y: idx.map(i => data.x[i][1]), mode: "markers", name: `class ${c}`,
                   type: "scatter", marker: {size: 6, color: LL.colors[c % LL.colors.length], line: {width: 0.5, color: "#fff"}}});
    }
    Plotly.react("plot", traces, LL.layout({xaxis: {title: {text: "x₁"}}, yaxis: {title: {text: "x₂"}, scaleanchor: "x"}}),
                 LL.config);
  }
  function drawCurves() {
    const h = history || {train_loss: [], val_loss: []};
    const ep = arr => arr.map((_, i) => i + 1);
    Plotly.react("curves", [
      {x: ep(h.train_loss), y: h.train_loss, name: "train loss", mode: "lines", line: {color: LL.colors[0]}},
      {x: ep(h.val_loss), y: h.val_loss, name: "validation loss", mode: "lines", line: {color: LL.colors[1]}},
    ], LL.layout({xaxis: {title: {text: "epoch"}}, yaxis: {title: {text: "loss"}, rangemode: "tozero"}}), LL.config);
  }
  async function step() {
    if (busy || !data) return;
    busy = true;
    const s = settings();
    const hidden = s.hidden.split(",").map(v => parseInt(v, 10)).filter(Number.isFinite);
    const batch = parseInt(s.batch, 10);
    try {
      const params = LL.parseParams(s.params);
      if (s.balanced) {
        // scikit-learn's "balanced": n / (C · count of each class)
        const k = Math.max(...data.y) + 1, counts = Array(k).fill(0);
        data.y.forEach(c => { counts[c] += 1; });
        params.class_weight = counts.map(c => data.y.length / (k * Math.max(c, 1)));
      }
      const expression = s.loss === "expr" ? s.formula : s.loss.startsWith("expr:") ? s.loss.slice(5) : null;
      const r = await LL.post("api/train", {
        loss: expression ? "cross_entropy" : s.loss, expression, params, x: data.x, y: data.y, model: s.model, hidden, activation: s.activation, optimizer: s.optimizer,
        lr: +s.lr, penalty: s.penalty, lam: +s.lam, batch_size: Number.isFinite(batch) ? Math.min(batch, data.x.length) : null,
        steps: state.steps, weights, history, seed: state.seed, grid: 60,
        // the moments continue the run, unless the optimiser was switched part-way
        optimizer_state: optimizerState && optimizerState.optimizer === s.optimizer ? optimizerState : null});
      weights = r.weights; optimizerState = r.optimizer_state;
      for (const k of ["train_loss", "val_loss", "accuracy", "val_accuracy"]) history[k] = history[k].concat(r.chunk[k]);
      if (!history.initial_loss.length && r.initial_loss !== null) history.initial_loss = [r.initial_loss];
      $("epoch").textContent = String(history.train_loss.length);
      $("train-loss").textContent = LL.fmt(history.train_loss[history.train_loss.length - 1]);
      $("accuracy").textContent = (100 * r.accuracy).toFixed(1) + "%";
      const d = r.diagnosis;
      $("diagnosis").innerHTML = d ? `<b>${d.kind}</b>${d.epoch !== null ? ` (epoch ${d.epoch})` : ""}: ${escape(d.evidence)}` +
        (d.advice ? `<br><i>Advice:</i> ${escape(d.advice)}` : "") : "";
      drawData(r.grid); drawCurves();
      LL.status(r.diverged ? "training diverged: lower the learning rate" : "");
      if (r.diverged) stop();
    } catch (e) { LL.status(e.message); stop(); }
    busy = false;
  }
  function escape(t) { const d = document.createElement("div"); d.textContent = t; return d.innerHTML; }
  async function loop() { while (running) { await step(); await new Promise(r => setTimeout(r, 30)); } }
  function stop() { running = false; $("start").textContent = "Start"; }
  $("start").addEventListener("click", () => {
    if (running) { stop(); return; }
    running = true; $("start").textContent = "Pause"; loop();
  });
  $("step").addEventListener("click", () => { if (!running) step(); });
  $("reset").addEventListener("click", () => { stop(); resetRun(); drawData(null); });
  for (const f of ["dataset", "classes", "n", "noise"]) $(f).addEventListener("change", () => { stop(); save(); loadData(); });
  for (const f of ["loss", "formula", "params", "balanced", "model", "hidden", "activation", "optimizer", "lr", "penalty",
                   "lam", "batch"])
    $(f).addEventListener("change", () => {
      save(); showFormula();
      if (["loss", "formula", "params", "balanced", "model", "hidden"].includes(f)) { stop(); resetRun(); drawData(null); }
    });
  $("csv").addEventListener("change", async ev => {
    const file = ev.target.files[0];
    if (!file) return;
    const lines = (await file.text()).trim().split(/\r?\n/).map(l => l.split(","));
    const rows = lines.filter(r => r.length >= 3 && Number.isFinite(+r[0]) && Number.isFinite(+r[1])).slice(0, 2000);
    const labels = [...new Set(rows.map(r => r[r.length - 1].trim()))].sort();
    if (rows.length < 4 || labels.length < 2 || labels.length > 10) {
      LL.status("csv: needs rows x1,x2,label with 2 to 10 labels"); return;
    }
    data = {x: rows.map(r => [+r[0], +r[1]]), y: rows.map(r => labels.indexOf(r[r.length - 1].trim()))};
    $("dataset").value = "csv"; stop(); resetRun(); drawData(null); LL.status("");
  });
  save(); resetRun(); loadData();
})();
