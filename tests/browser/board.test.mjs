// The board: drag to the next column opens the transition dialog and moves
// the card; a skip is refused with the reason; keyboard users reach the
// same dialog; a change made in a second session appears live.
import { expect, expectText, eventually, assertNoXSS, clearProblems, newContext, newPage } from './lib.mjs';

async function login(page, url, who) {
  await page.goto(url('/login'));
  await page.getByLabel('User name').fill(who.user);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(url('/'));
}

const card = (page, n) => page.locator(`.card[data-number="${n}"]`);
const column = (page, phase) => page.locator(`.column[data-phase="${phase}"]`);

export const tests = [
  {
    name: 'dragging a card to a later column is refused with the reason',
    async fn({ page, url, data }) {
      await login(page, url, data.ana);
      await card(page, 1).dragTo(column(page, 'closed'));
      await expectText(page.locator('.toast.error'), 'phases cannot be skipped');
      expect(await card(page, 1).getAttribute('data-phase')).toBe('active');
      expect(await page.locator('#transition').evaluate((d) => d.open)).toBe(false);
    },
  },
  {
    name: 'dragging to the next column asks for the note and moves the card',
    async fn({ page, url, data }) {
      await login(page, url, data.ana);
      await card(page, 1).dragTo(column(page, 'mitigated'));
      const dialog = page.locator('#transition');
      await eventually(async () => expect(await dialog.evaluate((d) => d.open)).toBe(true));
      await expectText(page.locator('#transition-note-label'), 'Mitigation');
      await page.locator('#transition-note').fill('restarted the consumer');
      await page.locator('#transition-submit').click();
      await eventually(async () => expect(await column(page, 'mitigated').locator('.card[data-number="1"]').count()).toBe(1));
      await expectText(column(page, 'mitigated').locator('.count'), '1');
    },
  },
  {
    name: 'keyboard: the card link opens the dialog; open checklist items need an override',
    async fn({ page, url, data }) {
      await login(page, url, data.ana);
      const link = card(page, 2).locator('.move');
      await link.focus();
      await page.keyboard.press('Enter');
      await page.locator('#transition-note').fill('rolled back');
      await page.locator('#transition-submit').click();
      await expectText(page.locator('#transition-error'), 'open checklist item');
      expect(await page.locator('#transition-override-row').isVisible()).toBe(true);
      clearProblems(page); // the 409 was the point
      await page.locator('#transition-override').check();
      await page.locator('#transition-submit').click();
      await eventually(async () => expect(await column(page, 'mitigated').locator('.card[data-number="2"]').count()).toBe(1));
    },
  },
  {
    name: 'a change in a second session arrives live',
    async fn({ page, url, data, browser }) {
      await login(page, url, data.ana);
      expect(await card(page, 3).getAttribute('data-phase')).toBe('active');
      const second = await newContext(browser); // another person, another browser
      const other = await newPage(second);
      await login(other, url, data.bo);
      await card(other, 3).locator('.move').click();
      await other.locator('#transition-note').fill('failed over');
      await other.locator('#transition-submit').click();
      await eventually(async () => expect(await column(page, 'mitigated').locator('.card[data-number="3"]').count()).toBe(1),
        { timeout: 10000, message: 'the first session sees the move without reloading' });
      await second.close();
    },
  },
  {
    name: 'viewers see public incidents only, without controls; titles stay inert',
    async fn({ page, url }) {
      await page.goto(url('/'));
      expect(await page.locator('.card').count()).toBe(4);
      expect(await page.locator('.card .move').count()).toBe(0);
      expect(await page.locator('.card[draggable="true"]').count()).toBe(0);
      expect(await page.content()).not.toContain('CONFIDENTIAL-MARKER');
      await assertNoXSS(page);
    },
  },
  {
    name: 'the card menu merges a duplicate into another incident, and it leaves the board',
    async fn({ page, url, data }) {
      await login(page, url, data.ana);
      const c = card(page, 3);
      await c.locator('.card-menu summary').click();
      await c.getByLabel('Merge into incident #').fill('1');
      await c.getByLabel('Why is it a duplicate?').fill('the same backlog');
      await c.getByRole('button', { name: 'Merge #3' }).click();
      await page.waitForURL(/\/incidents\/3#end$/);
      await expectText(page.locator('#end'), 'Merged into #1');
      await page.goto(url('/'));
      expect(await card(page, 3).count()).toBe(0);
    },
  },
];
