// Proves the harness itself: Chromium starts, pages load and respond to
// clicks, and every detector fires when it should (and only then), so a
// UI test that passes means something. internal/testenv/browser_test.go
// serves the pages:
//
//   /harness-check  CSP "default-src 'self'", plus an inline script that
//                   violates it (and would push to window.__xss if it ran)
//   /harness-clean  the same page without the inline script
//   /harness-open   no CSP: ?echo= is written into the page with innerHTML
//   /harness-abort  drops the connection (a failed request)
//   /harness.js     the page's behaviour (same origin, so CSP allows it)

import {
  expect, expectText, expectThrows, eventually, assertClean, assertNoXSS, problems, clearProblems, XSS_PAYLOADS,
} from './lib.mjs';

export const tests = [
  {
    name: 'harness page: title, click, and the deliberate CSP violation is detected',
    async fn({ page, url }) {
      await page.goto(url('/harness-check'));
      expect(await page.title()).toBe('Quench harness check');
      await expectText(page.locator('#status'), 'waiting');
      await page.locator('#go').click();
      await expectText(page.locator('#status'), 'clicked');

      // Both channels see the blocked inline script: the
      // securitypolicyviolation event and Chromium's console message.
      await eventually(() => {
        const csp = problems(page).csp;
        expect(csp.some((v) => v.source === 'event' && /^script-src/.test(v.directive) && v.blockedURI === 'inline')).toBeTruthy();
        expect(csp.some((v) => v.source === 'console')).toBeTruthy();
      }, { message: 'CSP violation recorded' });
      await expectThrows(assertClean(page), /CSP violation: script-src\S* blocked inline/);

      // The CSP held: the blocked script did not run.
      await assertNoXSS(page);
      clearProblems(page);
      await assertClean(page);
    },
  },
  {
    name: 'a clean page records nothing',
    async fn({ page, url }) {
      await page.goto(url('/harness-clean'));
      await page.locator('#go').click();
      await expectText(page.locator('#status'), 'clicked');
      await assertClean(page);
      await assertNoXSS(page);
      expect(problems(page)).toEqual({ console: [], pageErrors: [], failedRequests: [], csp: [], xss: [] });
    },
  },
  {
    name: 'console errors, uncaught exceptions and failed requests are detected',
    async fn({ page, url }) {
      await page.goto(url('/harness-clean'));
      await page.locator('#console-error').click();
      await page.locator('#throw').click();
      await page.locator('#fetch-missing').click();
      await page.locator('#fetch-abort').click();
      await eventually(() => {
        const p = problems(page);
        expect(p.console.some((m) => m.includes('deliberate console error'))).toBeTruthy();
        expect(p.pageErrors.some((m) => m.includes('deliberate uncaught exception'))).toBeTruthy();
        expect(p.console.some((m) => /404/.test(m) && m.includes('/no-such-thing'))).toBeTruthy();
        expect(p.failedRequests.some((m) => m.includes('/harness-abort'))).toBeTruthy();
      }, { message: 'all four problems recorded' });
      const err = await expectThrows(assertClean(page));
      for (const want of ['console error: deliberate console error', 'uncaught exception: Error: deliberate uncaught exception', 'failed request: GET ' + url('/harness-abort')]) {
        expect(err.message).toContain(want);
      }
      // allow: expected entries can be let through.
      await assertClean(page, { allow: [/deliberate/, '/no-such-thing', '/harness-abort'] });
      clearProblems(page);
    },
  },
  {
    name: 'an injected script that runs is detected, even after navigating away',
    async fn({ page, url }) {
      await page.goto(url('/harness-open?echo=' + encodeURIComponent('<b>bold</b>')));
      await expectText(page.locator('#out'), 'bold');
      await assertNoXSS(page);

      await page.goto(url('/harness-open?echo=' + encodeURIComponent(XSS_PAYLOADS[1])));
      await eventually(() => expect(problems(page).xss.length).toBeGreaterThan(0), { message: 'XSS canary hit' });
      await page.goto(url('/harness-clean')); // a new document: a fresh, empty window.__xss
      await expectThrows(assertNoXSS(page), /injected script ran/);

      // With the CSP in place the same payload is blocked, and that block
      // is itself reported.
      clearProblems(page);
      await page.goto(url('/harness-clean'));
      await page.evaluate((html) => { document.getElementById('out').innerHTML = html; }, XSS_PAYLOADS[1]);
      await eventually(() => expect(problems(page).csp.length).toBeGreaterThan(0), { message: 'CSP blocked the handler' });
      await assertNoXSS(page);
      clearProblems(page);
    },
  },
  {
    name: 'off-host requests never leave the machine',
    async fn({ page, blocked }) {
      await expectThrows(page.goto('http://quench-offhost.invalid/canary'), /net::ERR_/);
      await expectThrows(page.goto('https://quench-offhost.invalid/canary'), /net::ERR_/);
      expect(blocked).toContain('GET http://quench-offhost.invalid/canary');
      expect(blocked).toContain('CONNECT quench-offhost.invalid:443');
      await expectThrows(assertClean(page), /failed request: GET http:\/\/quench-offhost.invalid\/canary/);
      clearProblems(page);
    },
  },
  {
    name: 'test data and the base URL arrive from Go',
    async fn({ data, baseURL }) {
      expect(baseURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(data).toEqual({ user: 'harness', password: 'p "w" \\ ü ✓', token: 'qt_harness' });
    },
  },
];
