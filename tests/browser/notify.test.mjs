// Notifications in a real browser: an admin adds a webhook channel to a
// loopback receiver, sees its secret once and sends a test that arrives;
// a person sets their e-mail address on the account page.
import { expect, expectText, eventually, assertNoXSS } from './lib.mjs';

async function login(page, url, who) {
  await page.goto(url('/login'));
  await page.getByLabel('User name').fill(who.user);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(url('/'));
}

export const tests = [
  {
    name: 'add a webhook channel, see its secret once, send a test',
    async fn({ page, url, data }) {
      await login(page, url, data.root);
      await page.getByRole('link', { name: 'Admin' }).click();
      await page.getByRole('link', { name: 'Notification channels' }).click();
      await expectText(page.locator('h1'), 'Notification channels');

      // The form asks for what the chosen type needs.
      await page.getByLabel('Type').selectOption('email');
      expect(await page.getByLabel(/^URL/).isVisible(), 'URL field for e-mail').toBe(false);
      await page.getByLabel('Type').selectOption('webhook');
      expect(await page.getByLabel(/^Recipients/).isVisible(), 'recipients field for a webhook').toBe(false);

      await page.getByLabel('Name', { exact: true }).fill('ops "><img src=x onerror="window.__xss.push(1)">');
      await page.getByRole('radio', { name: /team: the responders/ }).check();
      await page.getByLabel(/^URL/).fill(data.receiver + '/hooks/PATH-SECRET');
      await page.getByRole('button', { name: 'Add channel' }).click();
      const secret = await page.locator('#secret').textContent();
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
      await page.getByRole('link', { name: 'Done' }).click();

      const row = page.locator('table.channels tbody tr').first();
      await expectText(row, data.receiver + '/…');
      const list = await page.content();
      expect(list).not.toContain(secret);
      expect(list).not.toContain('PATH-SECRET');

      await row.getByRole('button', { name: /^Send test/ }).click();
      await expectText(page.locator('h1'), 'Deliveries');
      await expectText(page.locator('.flash.notice'), 'Test message queued');
      await eventually(async () => {
        await page.reload();
        await expectText(page.locator('table.deliveries tbody tr').first(), /test[\s\S]*sent ✔/, { timeout: 500 });
      }, { timeout: 10_000, message: 'the test message shown sent' });
      await assertNoXSS(page);
    },
  },
  {
    name: 'set my e-mail address and turn e-mail about my work off',
    async fn({ page, url, data }) {
      await login(page, url, data.ana);
      await page.getByRole('link', { name: data.ana.user, exact: true }).click();
      await expectText(page.locator('h1'), 'Your account');
      const box = page.getByRole('checkbox', { name: /E-mail me when I own a phase/ });
      expect(await box.isChecked(), 'e-mail about my work, by default').toBe(true);
      await page.getByLabel('E-mail address').fill('ana@example.com');
      await box.uncheck();
      await page.getByRole('button', { name: 'Save e-mail settings' }).click();
      await expectText(page.locator('.flash.notice'), 'E-mail settings saved');
      expect(await page.getByLabel('E-mail address').inputValue()).toBe('ana@example.com');
      expect(await page.getByRole('checkbox', { name: /E-mail me when I own a phase/ }).isChecked()).toBe(false);
    },
  },
];
