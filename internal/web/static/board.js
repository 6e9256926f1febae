// The board: drag a card to the next column (or use its "Move to" link) to
// open the transition dialog; any other drop is refused with the reason.
// The board refreshes itself when the server reports a change.
(() => {
  'use strict';
  const order = ['active', 'mitigated', 'resolved', 'closed'];
  const noteLabel = { mitigated: 'Mitigation: how was the impact reduced?', resolved: 'Fix: how was the direct cause fixed?', closed: 'Root-cause improvement: what prevents it next time?' };

  function toast(msg, error) {
    const el = document.createElement('p');
    el.className = 'toast' + (error ? ' error' : '');
    el.setAttribute('role', error ? 'alert' : 'status');
    el.textContent = msg;
    document.body.appendChild(el);
    setTimeout(() => el.remove(), 6000);
  }

  function refusal(card, to) {
    const from = card.dataset.phase;
    const next = order[order.indexOf(from) + 1];
    if (to === from) return null;
    if (to === next) return '';
    if (to === 'active') return `#${card.dataset.number} can be reopened from its page, with a reason.`;
    return next ? `#${card.dataset.number} is ${from}: phases cannot be skipped; the next phase is ${next}.`
      : `#${card.dataset.number} is closed; reopen it from its page.`;
  }

  let current = null;
  function openDialog(card, to) {
    const dlg = document.getElementById('transition');
    if (!dlg) return;
    current = { number: card.dataset.number, to };
    const title = card.querySelector('.card-title').textContent;
    document.getElementById('transition-title').textContent = `Move to ${to}`;
    document.getElementById('transition-what').textContent = title;
    document.getElementById('transition-note-label').textContent = noteLabel[to] || 'Note';
    document.getElementById('transition-note').value = '';
    const needsImprovement = to === 'closed' && ['customer', 'team'].includes(card.dataset.source);
    document.getElementById('transition-improvement-row').hidden = !needsImprovement;
    document.getElementById('transition-improvement').required = needsImprovement;
    document.getElementById('transition-override-row').hidden = true;
    document.getElementById('transition-override').checked = false;
    document.getElementById('transition-error').hidden = true;
    dlg.showModal();
    document.getElementById('transition-note').focus();
  }

  async function submit(ev) {
    ev.preventDefault();
    if (!current) return;
    const body = {
      to: current.to,
      note: document.getElementById('transition-note').value,
      override: document.getElementById('transition-override').checked,
      detection_improvement: document.getElementById('transition-improvement').value,
    };
    const res = await fetch(`/api/v1/incidents/${current.number}/transitions`, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': window.quench.csrf() },
      body: JSON.stringify(body),
    });
    if (res.ok) {
      document.getElementById('transition').close();
      toast(`#${current.number} moved to ${current.to}.`);
      refresh();
      return;
    }
    let msg = `The move failed (${res.status}).`;
    try {
      const e = (await res.json()).error;
      msg = e.message;
      if (e.code === 'checklist_open') {
        document.getElementById('transition-open-items').textContent = 'Open items: ' + (e.open_items || []).join('; ');
        document.getElementById('transition-override-row').hidden = false;
      }
      if (e.code === 'detection_improvement_required') {
        document.getElementById('transition-improvement-row').hidden = false;
        document.getElementById('transition-improvement').required = true;
      }
    } catch (_) { /* keep the generic message */ }
    const err = document.getElementById('transition-error');
    err.textContent = msg;
    err.hidden = false;
  }

  function wire(root) {
    for (const card of root.querySelectorAll('.card[draggable="true"]')) {
      card.addEventListener('dragstart', (e) => {
        e.dataTransfer.setData('text/plain', card.dataset.number);
        e.dataTransfer.effectAllowed = 'move';
        card.classList.add('dragging');
      });
      card.addEventListener('dragend', () => card.classList.remove('dragging'));
    }
    for (const link of root.querySelectorAll('.card .move')) {
      link.addEventListener('click', (e) => {
        e.preventDefault();
        openDialog(link.closest('.card'), link.dataset.to);
      });
    }
    for (const col of root.querySelectorAll('.column')) {
      col.addEventListener('dragover', (e) => {
        const card = root.querySelector('.card.dragging');
        if (!card) return;
        e.preventDefault();
        const r = refusal(card, col.dataset.phase);
        col.classList.toggle('drop-ok', r === '');
        col.classList.toggle('drop-refused', !!r);
      });
      col.addEventListener('dragleave', () => col.classList.remove('drop-ok', 'drop-refused'));
      col.addEventListener('drop', (e) => {
        e.preventDefault();
        col.classList.remove('drop-ok', 'drop-refused');
        const card = root.querySelector(`.card[data-number="${CSS.escape(e.dataTransfer.getData('text/plain'))}"]`);
        if (!card) return;
        const r = refusal(card, col.dataset.phase);
        if (r === null) return;
        if (r) { toast(r, true); return; }
        openDialog(card, col.dataset.phase);
      });
    }
    window.quench.localTimes(root);
  }

  let refreshing = false;
  async function refresh() {
    if (refreshing || document.getElementById('transition')?.open) return;
    refreshing = true;
    try {
      const res = await fetch(location.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
      if (!res.ok) return;
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      const fresh = doc.getElementById('board');
      const board = document.getElementById('board');
      // The first-run checklist ticks along; it goes once every step has.
      const setup = document.getElementById('setup');
      const freshSetup = doc.getElementById('setup');
      if (setup && freshSetup) setup.replaceWith(freshSetup);
      else if (setup) setup.remove();
      // The inbox count too: after a resync its own events may have been
      // missed.
      const count = document.getElementById('inbox-count');
      const freshCount = doc.getElementById('inbox-count');
      if (count && freshCount) count.replaceWith(freshCount);
      if (fresh && board) {
        board.replaceWith(fresh);
        wire(fresh);
        document.getElementById('board-status').textContent = 'Board updated.';
      }
    } finally {
      refreshing = false;
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    wire(document);
    const form = document.getElementById('transition-form');
    if (form) {
      form.addEventListener('submit', submit);
      document.getElementById('transition-cancel').addEventListener('click', () => document.getElementById('transition').close());
    }
    if (window.EventSource) {
      const es = new EventSource('/events');
      es.addEventListener('change', () => refresh());
      // Tells tests (and the curious) that live updates flow.
      es.addEventListener('open', () => { document.documentElement.dataset.live = 'on'; });
      // Alerts reached or left the inbox: the header's count follows,
      // without fetching the board.
      es.addEventListener('inbox', (e) => {
        const a = document.getElementById('inbox-count');
        if (!a) return;
        try {
          const n = Number(JSON.parse(e.data).waiting);
          if (!Number.isFinite(n)) return;
          a.textContent = `${n} waiting in the inbox`;
          a.classList.toggle('waiting', n > 0);
        } catch (_) { /* ignore malformed events */ }
      });
    }
  });
})();
