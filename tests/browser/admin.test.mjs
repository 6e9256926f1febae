// Admin pages: a user, a token shown once, an integration's snippet with a
// copy button; hostile names stay inert.
import { expect, expectText, assertNoXSS } from './lib.mjs';

export const tests = [
  {
    name: 'create a user, a token and an Alertmanager integration',
    async fn({ page, url, data, context }) {
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url('/') });
      await page.goto(url('/login'));
      await page.getByLabel('User name').fill(data.root.user);
      await page.getByLabel('Password').fill(data.root.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('link', { name: 'Admin' }).click();

      await page.getByRole('link', { name: 'Users' }).click();
      await page.getByLabel('User name (a-z, 0-9, . _ -)').fill('bo');
      await page.getByLabel('Display name').fill('"><img src=x onerror="window.__xss.push(1)">');
      await page.getByRole('button', { name: 'Create user' }).click();
      expect((await page.locator('#secret').textContent()).length).toBe(20);
      await page.getByRole('link', { name: 'Done' }).click();
      await expectText(page.locator('table'), 'bo');

      await page.goto(url('/admin/tokens'));
      await page.getByLabel('Name (what it is for)').fill('grafana dashboards');
      await page.getByRole('button', { name: 'Create token' }).click();
      const token = await page.locator('#secret').textContent();
      expect(token).toMatch(/^qnch_/);
      await page.goto(url('/admin/tokens'));
      expect(await page.content()).not.toContain(token);

      await page.goto(url('/admin/integrations'));
      await page.getByLabel('Type').selectOption('alertmanager');
      await page.getByLabel('Name', { exact: true }).fill('<svg onload=window.__xss.push(1)>');
      await page.getByRole('button', { name: 'Create integration' }).click();
      await expectText(page.locator('#snippet'), 'webhook_configs');
      await page.locator('button.copy[data-copy="snippet"]').click();
      await expectText(page.locator('#copy-status'), /Copied|Selected/);
      await page.goto(url('/admin/integrations'));
      await assertNoXSS(page);
      await page.goto(url('/admin/users'));
      await assertNoXSS(page);
    },
  },
];
