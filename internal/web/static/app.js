// Quench's shared enhancements. Every page works without this script.
(() => {
  'use strict';

  // Times are sent as UTC; show them in the viewer's time zone with a
  // relative hint in the tooltip.
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  const rel = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  function relative(d) {
    const s = (d - Date.now()) / 1000;
    const steps = [[60, 'second'], [3600, 'minute'], [86400, 'hour'], [86400 * 30, 'day'], [Infinity, 'month']];
    const div = { second: 1, minute: 60, hour: 3600, day: 86400, month: 86400 * 30 };
    for (const [limit, unit] of steps) {
      if (Math.abs(s) < limit) return rel.format(Math.round(s / div[unit]), unit);
    }
    return '';
  }
  // A time marked data-short ("sent ✔ 12:03") shows only the time of day
  // when it is today.
  const clock = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });
  const today = (d) => d.toDateString() === new Date().toDateString();
  // A time marked data-rel ("12 min ago") stays relative, with the exact
  // time in the viewer's zone in its tooltip.
  function localTimes(root) {
    for (const el of root.querySelectorAll('time[datetime]')) {
      const d = new Date(el.getAttribute('datetime'));
      if (isNaN(d)) continue;
      if (el.hasAttribute('data-rel')) {
        el.textContent = relative(d);
        el.title = fmt.format(d);
        continue;
      }
      el.textContent = el.hasAttribute('data-short') && today(d) ? clock.format(d) : fmt.format(d);
      el.title = relative(d);
    }
  }
  window.quench = {
    csrf: () => document.querySelector('meta[name="csrf-token"]')?.content || '',
    localTimes,
  };
  document.addEventListener('DOMContentLoaded', () => {
    localTimes(document);
    setInterval(() => localTimes(document), 30_000);
  });
})();
