// The incident page built for responders: owners edited in place, the
// keyboard shortcuts, an incident opened from a checklist template, and
// the accessibility tree Chromium builds (through the DevTools protocol):
// every control named, one main landmark, headings in order.
import { expect, expectText, eventually, login, newContext, newPage } from './lib.mjs';

// Roles whose nodes must carry an accessible name (axe's label,
// button-name, link-name and select-name rules, read from the tree
// Chromium gives assistive technology).
const NAMED = new Set(['textbox', 'searchbox', 'combobox', 'listbox', 'checkbox', 'radio', 'button', 'spinbutton',
  'slider', 'switch', 'link', 'DisclosureTriangle', 'menuitem', 'tab']);

// axAudit walks the full accessibility tree of the page in document order
// and returns what is wrong with its labels, landmarks and headings.
async function axAudit(page, { modal = false } = {}) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Accessibility.enable');
  const { nodes } = await cdp.send('Accessibility.getFullAXTree');
  await cdp.detach();
  const byId = new Map(nodes.map((n) => [n.nodeId, n]));
  const root = nodes.find((n) => !n.parentId);
  const order = [];
  (function walk(n) {
    if (!n) return;
    order.push(n);
    for (const c of n.childIds || []) walk(byId.get(c));
  })(root);
  const problems = [];
  let mains = 0;
  const headings = [];
  for (const n of order) {
    if (n.ignored) continue;
    const role = n.role?.value;
    const name = String(n.name?.value ?? '').trim();
    if (role === 'main') mains++;
    if (role === 'heading') {
      const level = n.properties?.find((p) => p.name === 'level')?.value?.value;
      headings.push({ level, name });
    }
    if (NAMED.has(role) && !name) problems.push(`a ${role} without an accessible name (DOM node ${n.backendDOMNodeId})`);
  }
  // A modal dialog makes the rest of the page inert: only its names count.
  if (modal) return { problems, headings, controls: 0 };
  if (mains !== 1) problems.push(`${mains} main landmarks, want 1`);
  if (!headings.length || headings[0].level !== 1) problems.push(`the first heading is not an h1: ${JSON.stringify(headings[0])}`);
  if (headings.filter((h) => h.level === 1).length !== 1) problems.push('not exactly one h1');
  for (let i = 1; i < headings.length; i++) {
    if (headings[i].level > headings[i - 1].level + 1) {
      problems.push(`heading "${headings[i].name}" (h${headings[i].level}) follows "${headings[i - 1].name}" (h${headings[i - 1].level})`);
    }
  }
  return { problems, headings, controls: order.filter((n) => !n.ignored && NAMED.has(n.role?.value)).length };
}

async function blur(page) {
  await page.evaluate(() => document.activeElement?.blur());
}

export const tests = [
  {
    name: 'owners are edited in place, and "Take it" claims an unowned phase',
    async fn({ page, url, data }) {
      await login(page, url, data.ana);
      await page.goto(url('/incidents/1'));
      // Whoever opened it owns active; bo owns mitigated; resolved is free.
      await expectText(page.locator('#owner-active'), 'ana');
      await expectText(page.locator('#owner-mitigated'), 'bo');
      await expectText(page.locator('#owner-resolved'), 'nobody');
      await expectText(page.locator('.inc-meta .cur-owner'), 'owned by ana');

      // Change mitigated to cy in place, by keyboard: the disclosure, the
      // picker, the button.
      const edit = page.locator('#owner-mitigated summary');
      await edit.focus();
      await page.keyboard.press('Enter');
      const picker = page.getByLabel('Owner of mitigated');
      await picker.selectOption('cy');
      await page.locator('#owner-mitigated').getByRole('button', { name: 'Save the owner of mitigated' }).click();
      await page.waitForURL(/#owners$/);
      await expectText(page.locator('#owner-mitigated .owner-name'), 'cy');

      // Take the unowned phase.
      await page.getByRole('button', { name: 'Take it (own resolved)' }).click();
      await page.waitForURL(/#owners$/);
      await expectText(page.locator('#owner-resolved .owner-name'), 'ana');
      expect(await page.getByRole('button', { name: /Take it/ }).count()).toBe(0);

      // The timeline names the people, newest first when asked.
      await page.goto(url('/incidents/1?timeline=newest#timeline'));
      await expectText(page.locator('.timeline li').first(), 'owners resolved: nobody → ana');
      await expectText(page.locator('#timeline'), 'mitigated: bo → cy');
      // Collapsible.
      await page.locator('.timeline-box summary').click();
      expect(await page.locator('.timeline li').first().isVisible()).toBe(false);
    },
  },
  {
    name: 'u focuses a new update, m opens "move to the next phase", ? lists the shortcuts',
    async fn({ page, url, data }) {
      await login(page, url, data.ana);
      await page.goto(url('/incidents/1'));
      expect(await page.locator('#move').evaluate((d) => d.open)).toBe(false);
      // Times read relative, with the exact time in the viewer's zone on hover.
      const when = await page.locator('.inc-meta time').evaluate((el) => ({
        text: el.textContent, title: el.title,
        local: new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(el.getAttribute('datetime'))),
      }));
      expect(/ ago$|^now$|^in /.test(when.text), `relative time ${when.text}`).toBe(true);
      expect(when.title).toBe(when.local);

      await blur(page);
      await page.keyboard.press('u');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('u-body');
      // Keys typed into a field stay there.
      await page.keyboard.type('mu? restarted the consumers');
      expect(await page.locator('#u-body').inputValue()).toBe('mu? restarted the consumers');
      expect(await page.locator('#move').evaluate((d) => d.open)).toBe(false);
      await page.getByRole('button', { name: 'Post update' }).click();
      await page.waitForURL(/#update-/);
      await expectText(page.locator('.update').first(), 'mu? restarted the consumers');

      await blur(page);
      await page.keyboard.press('?');
      const dialog = page.locator('#shortcuts');
      await eventually(async () => expect(await dialog.evaluate((d) => d.open)).toBe(true));
      await expectText(dialog, 'move to mitigated');
      await page.keyboard.press('Escape');
      await eventually(async () => expect(await dialog.evaluate((d) => d.open)).toBe(false));

      await blur(page);
      await page.keyboard.press('m');
      expect(await page.locator('#move').evaluate((d) => d.open)).toBe(true);
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('t-note');
      await page.keyboard.type('scaled the consumers');
      await page.getByLabel('Move anyway (recorded in the timeline)').check();
      await page.locator('#transition').getByRole('button', { name: 'Move to mitigated' }).click();
      await expectText(page.locator('.inc-meta .badge').first(), 'mitigated');
    },
  },
  {
    name: 'an incident opened from a checklist template carries its items, and its opener owns it',
    async fn({ page, url, data }) {
      await login(page, url, data.ana);
      await page.goto(url('/incidents/new'));
      expect(await page.getByLabel('Owner while active').inputValue()).toBe('ana');
      await page.getByLabel('Title').fill('Replica lagging');
      await page.getByLabel('Checklist template').selectOption('database');
      await page.getByLabel('Confidential: the team only').check();
      await page.getByRole('button', { name: 'Open incident' }).click();
      await page.waitForURL(/\/incidents\/2$/);
      const list = page.locator('#checklist');
      for (const item of ['check replication lag', 'document recovery procedure', 'add to incident log']) await expectText(list, item);
      await expectText(page.locator('#owner-active'), 'ana');
      await expectText(page.locator('#timeline'), 'from the template "database"');

      // Automatic: a db incident gets the template without choosing it;
      // "none" gets nothing.
      await page.goto(url('/incidents/new'));
      await page.getByLabel('Title').fill('Primary failover');
      await page.getByLabel('Services (comma-separated)').fill('db');
      await page.getByLabel('Owner while active').selectOption('');
      await page.getByRole('button', { name: 'Open incident' }).click();
      await page.waitForURL(/\/incidents\/3$/);
      await expectText(page.locator('#checklist'), 'document recovery procedure');
      await expectText(page.locator('#owner-active'), 'nobody');
      await page.goto(url('/incidents/new'));
      await page.getByLabel('Title').fill('No template');
      await page.getByLabel('Services (comma-separated)').fill('db');
      await page.getByLabel('Checklist template').selectOption('none');
      await page.getByRole('button', { name: 'Open incident' }).click();
      await page.waitForURL(/\/incidents\/4$/);
      await expectText(page.locator('#checklist'), 'No checklist items.');
    },
  },
  {
    name: 'accessibility tree: every control named, one main landmark, headings in order',
    async fn({ page, url, data, browser }) {
      await login(page, url, data.ana);
      for (const path of ['/incidents/1', '/incidents/1?timeline=newest', '/incidents/new', '/', '/alerts', '/incidents', '/review', '/account']) {
        await page.goto(url(path));
        // Open every disclosure, so the controls inside are audited too.
        await page.evaluate(() => { for (const d of document.querySelectorAll('details')) d.open = true; });
        const { problems, controls } = await axAudit(page);
        expect(problems, `${path}: ${problems.join('; ')}`).toEqual([]);
        if (path.startsWith('/incidents/1')) expect(controls > 30, `${path}: only ${controls} controls seen`).toBe(true);
      }
      // The shortcut list, open.
      await page.goto(url('/incidents/1'));
      await blur(page);
      await page.keyboard.press('?');
      await eventually(async () => expect(await page.locator('#shortcuts').evaluate((d) => d.open)).toBe(true));
      expect((await axAudit(page, { modal: true })).problems).toEqual([]);

      const admin = await newContext(browser);
      const ap = await newPage(admin);
      await login(ap, url, data.root);
      await ap.goto(url('/admin/templates'));
      expect((await axAudit(ap)).problems).toEqual([]);
      await ap.goto(url('/admin/templates/1'));
      expect((await axAudit(ap)).problems).toEqual([]);
      await admin.close();

      // Editing a template without JavaScript: the form holds what is
      // stored, and saving it adds an item in a spare row.
      const nojs = await newContext(browser, { javaScriptEnabled: false });
      const np = await newPage(nojs);
      await login(np, url, data.root);
      await np.goto(url('/admin/templates'));
      await np.getByRole('link', { name: 'Edit database' }).click();
      expect(await np.getByLabel('Text of item 3').inputValue()).toBe('add to incident log');
      expect(await np.getByLabel('Phase of item 1').inputValue()).toBe('mitigated');
      await np.getByLabel('Text of item 4').fill('book the review');
      await np.getByRole('button', { name: 'Save template' }).click();
      await np.waitForURL(/\/admin\/templates\?notice=/);
      expect(await np.locator('main').textContent()).toContain('book the review');
      await nojs.close();

      // The viewer's page: one column, no forms, still sound.
      const viewer = await newContext(browser);
      const vp = await newPage(viewer);
      await vp.goto(url('/incidents/1'));
      expect(await vp.locator('form').count()).toBe(0);
      expect((await axAudit(vp)).problems).toEqual([]);
      await viewer.close();
    },
  },
  {
    name: 'without JavaScript the page still works: owners, moving on, times',
    async fn({ page, url, data, browser }) {
      const ctx = await newContext(browser, { javaScriptEnabled: false });
      const p = await newPage(ctx);
      await login(p, url, data.ana);
      await p.goto(url('/incidents/1'));
      // Relative times from the server, exact time on hover.
      const t = p.locator('.inc-meta time');
      expect(/ago$|just now/.test(await t.textContent())).toBe(true);
      expect(/UTC$/.test(await t.getAttribute('title'))).toBe(true);
      await p.locator('#owner-active summary').click();
      await p.getByLabel('Owner of active').selectOption('bo');
      await p.locator('#owner-active').getByRole('button', { name: 'Save the owner of active' }).click();
      await p.waitForURL(/#owners$/);
      await expectText(p.locator('#owner-active .owner-name'), 'bo');
      await ctx.close();
    },
  },
];
