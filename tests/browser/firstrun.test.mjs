// The first-run checklist on an empty board: it ticks itself as the team
// gets going and goes away once every step has happened.
import { expect, expectText, eventually, login, newContext, newPage } from './lib.mjs';

async function api(url, token, method, path, body) {
  const res = await fetch(url(path), {
    method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

async function step(page, name) {
  return page.locator(`#setup li[data-step="${name}"]`).getAttribute('class');
}

export const tests = [
  {
    name: 'the setup checklist ticks as people, an integration, a test alert and a first incident arrive',
    async fn({ page, url, data, browser }) {
      await login(page, url, data.root);
      await expectText(page.locator('#setup h2'), 'Getting started 0 of 4 done');
      for (const s of ['people', 'integration', 'alert', 'incident']) expect(await step(page, s)).toBe('todo');
      // Links lead to where each step is done.
      expect(await page.locator('#setup a[href="/admin/integrations"]').count()).toBe(1);

      // People: an account made on the admin page.
      await api(url, data.token, 'POST', '/api/v1/users', { username: 'ana', password: 'password-ana', role: 'responder' });
      await page.reload();
      expect(await step(page, 'people')).toBe('done');
      await expectText(page.locator('#setup h2'), '1 of 4 done');

      // An integration, then a test alert through it.
      const integ = await api(url, data.token, 'POST', '/api/v1/integrations', { type: 'generic', name: 'cron' });
      await page.reload();
      expect(await step(page, 'integration')).toBe('done');
      expect(await step(page, 'alert')).toBe('todo');
      await api(url, integ.token, 'POST', `/api/v1/intake/generic/${integ.id}`, { title: 'test alert', severity: 'warning' });
      await page.reload();
      expect(await step(page, 'alert')).toBe('done');
      await expectText(page.locator('#setup h2'), '3 of 4 done');

      // A first incident, opened in another browser: the open board
      // updates by itself and the checklist goes away.
      const other = await newContext(browser);
      const op = await newPage(other);
      await login(op, url, data.root);
      await op.goto(url('/incidents/new'));
      await op.getByLabel('Title').fill('First incident');
      await op.getByRole('button', { name: 'Open incident' }).click();
      await op.waitForURL(/\/incidents\/1$/);
      await other.close();
      await eventually(async () => expect(await page.locator('#setup').count()).toBe(0), { timeout: 10000 });
      await page.reload();
      expect(await page.locator('#setup').count()).toBe(0);
    },
  },
  {
    name: 'viewers never see the setup checklist',
    async fn({ page, url }) {
      await page.goto(url('/'));
      expect(await page.locator('#setup').count()).toBe(0);
    },
  },
];
