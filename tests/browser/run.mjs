#!/usr/bin/env node
// A tiny test runner for Quench's browser tests (no framework beyond
// playwright-core).
//
//   node tests/browser/run.mjs [--grep REGEXP] [FILE...]
//
// Without FILEs it runs every tests/browser/*.test.mjs; a FILE is a path,
// or a name inside tests/browser. A test file exports
//
//   export const tests = [{ name, fn(ctx), timeout?, allowProblems? }, ...]
//
// or a default async function (one test named after the file). Tests run
// one at a time in one Chromium, each in a fresh context (no shared cookies)
// with ctx = { page, context, browser, url(path), baseURL, data, newPage(),
// log(...), blocked } (blocked: the off-host request lines Chromium was
// stopped from sending, for this whole run). After a test passes, every page it opened must be clean
// (assertClean and assertNoXSS) unless the test sets allowProblems: true or
// clears what it expected with clearProblems(page).
//
// Environment: QUENCH_URL (base URL of the app), QUENCH_TEST_DATA (JSON
// from the Go side), QUENCH_TEST_RESULTS (where failure screenshots go;
// default test-results/ at the repository root), QUENCH_BROWSER_TEST_TIMEOUT_MS
// (per test, default 60000).
//
// Prints "ok"/"FAIL" per test and "browser: N passed, N failed"; exits 1 on
// any failure, or when no test ran.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  launch, newPage, pagesOf, assertClean, assertNoXSS, baseURL, url, testData, stripNoise,
} from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const resultsDir = path.resolve(process.env.QUENCH_TEST_RESULTS || path.join(root, 'test-results'));
const defaultTimeout = Number(process.env.QUENCH_BROWSER_TEST_TIMEOUT_MS) || 60_000;

const out = (line) => process.stdout.write(stripNoise(line) + '\n');
const indent = (text, pad = '    ') => String(text).split('\n').map((l) => pad + l).join('\n');
const secs = (ms) => (ms / 1000).toFixed(1) + 's';

// --- arguments and discovery ----------------------------------------------------

function parseArgs(argv) {
  const files = [];
  let grep;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--grep') grep = new RegExp(argv[++i]);
    else if (argv[i].startsWith('--grep=')) grep = new RegExp(argv[i].slice(7));
    else files.push(argv[i]);
  }
  return { files, grep };
}

function resolveFile(f) {
  if (path.isAbsolute(f)) return f;
  if (fs.existsSync(path.resolve(f))) return path.resolve(f);
  return path.join(here, f);
}

async function loadTests(files) {
  const all = [];
  const loadErrors = [];
  for (const file of files) {
    const label = path.relative(here, file).startsWith('..') ? file : path.relative(here, file);
    try {
      if (!fs.existsSync(file)) throw new Error(`no such test file: ${file}`);
      const mod = await import(pathToFileURL(file).href);
      let tests = mod.tests;
      if (!tests && typeof mod.default === 'function') tests = [{ name: path.basename(file, '.test.mjs'), fn: mod.default }];
      if (!Array.isArray(tests) || tests.length === 0) throw new Error('exports neither a non-empty `tests` array nor a default function');
      for (const t of tests) {
        if (!t || typeof t.fn !== 'function' || !t.name) throw new Error(`bad test entry ${JSON.stringify(t && t.name)}: need { name, fn }`);
        all.push({ ...t, file: label });
      }
    } catch (e) {
      loadErrors.push({ file: label, error: e });
    }
  }
  return { tests: all, loadErrors };
}

// --- running ----------------------------------------------------------------------

let current; // the test running now, for unhandled rejections
process.on('unhandledRejection', (e) => {
  if (current) current.unhandled.push(e);
  else out(`warning: unhandled rejection: ${e && e.stack ? e.stack : e}`);
});

const slug = (s) => String(s).replace(/\.test\.mjs$/, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80);

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// saveEvidence writes a screenshot and the HTML of every open page.
async function saveEvidence(test, context) {
  const saved = [];
  const pages = context.pages();
  for (let i = 0; i < pages.length; i++) {
    const base = path.join(resultsDir, `${slug(path.basename(test.file))}--${slug(test.name)}${pages.length > 1 ? '-' + (i + 1) : ''}`);
    try {
      fs.mkdirSync(resultsDir, { recursive: true });
      await pages[i].screenshot({ path: base + '.png', fullPage: true, timeout: 10_000 });
      saved.push(base + '.png');
      fs.writeFileSync(base + '.html', await withTimeout(pages[i].content(), 5000, 'page.content()'));
      saved.push(base + '.html');
    } catch (e) {
      saved.push(`(could not save ${base}.png: ${e.message.split('\n')[0]})`);
    }
  }
  return saved;
}

function blockedHost(line) {
  const target = line.split(' ')[1] || line;
  try {
    return target.includes('://') ? new URL(target).host : target.replace(/:443$/, '');
  } catch {
    return target;
  }
}

function describeError(e) {
  if (!(e instanceof Error)) return String(e);
  const stack = (e.stack || '').split('\n')
    .filter((l) => /^\s+at /.test(l) && !/node:internal|node_modules\/playwright-core|tests\/browser\/(run|lib)\.mjs/.test(l))
    .slice(0, 4).join('\n');
  return e.message + (stack ? '\n' + stack : '');
}

async function runTest(rt, test) {
  const started = performance.now();
  current = { unhandled: [] };
  let context;
  let error;
  try {
    context = await rt.newContext();
    const page = await newPage(context);
    const ctx = {
      page, context, browser: rt.browser, baseURL, url, data: testData(), blocked: rt.blocked,
      newPage: () => newPage(context),
      log: (...args) => out(indent(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '))),
    };
    const run = Promise.resolve().then(() => test.fn(ctx));
    run.catch(() => {}); // a timed-out test may still reject later
    await withTimeout(run, test.timeout || defaultTimeout, 'test');
    if (!test.allowProblems) {
      for (const p of pagesOf(context)) {
        await assertClean(p);
        await assertNoXSS(p);
      }
    }
    if (current.unhandled.length) throw current.unhandled[0];
  } catch (e) {
    error = e;
  }
  let evidence = [];
  if (error && context) evidence = await saveEvidence(test, context);
  if (context) await withTimeout(context.close(), 10_000, 'closing the context').catch(() => {});
  current = undefined;
  const took = secs(performance.now() - started);
  if (!error) {
    out(`ok   ${test.file} › ${test.name} (${took})`);
    return true;
  }
  out(`FAIL ${test.file} › ${test.name}: ${indent(describeError(error)).trimStart()}`);
  for (const f of evidence) {
    const rel = path.relative(process.cwd(), f);
    out(`     saved ${rel && !rel.startsWith('..') ? rel : f}`);
  }
  out(`     (${took})`);
  return false;
}

async function main() {
  const started = performance.now();
  const { files: args, grep } = parseArgs(process.argv.slice(2));
  const files = args.length
    ? args.map(resolveFile)
    : fs.readdirSync(here).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => path.join(here, f));

  const { tests: all, loadErrors } = await loadTests(files);
  const tests = grep ? all.filter((t) => grep.test(`${t.file} › ${t.name}`)) : all;
  let passed = 0;
  let failed = loadErrors.length;
  for (const { file, error } of loadErrors) out(`FAIL ${file}: cannot load: ${describeError(error)}`);

  let rt;
  const shutdown = async (signal) => {
    out(`interrupted by ${signal}`);
    if (rt) await withTimeout(rt.close(), 5000, 'closing the browser').catch(() => {});
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(s, () => shutdown(s));

  if (tests.length) {
    if (!baseURL) out('warning: QUENCH_URL is not set; url() will throw');
    try {
      rt = await launch({ context: false });
    } catch (e) {
      out(`FAIL cannot launch Chromium: ${describeError(e)}`);
      out(`browser: 0 passed, ${tests.length + failed} failed`);
      process.exit(1);
    }
    out(`# Chromium ${rt.browser.version()}, ${tests.length} test(s) in ${files.length} file(s)`);
    for (const test of tests) {
      if (!rt.browser.isConnected()) {
        out('# Chromium went away; starting a new one');
        await rt.close();
        rt = await launch({ context: false });
      }
      if (await runTest(rt, test)) passed++;
      else failed++;
    }
    // Chromium itself tries a few Google hosts (component updates, account
    // checks) whatever the flags; requests from pages also fail in the page.
    const hosts = [...new Set(rt.blocked.map(blockedHost))];
    if (hosts.length) out(`# off-host requests blocked: ${rt.blocked.length}, to ${hosts.join(', ')}`);
    await rt.close();
  }
  if (passed + failed === 0) {
    out(`FAIL no tests ran${grep ? ` (--grep ${grep} matched none of ${all.length})` : ''}`);
    failed = 1;
  }
  out(`browser: ${passed} passed, ${failed} failed (${secs(performance.now() - started)})`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  out(`FAIL runner: ${describeError(e)}`);
  process.exit(1);
});
