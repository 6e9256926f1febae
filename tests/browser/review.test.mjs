// The weekly review in a real browser: the agenda lists the week's
// incidents, the meeting is recorded with a decision, and the decision
// shows on the past review's page and in the incident's timeline. The
// insights page draws its charts without a CSP violation.
import { expect, expectText, assertNoXSS, login } from './lib.mjs';

export const tests = [
  {
    name: 'record a review with a decision',
    async fn({ page, url, data }) {
      await login(page, url, data.ana);
      await page.getByRole('link', { name: 'Review', exact: true }).click();
      await expectText(page.locator('h1'), 'Weekly review');
      await expectText(page.locator('#opened-h'), 'Opened (1)');
      await expectText(page.locator('.agenda'), 'no detection improvement yet');

      await page.getByLabel('Attendees (comma-separated)').fill('ana, bo');
      await page.getByLabel('Minutes (Markdown)').fill('We went through **#1**.');
      await page.getByLabel(/^Decision on #1 /).fill('follow up: add CA monitoring <img src=x onerror="window.__xss.push(1)">');
      await page.getByRole('button', { name: 'Record review' }).click();

      await page.waitForURL(url('/reviews/1'));
      await expectText(page.locator('h1'), 'Review #1');
      await expectText(page.locator('main'), 'follow up: add CA monitoring');
      expect(await page.locator('.minutes strong').textContent()).toBe('#1');
      await assertNoXSS(page);

      await page.getByRole('link', { name: /#1 Certificates/ }).first().click();
      await expectText(page.locator('main'), 'weekly review #1 decided: follow up: add CA monitoring');

      await page.goto(url('/insights'));
      await expectText(page.locator('#headline'), 'Found by monitoring before customers: 0%');
      expect(await page.locator('figure.chart svg[role="img"]').count()).toBeGreaterThan(5);
      await page.locator('#detection-sources summary').click();
      await expectText(page.locator('#detection-sources table'), 'customer');
    },
  },
];
