// Inbox triage: alerts grouped by group key (collapsible, with counts),
// a bulk dismissal of a selected group, an acknowledgement (undone and
// made again), a snooze made and removed, and the board's count of
// alerts waiting.
import { expect, expectText, eventually, login } from './lib.mjs';

export const tests = [
  {
    name: 'group, select a whole group, dismiss it in bulk; acknowledge; snooze',
    async fn({ page, url, data }) {
      await login(page, url, data.ana);
      await expectText(page.locator('#inbox-count'), '5 waiting in the inbox');
      await page.locator('#inbox-count').click();
      await page.goto(url('/alerts'));

      const groups = page.locator('details.alert-group');
      expect(await groups.count(), 'groups').toBe(2);
      const disk = groups.filter({ hasText: 'DiskFull' });
      const queue = groups.filter({ hasText: 'QueueSlow' });
      await expectText(disk.locator('summary'), '3 alerts');
      await expectText(disk.locator('summary'), '3 firing');
      await expectText(queue.locator('summary'), '2 alerts');

      // Collapsible: a closed group hides its alerts.
      await queue.locator('summary').click();
      await eventually(async () => expect(await queue.locator('tr.alert-row').first().isVisible(), 'queue row visible').toBe(false));
      await queue.locator('summary').click();
      await eventually(async () => expect(await queue.locator('tr.alert-row').first().isVisible(), 'queue row visible').toBe(true));

      // Select the whole DiskFull group with its box, dismiss in bulk.
      await disk.getByRole('checkbox', { name: 'Select every alert of' }).check();
      await expectText(page.locator('#selected'), '3 alerts selected.');
      expect(await disk.locator('input[name="alert"]:checked').count(), 'checked in the group').toBe(3);
      expect(await queue.locator('input[name="alert"]:checked').count(), 'checked elsewhere').toBe(0);
      await page.getByLabel('Reason').first().fill('disks are being migrated');
      await page.getByRole('button', { name: 'Dismiss', exact: true }).click();
      await page.waitForURL(/\/alerts/);
      expect(await page.locator('details.alert-group').count(), 'groups after dismissing').toBe(1);
      await expectText(page.locator('details.alert-group summary'), 'QueueSlow');
      await expectText(page.locator('#waiting'), '2 firing alerts wait in the inbox');

      // Shown again on request, marked dismissed with the reason.
      await page.getByLabel('Dismissed').selectOption('any');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL(/dismissed=any/);
      const back = page.locator('details.alert-group').filter({ hasText: 'DiskFull' });
      await expectText(back.locator('summary'), '3 dismissed');
      await expectText(back.locator('.dismissed-note').first(), 'dismissed by ana');
      await expectText(back.locator('.dismissed-note').first(), 'disks are being migrated');

      // Acknowledge one alert; the view it came from is kept.
      const q = page.locator('details.alert-group').filter({ hasText: 'QueueSlow' });
      await q.locator('input[name="alert"]').first().check();
      await page.getByRole('button', { name: 'Acknowledge', exact: true }).click();
      await page.waitForURL(/dismissed=any/);
      await expectText(page.locator('details.alert-group').filter({ hasText: 'QueueSlow' }).locator('.triage.acked'), 'acknowledged by ana');
      await expectText(page.locator('details.alert-group').filter({ hasText: 'QueueSlow' }).locator('summary'), '1 acknowledged');

      // Undo, right after: the acknowledgement goes, the view stays; then
      // acknowledge again.
      await expectText(page.locator('#undo'), 'Acknowledged alert.');
      await page.locator('#undo').getByRole('button', { name: 'Undo' }).click();
      await page.waitForURL(/dismissed=any/);
      expect(await page.locator('#undo').count(), 'undo offered again').toBe(0);
      expect(await page.locator('details.alert-group').filter({ hasText: 'QueueSlow' }).locator('.triage.acked').count(), 'acked after undo').toBe(0);
      await page.locator('details.alert-group').filter({ hasText: 'QueueSlow' }).locator('input[name="alert"]').first().check();
      await page.getByRole('button', { name: 'Acknowledge', exact: true }).click();
      await page.waitForURL(/dismissed=any/);
      await expectText(page.locator('details.alert-group').filter({ hasText: 'QueueSlow' }).locator('summary'), '1 acknowledged');

      // A snooze of alerts like a group's (its shared labels), listed,
      // then removed.
      await page.locator('details.alert-group').filter({ hasText: 'QueueSlow' }).getByRole('link', { name: 'snooze alerts like these' }).click();
      await page.waitForURL(/snooze=/);
      expect(await page.getByLabel('Snooze alerts matching').inputValue(), 'prefilled matchers').toBe('alertname="QueueSlow", severity="warning"');
      await page.getByLabel('Snooze alerts matching').fill('alertname="QueueSlow"');
      await page.getByLabel('For', { exact: true }).fill('90m');
      await page.locator('#s-reason').fill('load test');
      await page.getByRole('button', { name: 'Snooze', exact: true }).click();
      await page.waitForURL(/\/alerts/);
      await expectText(page.locator('#snoozes li').first(), 'alertname="QueueSlow"');
      await expectText(page.locator('#snoozes li').first(), 'load test');
      await expectText(page.locator('.triage.snoozed').first(), 'snoozed until');
      await page.locator('#snoozes').getByRole('button', { name: 'Remove' }).click();
      await page.waitForURL(/\/alerts/);
      await expectText(page.locator('#snoozes'), 'No snoozes.');

      await page.goto(url('/'));
      await expectText(page.locator('#inbox-count'), '2 waiting in the inbox');
    },
  },
];
