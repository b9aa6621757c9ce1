/* Choose: read a CSV in the browser, ask POST /api/recommend for advice and POST /api/search
   for cross-validated scores. The target, metric and candidates live in the URL. */
"use strict";
(() => {
  const $ = id => document.getElementById(id);
  const state = LL.readState({target: "", metric: "", candidates: "", cv: 3});
  $("metric").value = state.metric; $("candidates").value = state.candidates; $("cv").value = state.cv;
  let text = null;
  function save() {
    LL.writeState({target: $("target").value, metric: $("metric").value, candidates: $("candidates").value, cv: $("cv").value});
  }
  /** "name" or "name(param=value, ...)" with numbers, True/False/None or quoted strings. */
  function parseSpec(text) {
    const m = /^([A-Za-z0-9_]+)\s*(?:\((.*)\))?$/.exec(text);
    if (!m) throw new Error(`candidates: cannot read ${JSON.stringify(text)}; write name or name(param=value, ...), separated by ;`);
    return {name: m[1], params: LL.parseParams(m[2], "candidates")};
  }
  function escape(t) { const d = document.createElement("div"); d.textContent = String(t); return d.innerHTML; }
  $("csv").addEventListener("change", async ev => {
    const file = ev.target.files[0];
    if (!file) return;
    if (file.size > 1e6) { LL.status("csv: files up to 1 MB here; use `losslab recommend` for larger ones"); return; }
    text = await file.text();
    const header = text.split(/\r?\n/, 1)[0].split(",").map(h => h.trim());
    $("target").innerHTML = header.map(h => `<option>${escape(h)}</option>`).join("");
    $("target").value = header.includes(state.target) ? state.target : header[header.length - 1];
    $("recommend").disabled = $("search").disabled = false;
    LL.status("");
  });
  async function timed(label, fn) {
    const t0 = performance.now();
    const tick = setInterval(() => { $("progress").textContent = `${label}… ${((performance.now() - t0) / 1000).toFixed(0)} s`; }, 250);
    try { return await fn(); } finally { clearInterval(tick); $("progress").textContent = ""; }
  }
  $("recommend").addEventListener("click", async () => {
    save();
    try {
      const r = await timed("recommending", () => LL.post("api/recommend", {csv: text, target: $("target").value,
                                                                          metric: $("metric").value || null}));
      const rows = r.ranking.map((s, i) => `<tr><td>${i + 1}</td><td><code>${escape(s.label)}</code></td><td>${escape((s.reasons || []).join(" "))}</td></tr>`);
      $("advice").innerHTML = `<h2>Advice (${escape(r.task)})</h2><table><thead><tr><th>#</th><th>loss</th><th>why</th></tr></thead>` +
        `<tbody>${rows.join("")}</tbody></table><ul>${r.notes.map(n => `<li>${escape(n)}</li>`).join("")}</ul>`;
      if (!$("candidates").value) $("candidates").value = r.ranking.slice(0, 3).map(s => s.label).join("; ");
      LL.status(""); save();
    } catch (e) { LL.status(e.message); }
  });
  $("search").addEventListener("click", async () => {
    save();
    let losses = null;
    try {
      const specs = $("candidates").value.split(";").map(s => s.trim()).filter(Boolean);
      losses = specs.length ? specs.map(parseSpec) : null;
    } catch (e) { LL.status(e.message); return; }
    try {
      const t0 = performance.now();
      $("fits").hidden = false; $("fits").removeAttribute("value");
      $("progress").textContent = "cross-validating… starting";
      const r = await LL.postStream("api/search/stream", {csv: text, target: $("target").value,
        metric: $("metric").value || null, losses, cv: +$("cv").value}, (done, total) => {
          const elapsed = (performance.now() - t0) / 1000;
          $("fits").max = total; $("fits").value = done;
          $("progress").textContent = `cross-validating: ${done}/${total} fits, ${elapsed.toFixed(0)} s` +
            (done < total ? `, about ${(elapsed / done * (total - done)).toFixed(0)} s left` : "");
        }).finally(() => { $("fits").hidden = true; $("progress").textContent = ""; });
      const rows = r.table.map(t => `<tr><td>${t.rank}</td><td><code>${escape(t.label)}</code></td><td>${LL.fmt(t.mean)}</td>` +
        `<td>[${LL.fmt(t.ci_low)}, ${LL.fmt(t.ci_high)}]</td></tr>`);
      $("results").innerHTML = `<h2>Search: ${escape(r.metric)} (${r.greater_is_better ? "higher" : "lower"} is better), ${r.cv} folds</h2>` +
        `<table><thead><tr><th>rank</th><th>loss</th><th>mean</th><th>95% interval</th></tr></thead><tbody>${rows.join("")}</tbody></table>` +
        `<p class="muted">${r.time_s.toFixed(1)} s on the server.</p>`;
      LL.status("");
    } catch (e) { LL.status(e.message); }
  });
})();
