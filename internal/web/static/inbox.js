// The inbox's bulk selection: a group's "select all" box and a count of
// the alerts selected; and the live count of alerts waiting. The forms
// work without this script.
(() => {
  'use strict';
  function update(form) {
    const n = form.querySelectorAll('input[name="alert"]:checked').length;
    const out = document.getElementById('selected');
    if (out) out.textContent = n === 0 ? 'No alerts selected.' : n === 1 ? '1 alert selected.' : n + ' alerts selected.';
    for (const g of form.querySelectorAll('.alert-group')) {
      const boxes = g.querySelectorAll('input[name="alert"]');
      const on = g.querySelectorAll('input[name="alert"]:checked').length;
      const all = g.querySelector('.select-group-box');
      if (!all) continue;
      all.checked = boxes.length > 0 && on === boxes.length;
      all.indeterminate = on > 0 && on < boxes.length;
    }
  }
  document.addEventListener('DOMContentLoaded', () => {
    const form = document.getElementById('inbox');
    if (!form) return;
    form.addEventListener('change', (e) => {
      const t = e.target;
      if (t.classList.contains('select-group-box')) {
        for (const b of t.closest('.alert-group').querySelectorAll('input[name="alert"]')) b.checked = t.checked;
      }
      update(form);
    });
    update(form);
  });
  // The count of alerts waiting follows the inbox live (the list itself
  // is not reloaded under the reader's selection).
  if (window.EventSource) {
    const es = new EventSource('/events');
    es.addEventListener('open', () => { document.documentElement.dataset.live = 'on'; });
    es.addEventListener('inbox', (e) => {
      const out = document.getElementById('waiting');
      if (!out) return;
      try {
        const n = Number(JSON.parse(e.data).waiting);
        if (!Number.isFinite(n)) return;
        out.textContent = `${n} firing ${n === 1 ? 'alert waits' : 'alerts wait'} in the inbox`;
      } catch (_) { /* ignore malformed events */ }
    });
  }
})();
