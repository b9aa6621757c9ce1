/* The catalog: filter by words, family and trait; the filters live in the URL. */
"use strict";
(() => {
  const q = document.getElementById("q"), family = document.getElementById("family"),
        trait = document.getElementById("trait"), count = document.getElementById("count");
  const rows = [...document.querySelectorAll("#catalog tbody tr")];
  const state = LL.readState({q: "", family: "", trait: ""});
  q.value = state.q; family.value = state.family; trait.value = state.trait;
  function apply() {
    const words = q.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const r of rows) {
      const ok = words.every(w => r.dataset.text.includes(w)) && (!family.value || r.dataset.family === family.value)
        && (!trait.value || r.dataset.traits.split(" ").includes(trait.value));
      r.hidden = !ok; shown += ok;
    }
    count.textContent = `${shown} shown`;
    if (document.body.dataset.static !== "true") LL.writeState({q: q.value, family: family.value, trait: trait.value});
  }
  for (const el of [q, family, trait]) el.addEventListener("input", apply);
  const overlay = document.getElementById("overlay");
  if (overlay) {
    const picks = [...document.querySelectorAll("input.pick")];
    const update = () => { overlay.disabled = picks.filter(p => p.checked).length < 1; };
    picks.forEach(p => p.addEventListener("change", update));
    overlay.addEventListener("click", () => {
      const names = picks.filter(p => p.checked).map(p => p.value);
      location.href = `${document.body.dataset.base}loss/${names[0]}?overlay=${names.slice(1).join(",")}`;
    });
  }
  apply();
})();
