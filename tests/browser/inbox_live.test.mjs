// The board header's inbox count is live: alerts posted to the intake
// change it without a reload (through the /events stream), a storm
// included; so does the inbox page's.
import { expect, expectText, login } from './lib.mjs';

async function post(url, data, body) {
  const res = await fetch(url(data.hook), {
    method: 'POST',
    headers: { Authorization: `Bearer ${data.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status, 'intake status').toBe(200);
}

export const tests = [
  {
    name: 'the inbox count follows alerts posted to the intake, without a reload',
    async fn({ page, url, data }) {
      await login(page, url, data.ana);
      await page.goto(url('/'));
      await expectText(page.locator('#inbox-count'), '0 waiting in the inbox');
      await page.locator('html[data-live="on"]').waitFor({ timeout: 10000 });
      await page.evaluate(() => { window.__sameDocument = true; });

      await post(url, data, { title: 'disk filling', severity: 'warning' });
      await expectText(page.locator('#inbox-count'), '1 waiting in the inbox', { timeout: 10000 });
      expect(await page.locator('#inbox-count.waiting').count(), 'marked waiting').toBe(1);

      // A storm of 300 in ten deliveries: the count ends right.
      for (let i = 0; i < 10; i++) {
        const alerts = [];
        for (let j = 0; j < 30; j++) alerts.push({ title: `storm ${i}-${j}`, severity: 'warning' });
        await post(url, data, { alerts });
      }
      await expectText(page.locator('#inbox-count'), '301 waiting in the inbox', { timeout: 10000 });
      expect(await page.evaluate(() => window.__sameDocument === true), 'no reload').toBe(true);

      // The inbox page's own count follows too.
      await page.goto(url('/alerts'));
      await expectText(page.locator('#waiting'), '301 firing alerts wait in the inbox');
      await page.locator('html[data-live="on"]').waitFor({ timeout: 10000 });
      await post(url, data, { title: 'one more', severity: 'warning' });
      await expectText(page.locator('#waiting'), '302 firing alerts wait in the inbox', { timeout: 10000 });
    },
  },
];
