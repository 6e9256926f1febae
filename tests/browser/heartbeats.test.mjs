// Heartbeats and test alerts: an admin adds a heartbeat and sees its ping
// URL once; a ping (a plain GET, as curl sends it) shows on the list; a
// failure shows its log; "Send a test alert" says where the rules put it.
// Hostile names and logs stay inert.
import { expect, expectText, assertNoXSS } from './lib.mjs';

export const tests = [
  {
    name: 'add a heartbeat, ping it, see it fail, edit it, rotate its URL; send a test alert',
    async fn({ page, url, data }) {
      await page.goto(url('/login'));
      await page.getByLabel('User name').fill(data.root.user);
      await page.getByLabel('Password').fill(data.root.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('link', { name: 'Admin' }).click();

      await page.getByRole('link', { name: 'Heartbeats' }).click();
      await page.getByLabel('Name', { exact: true }).fill('backup <img src=x onerror="window.__xss.push(1)">');
      await page.getByLabel(/^Expected every/).fill('1h');
      await page.getByLabel(/^Grace/).fill('10m');
      await page.getByLabel(/^Labels for its alert/).fill('service=backup, team=<svg onload=window.__xss.push(1)>');
      await page.getByRole('button', { name: 'Create heartbeat' }).click();
      const pingURL = (await page.locator('#secret').textContent()).trim();
      expect(pingURL).toMatch(/\/api\/v1\/ping\/hb_[a-z0-9]+$/);
      await expectText(page.locator('#snippet'), 'crontab');

      // A cron job's curl: no session needed (the cookie is ignored).
      const ping = await page.request.get(pingURL);
      expect(ping.status()).toBe(200);
      const fail = await page.request.post(pingURL + '/fail', { data: 'disk full <script>window.__xss.push(1)</script>' });
      expect(fail.status()).toBe(200);

      await page.goto(url('/admin/heartbeats'));
      expect(await page.content()).not.toContain(pingURL);
      await expectText(page.locator('#heartbeats'), '(failed)');
      await page.getByText("End of the failed run's log").click();
      await expectText(page.locator('#heartbeats pre'), 'disk full');
      await assertNoXSS(page);

      // Edit the period in the row's form; then a new ping URL, the old
      // one dead at once.
      const row = page.locator('#heartbeats tr[data-heartbeat]').first();
      await row.locator('summary', { hasText: 'Edit' }).click();
      await row.getByLabel('Expected every').fill('2h');
      await row.getByRole('button', { name: 'Save' }).click();
      await expectText(page.locator('.flash.notice'), 'a ping every 2h, 10m of grace');
      const rotate = page.locator('#heartbeats form[action$="/rotate"]').first();
      await rotate.getByLabel('confirm').check();
      await rotate.getByRole('button', { name: 'New ping URL' }).click();
      const fresh = (await page.locator('#secret').textContent()).trim();
      expect(fresh).toMatch(/\/api\/v1\/ping\/hb_[a-z0-9]+$/);
      expect(fresh === pingURL, 'the URL changed').toBe(false);
      expect((await page.request.get(pingURL)).status(), 'old URL').toBe(404);
      expect((await page.request.get(fresh)).status(), 'new URL').toBe(200);
      await assertNoXSS(page);

      await page.goto(url('/admin/integrations'));
      await page.getByLabel('Type').selectOption('generic');
      await page.getByLabel('Name', { exact: true }).fill('cron');
      await page.getByRole('button', { name: 'Create integration' }).click();
      await page.getByRole('link', { name: 'Done' }).click();
      await page.getByRole('button', { name: 'Send a test alert' }).click();
      await expectText(page.locator('body'), /opened incident #1/);
      await page.goto(url('/incidents/1'));
      await expectText(page.locator('h1'), '[test] Test alert from Quench');
      await expectText(page.locator('.inc-meta'), 'opened by a test alert');
      await page.goto(url('/alerts'));
      await expectText(page.locator('.test-alert'), 'test');
      await assertNoXSS(page);
    },
  },
];
