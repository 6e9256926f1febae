// The incident page: refresh what others change (without touching forms
// someone is typing in), and upload screenshots by drag-and-drop or paste.
(() => {
  'use strict';
  const article = document.querySelector('article.incident');
  if (!article) return;
  const number = article.dataset.number;

  // A form is dirty when a typed field differs from what the page loaded with.
  function dirty() {
    for (const el of document.querySelectorAll('#live textarea, #live input[type="text"], #live input[type="url"], #live input:not([type])')) {
      if (el.value !== el.defaultValue) return true;
    }
    // An owner picker or the move form someone opened stays as it is.
    if (document.querySelector('#live details.owner-edit[open], #live details.add-link[open], #live details.edit-details[open]')) return true;
    const file = document.getElementById('f-file');
    return !!(file && file.files && file.files.length);
  }

  function stale() {
    if (document.querySelector('.stale')) return;
    const p = document.createElement('p');
    p.className = 'stale';
    p.setAttribute('role', 'status');
    p.append('This incident has changed. ');
    const a = document.createElement('a');
    a.href = location.pathname;
    a.textContent = 'Reload';
    p.append(a);
    document.getElementById('main').prepend(p);
  }

  let refreshing = false;
  async function refresh() {
    if (dirty()) { stale(); return; }
    if (refreshing) return;
    refreshing = true;
    try {
      const res = await fetch(location.pathname + location.search, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
      if (!res.ok) { stale(); return; }
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      const fresh = doc.getElementById('live');
      if (fresh) {
        document.getElementById('live').replaceWith(fresh);
        window.quench.localTimes(fresh);
      }
      // The header too: title, phase, severity, owner, end state.
      const head = doc.querySelector('header.inc-head');
      const shown = document.querySelector('header.inc-head');
      if (head && shown) {
        shown.replaceWith(head);
        window.quench.localTimes(head);
        wireShortcuts(head);
        document.title = doc.title;
      }
    } finally {
      refreshing = false;
    }
  }

  async function upload(file) {
    const status = document.getElementById('upload-status');
    const vis = document.querySelector('#upload input[name="visibility"]:checked');
    const body = new FormData();
    body.append('visibility', vis ? vis.value : 'internal');
    body.append('file', file, file.name || 'pasted.png');
    if (status) status.textContent = `Uploading ${file.name || 'image'}…`;
    const res = await fetch(`/api/v1/incidents/${number}/attachments`, {
      method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': window.quench.csrf() }, body,
    });
    if (res.ok) {
      if (status) status.textContent = 'Uploaded.';
      refresh();
      return;
    }
    let msg = `Upload failed (${res.status}).`;
    try { msg = (await res.json()).error.message; } catch (_) { /* keep */ }
    if (status) status.textContent = msg;
  }


  if (document.getElementById('upload')) {
    document.addEventListener('dragover', (e) => {
      if (e.dataTransfer && [...e.dataTransfer.types].includes('Files')) {
        e.preventDefault();
        document.body.classList.add('dropping');
      }
    });
    document.addEventListener('dragleave', (e) => { if (!e.relatedTarget) document.body.classList.remove('dropping'); });
    document.addEventListener('drop', (e) => {
      if (!e.dataTransfer || !e.dataTransfer.files.length) return;
      e.preventDefault();
      document.body.classList.remove('dropping');
      for (const f of e.dataTransfer.files) upload(f);
    });
    document.addEventListener('paste', (e) => {
      const files = [...(e.clipboardData?.files || [])].filter((f) => f.type.startsWith('image/'));
      if (!files.length) return;
      e.preventDefault();
      for (const f of files) upload(f);
    });
  }

  // Keyboard: u writes an update, m opens "move to the next phase", ?
  // lists the shortcuts. Keys typed into a field are the field's.
  const dialog = document.getElementById('shortcuts');
  function typing(el) {
    return el && (el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName));
  }
  function showShortcuts() {
    if (dialog && !dialog.open) dialog.showModal();
  }
  function wireShortcuts(root) {
    for (const b of root.querySelectorAll('.shortcuts-open')) {
      b.hidden = false;
      b.addEventListener('click', showShortcuts);
    }
  }
  wireShortcuts(document);
  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (dialog && dialog.open) return;
    if (e.key === 'u') {
      const body = document.getElementById('u-body');
      if (!body) return;
      e.preventDefault();
      body.scrollIntoView({ block: 'center' });
      body.focus();
    } else if (e.key === 'm') {
      const move = document.getElementById('move');
      if (!move) return;
      e.preventDefault();
      move.open = true;
      const note = document.getElementById('t-note');
      move.scrollIntoView({ block: 'start' });
      if (note) note.focus();
    } else if (e.key === '?') {
      if (!dialog) return;
      e.preventDefault();
      showShortcuts();
    }
  });

  if (window.EventSource) {
    const es = new EventSource('/events');
    es.addEventListener('change', (e) => {
      try {
        // Incident 0: changes may have gone unheard (another replica's,
        // while the server's connection to the database was down).
        const n = String(JSON.parse(e.data).incident);
        if (n === number || n === '0') refresh();
      } catch (_) { /* ignore malformed events */ }
    });
  }
})();
