// The status page in a real browser: a customer looks at it and reports a
// problem; a responder declares an incident from the report, publishes it
// under a title for customers; the customer sees it on reload. Hostile
// report text stays inert wherever it is shown.
import { expect, expectText, assertNoXSS, login, newContext, newPage, XSS_PAYLOADS } from './lib.mjs';

export const tests = [
  {
    name: 'a customer reports a problem; a responder declares and publishes it; the status page shows it',
    async fn({ page, url, data, browser }) {
      // The customer: no account, no session.
      await page.goto(url('/status'));
      await expectText(page.locator('h1'), 'All systems operational');
      await expectText(page.locator('#components'), 'Checkout');
      await page.getByRole('link', { name: 'Report a problem' }).click();
      await page.waitForURL(url('/status/report'));
      await page.getByLabel('Which part of the service?').selectOption({ label: 'Checkout' });
      await page.getByLabel('What is wrong?').fill('Paying by card fails with error 502. ' + XSS_PAYLOADS.join(' '));
      await page.getByLabel(/Your e-mail address/).fill('customer@example.com');
      await page.getByRole('button', { name: 'Send report' }).click();
      await expectText(page.locator('.flash.notice'), 'your report reached the team');

      // The responder, in another browser.
      const teamContext = await newContext(browser);
      const team = await newPage(teamContext);
      await login(team, url, data.ana);
      await team.getByRole('link', { name: 'Alerts' }).click();
      const report = team.locator('tr.alert-row', { hasText: 'Customer report: Paying by card fails' });
      await expectText(report, 'Paying by card fails with error 502');
      await assertNoXSS(team);
      await report.locator('input[name="alert"]').check();
      await team.getByLabel('Title (default: the first alert\'s)').fill('payments-api 502s after deploy');
      await team.getByRole('button', { name: 'Declare incident' }).click();
      await team.waitForURL(/\/incidents\/\d+$/);
      await expectText(team.locator('.inc-meta'), 'detected by customer');
      await assertNoXSS(team);

      // Name the service the component stands for, then publish.
      await team.locator('#details summary').click();
      await team.getByLabel('Services (comma-separated)').fill('checkout');
      await team.locator('#details').getByRole('button', { name: 'Save' }).click();
      await team.waitForURL(/#details$/);
      await team.getByLabel('Title for customers').fill('Card payments fail');
      await team.getByRole('button', { name: 'Publish to the status page' }).click();
      await team.waitForURL(/#status-page$/);
      await expectText(team.locator('#status-page'), 'Customers see this incident');
      await expectText(team.locator('.inc-meta'), 'on the status page');
      await teamContext.close();

      // The customer reloads the status page.
      await page.goto(url('/status'));
      await page.reload();
      await expectText(page.locator('h1'), 'Degraded performance');
      await expectText(page.locator('#incidents'), 'Card payments fail');
      await expectText(page.locator('#component-' + data.checkout), 'Degraded performance');
      const today = page.locator(`#component-${data.checkout} ol.history > li`).last();
      expect(await today.getAttribute('title')).toContain('Card payments fail');
      expect(await page.content()).not.toContain('payments-api');
      await assertNoXSS(page);
    },
  },
];
