// Admin pages: copy buttons for secrets and snippets (without the
// clipboard API the text is selected for the person to copy), and the
// channel form's URL or recipients field, whichever the chosen type uses.
(() => {
  'use strict';
  document.addEventListener('click', async (e) => {
    const btn = e.target.closest('button.copy');
    if (!btn) return;
    const el = document.getElementById(btn.dataset.copy);
    const status = document.getElementById('copy-status');
    if (!el) return;
    try {
      await navigator.clipboard.writeText(el.textContent);
      status.textContent = 'Copied.';
    } catch (_) {
      const range = document.createRange();
      range.selectNodeContents(el);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      status.textContent = 'Selected: press Ctrl+C (or ⌘C) to copy.';
    }
  });

  function showTypeFields(select) {
    const form = select.form;
    for (const block of form.querySelectorAll('.for-type')) {
      block.hidden = !block.dataset.types.split(' ').includes(select.value);
    }
  }
  for (const select of document.querySelectorAll('select.channel-type')) {
    showTypeFields(select);
    select.addEventListener('change', () => showTypeFields(select));
  }
})();
