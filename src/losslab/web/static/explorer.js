/* Shared helpers of the explorer's pages: JSON calls, state in the URL, plot defaults. */
"use strict";
const LL = {
  /** POST JSON to the API; throws an Error whose message is the API's "field: reason". */
  async post(path, body) {
    const base = document.body.dataset.base || "/";
    const res = await fetch(base + path.replace(/^\//, ""), {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({error: `HTTP ${res.status}`}));
    if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
    return data;
  },
  /** POST JSON to a streaming endpoint that answers one JSON object per line: each
      {done, total} goes to onProgress; the {result} line is returned; an {error} line throws. */
  async postStream(path, body, onProgress) {
    const base = document.body.dataset.base || "/";
    const res = await fetch(base + path.replace(/^\//, ""), {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
    });
    if (!res.ok) {
      const data = await res.json().catch(() => ({error: `HTTP ${res.status}`}));
      throw new Error(data.error || `HTTP ${res.status}`);
    }
    const reader = res.body.getReader(), decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (value) buffer += decoder.decode(value, {stream: true});
      let end;
      while ((end = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, end).trim();
        buffer = buffer.slice(end + 1);
        if (!line) continue;
        const event = JSON.parse(line);
        if (event.error) throw new Error(event.error);
        if ("result" in event) return event.result;
        onProgress(event.done, event.total);
      }
      if (done) throw new Error("the server closed the answer before its result");
    }
  },
  /** The page's state from the query string, over the defaults (types follow the defaults). */
  readState(defaults) {
    const q = new URLSearchParams(location.search), out = {...defaults};
    for (const [k, v] of Object.entries(defaults)) {
      if (!q.has(k)) continue;
      const s = q.get(k);
      out[k] = typeof v === "number" ? (Number.isFinite(+s) ? +s : v) : typeof v === "boolean" ? s === "1" : s;
    }
    for (const [k, v] of q.entries()) if (!(k in out)) out[k] = v;
    return out;
  },
  /** Write the state into the query string (replaceState: sharing the address reopens the view). */
  writeState(state) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(state)) {
      if (v === null || v === undefined || v === "") continue;
      q.set(k, typeof v === "boolean" ? (v ? "1" : "0") : String(v));
    }
    history.replaceState(null, "", `${location.pathname}?${q.toString()}`);
  },
  status(text) { const el = document.getElementById("status"); if (el) el.textContent = text || ""; },
  layout(extra) {
    return Object.assign({margin: {l: 50, r: 15, t: 30, b: 45}, font: {size: 12},
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#fff", showlegend: true,
      legend: {orientation: "h", x: 1, xanchor: "right", y: 1, yanchor: "bottom", bgcolor: "rgba(255,255,255,0.6)"}},
      extra || {});
  },
  config: {displaylogo: false, responsive: true, displayModeBar: false},
  colors: ["#2364aa", "#d1495b", "#3a9d5d", "#edae49", "#7d4e9f", "#00798c"],
  /** "k=v, k=v" (numbers, True/False/None, quoted strings) as an object; throws naming the field. */
  parseParams(text, field = "params") {
    const params = {};
    for (const part of (text || "").split(",").map(p => p.trim()).filter(Boolean)) {
      const kv = /^([A-Za-z0-9_]+)\s*=\s*(.+)$/.exec(part);
      if (!kv) throw new Error(`${field}: cannot read ${JSON.stringify(part)}; write name=value, separated by commas`);
      const v = kv[2];
      params[kv[1]] = v === "True" || v === "true" ? true : v === "False" || v === "false" ? false
        : v === "None" ? null : Number.isFinite(+v) ? +v : v.replace(/^['"]|['"]$/g, "");
    }
    return params;
  },
  fmt(v, d = 4) { return v === null || v === undefined ? "–" : Number(v).toPrecision(d); },
};
