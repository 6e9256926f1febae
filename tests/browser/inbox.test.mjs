// Opening an incident through the form, declaring one from the alert inbox,
// and alert text that tries to run script.
import { expect, expectText, assertNoXSS } from './lib.mjs';

async function login(page, url, who) {
  await page.goto(url('/login'));
  await page.getByLabel('User name').fill(who.user);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(url('/'));
}

export const tests = [
  {
    name: 'open an incident with the form and land on it',
    async fn({ page, url, data }) {
      await login(page, url, data.ana);
      await page.getByRole('link', { name: 'New incident' }).click();
      await page.getByLabel('Title').fill('Nightly backup failed');
      await page.getByLabel('Severity').selectOption('critical');
      await page.getByLabel('Services (comma-separated)').fill('backup');
      await page.getByLabel('How did you learn of it?').selectOption('customer');
      await page.getByRole('button', { name: 'Open incident' }).click();
      await page.waitForURL(/\/incidents\/\d+$/);
      await expectText(page.locator('h1'), 'Nightly backup failed');
      await page.goto(url('/incidents?q=backup'));
      await expectText(page.locator('table.log'), 'Nightly backup failed');
    },
  },
  {
    name: 'declare an incident from inbox alerts; hostile alert text stays inert',
    async fn({ page, url, data }) {
      await login(page, url, data.ana);
      await page.getByRole('link', { name: 'Alerts' }).click();
      await page.getByLabel('Labels').fill('team="ci"');
      await page.getByRole('button', { name: 'Filter' }).click();
      expect(await page.locator('tr.alert-row').count()).toBe(1);
      await page.goto(url('/alerts?unattached=1'));
      await assertNoXSS(page);
      await page.getByLabel('Select queue growing').check();
      await page.getByRole('button', { name: 'Declare incident' }).click();
      await page.waitForURL(/\/incidents\/\d+$/);
      await expectText(page.locator('h1'), 'queue growing');
      await expectText(page.locator('#alerts'), 'queue growing');
      await assertNoXSS(page);
    },
  },
];
