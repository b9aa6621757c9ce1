/* A loss's page: value, gradient and Hessian along its natural axis; a slider per parameter
   refetches the curves (POST /api/curve); other losses can be overlaid. State in the URL. */
"use strict";
(() => {
  const first = JSON.parse(document.getElementById("curve-data").textContent);
  const row = JSON.parse(document.getElementById("loss-data").textContent);
  if (!first) return;
  const isStatic = document.body.dataset.static === "true";
  const controls = [...document.querySelectorAll(".param")];
  const overlays = [];
  const curves = {[row.name]: first};
  const names = {value: "value ℓ", gradient: "first derivative dℓ/dx", hessian: "second derivative d²ℓ/dx²"};

  function params() {
    const out = {};
    for (const el of controls) {
      const name = el.dataset.param, kind = el.dataset.kind;
      if (kind === "number") {
        const on = document.querySelector(`.param-on[data-param="${name}"]`);
        if (on && !on.checked) continue;
        out[name] = parseFloat(el.value);
        document.getElementById(`out-${name}`).textContent = el.value;
      } else if (kind === "bool") out[name] = el.checked;
      else out[name] = el.value;
    }
    return out;
  }
  function draw() {
    for (const key of ["value", "gradient", "hessian"]) {
      const traces = Object.entries(curves).filter(([, c]) => c && c[key]).map(([name, c], i) => ({
        x: c.x, y: c[key], name, mode: "lines", line: {color: LL.colors[i % LL.colors.length], width: 2},
      }));
      Plotly.react(`plot-${key}`, traces, LL.layout({title: {text: names[key], font: {size: 13}, x: 0.02},
        xaxis: {title: {text: curves[row.name].axis}}, showlegend: traces.length > 1}), LL.config);
    }
  }
  function save() {
    const p = params(), state = {};
    for (const [k, v] of Object.entries(p)) state[`p_${k}`] = typeof v === "boolean" ? (v ? "1" : "0") : v;
    if (overlays.length) state.overlay = overlays.join(",");
    LL.writeState(state);
  }
  let pending = false, busy = false;
  async function refresh() {
    if (busy) { pending = true; return; }
    busy = true;
    try {
      curves[row.name] = await LL.post("api/curve", {loss: row.name, params: params(), n: 201});
      LL.status("");
      draw(); save();
    } catch (e) { LL.status(e.message); }
    busy = false;
    if (pending) { pending = false; refresh(); }
  }
  async function addOverlay(name) {
    if (!name || overlays.includes(name) || name === row.name) return;
    try {
      const c = await LL.post("api/curve", {loss: name, n: 201});
      if (c.axis_kind !== curves[row.name].axis_kind) {
        LL.status(`${name} lives on another axis (${c.axis}); overlays share ${curves[row.name].axis}`); return;
      }
      curves[name] = c;
      overlays.push(name);
      document.getElementById("overlay-list").textContent = overlays.join(", ");
      draw(); save();
    } catch (e) { LL.status(`${name}: ${e.message}`); }
  }
  if (!isStatic) {
    // restore the shared state: p_NAME=value, overlay=a,b
    const q = new URLSearchParams(location.search);
    let changed = false;
    for (const el of controls) {
      const v = q.get(`p_${el.dataset.param}`);
      if (v === null) continue;
      changed = true;
      if (el.dataset.kind === "bool") el.checked = v === "1";
      else el.value = v;
      const on = document.querySelector(`.param-on[data-param="${el.dataset.param}"]`);
      if (on) { on.checked = true; el.disabled = false; }
    }
    for (const el of controls) el.addEventListener("input", refresh);
    for (const on of document.querySelectorAll(".param-on")) on.addEventListener("change", () => {
      document.getElementById(`param-${on.dataset.param}`).disabled = !on.checked; refresh();
    });
    const add = document.getElementById("overlay-add");
    add.addEventListener("change", () => { addOverlay(add.value); add.value = ""; });
    draw();
    if (changed) refresh();
    for (const name of (q.get("overlay") || "").split(",").filter(Boolean)) addOverlay(name);
  } else draw();
})();
