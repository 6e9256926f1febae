// Browser-test helpers for Quench's web UI: playwright-core driving the
// system Chromium (Debian's /usr/bin/chromium). No browser is downloaded.
//
//   const rt = await launch();            // one Chromium, fresh temp profile
//   const context = await rt.newContext(); // isolated cookies/storage
//   const page = await newPage(context);   // records console errors, page
//                                          // errors, failed requests, CSP
//                                          // violations and XSS canaries
//   await page.goto(url('/incidents'));
//   await expectText(page.locator('h1'), 'Incidents');
//   await assertClean(page);
//   await assertNoXSS(page);
//   await rt.close();
//
// Tests normally don't call launch() themselves: run.mjs does, and hands
// each test a fresh context and page (see run.mjs).
//
// Network: Chromium reaches loopback only. Every other request goes to a
// local "blackhole" proxy that records its request line and drops it, so it
// fails in the page (a failed request, which assertClean reports) and never
// leaves the machine.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import net from 'node:net';
import { inspect, isDeepStrictEqual } from 'node:util';

// --- configuration ------------------------------------------------------------

export const CHROMIUM = process.env.QUENCH_CHROMIUM || '/usr/bin/chromium';

// The flags Chromium needs on this machine: no sandbox (we run as root), no
// GPU, and none of its background traffic (update checks, sync, field
// trials), which the closed network would refuse, many times a run.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// Base URL of the app under test, without a trailing slash.
export const baseURL = (process.env.QUENCH_URL || '').replace(/\/+$/, '');

// url('/incidents') is QUENCH_URL + '/incidents'.
export function url(path = '/') {
  if (!baseURL) throw new Error('QUENCH_URL is not set (the base URL of the app under test)');
  return baseURL + (path.startsWith('/') ? path : '/' + path);
}

let dataCache;
// Test data from the Go side (users, passwords, tokens, ids), as JSON in
// QUENCH_TEST_DATA, or in the file QUENCH_TEST_DATA_FILE when it is large.
export function testData() {
  if (dataCache === undefined) {
    let raw = process.env.QUENCH_TEST_DATA;
    if (process.env.QUENCH_TEST_DATA_FILE) raw = fs.readFileSync(process.env.QUENCH_TEST_DATA_FILE, 'utf8');
    dataCache = raw ? JSON.parse(raw) : {};
  }
  return dataCache;
}

// Lines the Debian chromium wrapper script prints on stderr at every start
// ("/usr/bin/chromium: 9: [: 25275392000: unexpected operator"): harmless.
export const WRAPPER_NOISE = /^\s*(?:\[pid=\d+\]\[err\]\s*)?\/usr\/bin\/chromium: \d+: /;
export function stripNoise(text) {
  return String(text).split('\n').filter((l) => !WRAPPER_NOISE.test(l)).join('\n');
}

// --- launching ----------------------------------------------------------------

// startBlackhole listens on 127.0.0.1 as Chromium's proxy. Chromium sends
// loopback requests directly (its implicit proxy bypass) and everything
// else here; each request line is recorded and the connection dropped.
async function startBlackhole(record) {
  const server = net.createServer((sock) => {
    let head = '';
    sock.setTimeout(5000, () => sock.destroy());
    sock.on('error', () => {});
    sock.on('data', (d) => {
      head += d.toString('latin1');
      const eol = head.indexOf('\r\n');
      if (eol >= 0 || head.length > 8192) {
        record((eol >= 0 ? head.slice(0, eol) : head.slice(0, 200)).replace(/ HTTP\/\d(\.\d)?$/, ''));
        sock.destroy();
      }
    });
  });
  server.unref();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return server;
}

// launch starts one headless Chromium with a fresh, empty profile.
//
// chromium.launch() (not launchPersistentContext) on purpose: Playwright
// creates the profile itself with mkdtemp under os.tmpdir() and removes it
// at close, and every test gets its own isolated context (cookies, storage)
// from one browser. Passing --user-data-dir in args is rejected by
// Playwright. The Go side points TMPDIR at a test temp dir, so even a
// killed run leaves no profile behind.
//
// Returns { browser, context, blocked, newContext(options), close() }:
// context is a ready default context (options.context === false skips it);
// blocked lists the off-host requests the blackhole proxy dropped.
export async function launch(options = {}) {
  const blocked = [];
  const guard = await startBlackhole((line) => blocked.push(line));
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_ARGS, `--proxy-server=http://127.0.0.1:${guard.address().port}`, ...(options.args || [])],
      // run.mjs handles signals itself, closing the browser before exiting.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      timeout: options.timeout ?? 30_000,
    });
  } catch (e) {
    guard.close();
    e.message = stripNoise(e.message);
    throw e;
  }
  const rt = {
    browser,
    blocked,
    context: undefined,
    newContext: (contextOptions) => newContext(browser, contextOptions),
    async close() {
      await browser.close().catch(() => {});
      guard.close();
    },
  };
  if (options.context !== false) rt.context = await rt.newContext(options.contextOptions);
  return rt;
}

// Defaults for every context: the same screen, language and clock zone on
// every machine, so screenshots and formatted dates are comparable.
export const CONTEXT_DEFAULTS = {
  viewport: { width: 1280, height: 800 },
  locale: 'en-US',
  timezoneId: 'UTC',
  colorScheme: 'light',
  reducedMotion: 'reduce',
  serviceWorkers: 'block',
};

// newContext makes an isolated, instrumented browser context.
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ ...CONTEXT_DEFAULTS, ...options });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(30_000);
  await instrument(context);
  return context;
}

// --- recording problems ---------------------------------------------------------

const BINDING = '__quenchReport';

// Runs in every frame before any page script. window.__xss is the XSS
// canary: test payloads call window.__xss.push(1), which is reported at
// once, so a hit is seen even if the page navigates away afterwards.
const INIT_SCRIPT = `(() => {
  const report = (kind, detail) => {
    try { globalThis[${JSON.stringify(BINDING)}](kind, detail); } catch (e) {}
  };
  const canary = [];
  const push = Array.prototype.push;
  Object.defineProperty(canary, 'push', {
    value: function (...values) {
      report('xss', { values: values.map((v) => String(v)), url: location.href });
      return push.apply(this, values);
    },
  });
  try {
    Object.defineProperty(globalThis, '__xss', { value: canary, writable: false, configurable: false });
  } catch (e) {}
  addEventListener('securitypolicyviolation', (e) => report('csp', {
    directive: e.effectiveDirective || e.violatedDirective,
    blockedURI: e.blockedURI,
    sourceFile: e.sourceFile,
    line: e.lineNumber,
    disposition: e.disposition,
    sample: e.sample,
    policy: e.originalPolicy,
    url: location.href,
  }), true);
})();`;

const instrumented = new WeakSet();
const pageLists = new WeakMap(); // context -> every page it ever had
const records = new WeakMap(); // page -> problems

function emptyRecord() {
  return { console: [], pageErrors: [], failedRequests: [], csp: [], xss: [] };
}

function recordFor(page) {
  let r = records.get(page);
  if (!r) records.set(page, (r = emptyRecord()));
  return r;
}

// instrument makes every page of context (popups too) record its problems.
// newContext and newPage call it; it is idempotent.
export async function instrument(context) {
  if (instrumented.has(context)) return;
  instrumented.add(context);
  pageLists.set(context, []);
  await context.exposeBinding(BINDING, ({ page }, kind, detail) => {
    if (!page) return;
    const r = recordFor(page);
    if (kind === 'xss') r.xss.push(detail);
    else if (kind === 'csp') r.csp.push({ source: 'event', ...detail });
  });
  await context.addInitScript(INIT_SCRIPT);
  context.on('page', attach);
  for (const p of context.pages()) attach(p);
}

const CSP_TEXT = /Content[- ]Security[- ]Policy/i;

function attach(page) {
  const list = pageLists.get(page.context());
  if (list && !list.includes(page)) list.push(page);
  if (records.has(page) && records.get(page).attached) return;
  const r = recordFor(page);
  r.attached = true;
  page.on('console', (msg) => {
    const text = msg.text();
    const loc = msg.location();
    const where = loc && loc.url ? ` (${loc.url}${loc.lineNumber ? ':' + (loc.lineNumber + 1) : ''})` : '';
    if (CSP_TEXT.test(text)) r.csp.push({ source: 'console', text: text + where });
    else if (msg.type() === 'error') r.console.push(text + where);
  });
  page.on('pageerror', (err) => r.pageErrors.push(err && err.stack ? err.stack : String(err)));
  page.on('crash', () => r.pageErrors.push('the page crashed'));
  page.on('requestfailed', (req) => {
    const failure = req.failure();
    // Leaving a page aborts what it still had open (an event stream, a
    // late image): that is the browser's normal behaviour, not a fault.
    if (failure && failure.errorText === 'net::ERR_ABORTED') return;
    r.failedRequests.push(`${req.method()} ${req.url()}: ${failure ? failure.errorText : 'failed'}`);
  });
}

// newPage opens a page in context (a BrowserContext or what launch()
// returned) that records its problems.
export async function newPage(context) {
  if (context && context.browser && !context.newPage && context.context) context = context.context;
  await instrument(context);
  const page = await context.newPage();
  attach(page);
  return page;
}

// pagesOf lists every page context has had, closed ones too.
export function pagesOf(context) {
  return [...(pageLists.get(context) || context.pages())];
}

// problems returns a copy of what page recorded so far.
export function problems(page) {
  const r = recordFor(page);
  return {
    console: [...r.console],
    pageErrors: [...r.pageErrors],
    failedRequests: [...r.failedRequests],
    csp: [...r.csp],
    xss: [...r.xss],
  };
}

// clearProblems forgets what page recorded (after a test has checked an
// expected error, say).
export function clearProblems(page) {
  const r = recordFor(page);
  for (const k of Object.keys(emptyRecord())) r[k].length = 0;
}

// settle lets pending violation events and binding calls arrive.
async function settle(page) {
  if (page.isClosed()) return;
  try {
    await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 0)));
  } catch {
    // navigating or closing: nothing more will arrive from this document
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
}

function describeCSP(v) {
  if (v.source === 'console') return `CSP (console): ${v.text}`;
  const where = v.sourceFile ? ` at ${v.sourceFile}${v.line ? ':' + v.line : ''}` : '';
  return `CSP violation: ${v.directive} blocked ${v.blockedURI || '(unknown)'}${where}` +
    `${v.disposition === 'report' ? ' [report-only]' : ''} on ${v.url} (policy: ${v.policy})`;
}

function listProblems(page, allow) {
  const r = recordFor(page);
  const lines = [
    ...r.csp.map(describeCSP),
    ...r.pageErrors.map((e) => `uncaught exception: ${e}`),
    ...r.console.map((e) => `console error: ${e}`),
    ...r.failedRequests.map((e) => `failed request: ${e}`),
  ];
  return lines.filter((l) => !allow.some((a) => (a instanceof RegExp ? a.test(l) : l.includes(a))));
}

// assertClean throws if page recorded a console error, an uncaught
// exception, a failed request or a CSP violation. allow: strings or
// regexps for expected entries.
export async function assertClean(page, { allow = [] } = {}) {
  await settle(page);
  const found = listProblems(page, allow);
  if (found.length) {
    throw new AssertionError(`page ${safeURL(page)} is not clean (${found.length} problem${found.length > 1 ? 's' : ''}):\n  - ` +
      found.join('\n  - '));
  }
}

// assertNoXSS throws if any injected payload ran, i.e. called
// window.__xss.push(...) in any document page has shown.
export async function assertNoXSS(page) {
  await settle(page);
  const hits = [...recordFor(page).xss];
  if (!page.isClosed()) {
    // The binding could only fail if a page broke it; check the array too.
    const n = await page.evaluate(() => (globalThis.__xss ? globalThis.__xss.length : 0)).catch(() => 0);
    if (n > hits.length) hits.push({ values: [`${n} push(es) in the current document`], url: safeURL(page) });
  }
  if (hits.length) {
    throw new AssertionError(`injected script ran (window.__xss.push was called):\n  - ` +
      hits.map((h) => `${h.values.join(', ')} on ${h.url}`).join('\n  - '));
  }
}

function safeURL(page) {
  try {
    return page.url();
  } catch {
    return '(closed page)';
  }
}

// Payloads for XSS tests: each calls window.__xss.push(1) if it runs.
// Put them into every field that is shown back, then assertNoXSS(page).
export const XSS_PAYLOADS = [
  '<script>window.__xss.push(1)</script>',
  '"><img src=x onerror="window.__xss.push(1)">',
  "'><svg onload=window.__xss.push(1)>",
  '</textarea></title><script>window.__xss.push(1)</script>',
  'javascript:window.__xss.push(1)',
  '<a href="javascript:window.__xss.push(1)">x</a>',
  '{{constructor.constructor("window.__xss.push(1)")()}}',
  '${window.__xss.push(1)}',
];

// --- assertions ---------------------------------------------------------------

export class AssertionError extends Error {
  constructor(message) {
    super(message);
    this.name = 'AssertionError';
  }
}

const show = (v) => inspect(v, { depth: 4, breakLength: 120 });

// fail throws an AssertionError.
export function fail(message) {
  throw new AssertionError(message);
}

// expect(actual) has toBe, toEqual, toContain, toMatch, toBeTruthy,
// toBeFalsy, toBeNull, toBeDefined, toHaveLength, toBeGreaterThan,
// toBeLessThan and .not. label names the value in failure messages.
export function expect(actual, label) {
  return matchers(actual, false, label);
}

function matchers(actual, negate, label) {
  const name = label ? `${label} (${show(actual)})` : show(actual);
  const check = (ok, what, ...expected) => {
    if (Boolean(ok) === negate) {
      const exp = expected.length ? ` ${show(expected[0])}` : '';
      throw new AssertionError(`expected ${name} ${negate ? 'not ' : ''}${what}${exp}`);
    }
  };
  const m = {
    toBe: (expected) => check(Object.is(actual, expected), 'to be', expected),
    toEqual: (expected) => check(isDeepStrictEqual(actual, expected), 'to equal', expected),
    toContain: (item) => check(actual != null && actual.includes(item), 'to contain', item),
    toMatch: (re) => check(typeof actual === 'string' && (re instanceof RegExp ? re.test(actual) : actual.includes(re)), 'to match', re),
    toBeTruthy: () => check(actual, 'to be truthy'),
    toBeFalsy: () => check(!actual, 'to be falsy'),
    toBeNull: () => check(actual === null, 'to be null'),
    toBeDefined: () => check(actual !== undefined, 'to be defined'),
    toHaveLength: (n) => check(actual != null && actual.length === n, 'to have length', n),
    toBeGreaterThan: (n) => check(actual > n, 'to be greater than', n),
    toBeLessThan: (n) => check(actual < n, 'to be less than', n),
  };
  if (!negate) Object.defineProperty(m, 'not', { get: () => matchers(actual, true, label) });
  return m;
}

// expectThrows awaits fnOrPromise and returns the error it threw; it fails
// if nothing was thrown or the message does not match pattern.
export async function expectThrows(fnOrPromise, pattern) {
  try {
    await (typeof fnOrPromise === 'function' ? fnOrPromise() : fnOrPromise);
  } catch (e) {
    const msg = e && e.message !== undefined ? e.message : String(e);
    if (pattern && !(pattern instanceof RegExp ? pattern.test(msg) : msg.includes(pattern))) {
      throw new AssertionError(`expected an error matching ${show(pattern)}, got: ${msg}`);
    }
    return e;
  }
  throw new AssertionError(`expected an error${pattern ? ' matching ' + show(pattern) : ''}, but nothing was thrown`);
}

// eventually retries fn until it stops throwing (or returns a truthy value
// when it returns anything but undefined), for UI that updates later.
export async function eventually(fn, { timeout = 5000, interval = 100, message } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v === undefined || v) return v;
      last = new AssertionError(`got ${show(v)}`);
    } catch (e) {
      last = e;
    }
    if (Date.now() >= end) {
      const err = new AssertionError(`${message || 'condition'} not met after ${timeout} ms: ${last && last.message}`);
      err.cause = last;
      throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

const textMatches = (text, expected) =>
  expected instanceof RegExp ? expected.test(text) : text.replace(/\s+/g, ' ').trim().includes(expected);

// expectText waits until locator's text contains expected (a string,
// whitespace-normalised) or matches it (a RegExp).
export async function expectText(locator, expected, { timeout = 5000 } = {}) {
  let text;
  await eventually(async () => {
    text = await locator.first().textContent({ timeout: Math.min(timeout, 1000) });
    if (text == null || !textMatches(text, expected)) throw new AssertionError(`text is ${show(text)}`);
  }, { timeout, message: `text of ${locator} to contain ${show(expected)}` });
  return text;
}

// expectTitle waits until page's title contains (or matches) expected.
export async function expectTitle(page, expected, { timeout = 5000 } = {}) {
  let title;
  await eventually(async () => {
    title = await page.title();
    if (!textMatches(title, expected)) throw new AssertionError(`title is ${show(title)}`);
  }, { timeout, message: `page title to contain ${show(expected)}` });
  return title;
}

// --- Quench pages ---------------------------------------------------------------

// login signs who ({user, password}) in with the sign-in form and waits
// for the board.
export async function login(page, url, who) {
  await page.goto(url('/login'));
  await page.getByLabel('User name').fill(who.user);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(url('/'));
}
