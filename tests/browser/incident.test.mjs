// The incident page in a real browser: updates both ways, all four phases
// with notes, a screenshot uploaded and shown, viewers without internal
// content, and hostile text rendered inert.
import { expect, expectText, eventually, assertNoXSS, newContext, newPage, XSS_PAYLOADS } from './lib.mjs';

async function login(page, url, who) {
  await page.goto(url('/login'));
  await page.getByLabel('User name').fill(who.user);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(url('/'));
}

// A 2×2 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64');

export const tests = [
  {
    name: 'post updates, advance through every phase, upload a screenshot; viewers see no internal update',
    async fn({ page, url, data, browser }) {
      await login(page, url, data.ana);
      await page.goto(url('/incidents/1'));
      await expectText(page.locator('h1'), '#1 Queue backlog');

      await page.getByLabel('New update (Markdown)').fill('Consumers **restarted**; see [dashboard](https://grafana.example/d/q)');
      await page.getByLabel('Public: everyone who can see this incident').check();
      await page.getByRole('button', { name: 'Post update' }).click();
      // Newest first, under the composer.
      await expectText(page.locator('.update').first(), 'Public');
      expect(await page.locator('.update').first().locator('strong', { hasText: 'restarted' }).count()).toBe(1);

      // Internal is preselected: a slip leaks nothing.
      expect(await page.getByLabel('Internal: the team only').first().isChecked()).toBe(true);
      await page.getByLabel('New update (Markdown)').fill('oc rsh into the pod: INTERNAL-ONLY');
      await page.getByRole('button', { name: 'Post update' }).click();
      await expectText(page.locator('.update.internal-update'), 'INTERNAL-ONLY');

      const notes = { mitigated: 'restarted the consumers', resolved: 'fixed the queue config', closed: 'alert on queue growth' };
      for (const to of ['mitigated', 'resolved', 'closed']) {
        await page.locator('#move summary').click();
        const form = page.locator('#transition');
        await form.locator('textarea[name="note"]').fill(notes[to]);
        if (await form.locator('textarea[name="detection_improvement"]').count()) {
          await form.locator('textarea[name="detection_improvement"]').fill('probe the queue depth');
        }
        await form.getByRole('button', { name: `Move to ${to}` }).click();
        await expectText(page.locator('.inc-meta .badge').first(), to);
      }
      for (const note of Object.values(notes)) await expectText(page.locator('#phases'), note);

      await page.locator('#f-file').setInputFiles({ name: 'graph.png', mimeType: 'image/png', buffer: PNG });
      await page.locator('#upload').getByLabel('Public').check();
      await page.getByRole('button', { name: 'Upload' }).click();
      const img = page.locator('#files img[alt="graph.png"]');
      await eventually(async () => expect(await img.evaluate((i) => i.complete && i.naturalWidth)).toBe(2));

      // An anonymous viewer, in another browser.
      const viewerContext = await newContext(browser);
      const viewer = await newPage(viewerContext);
      await viewer.goto(url('/incidents/1'));
      await expectText(viewer.locator('#updates'), 'restarted');
      expect(await viewer.content()).not.toContain('INTERNAL-ONLY');
      expect(await viewer.locator('form[action$="/updates"]').count()).toBe(0);
      await eventually(async () => expect(await viewer.locator('#files img').evaluate((i) => i.naturalWidth)).toBe(2));
      await viewerContext.close();
    },
  },
  {
    name: 'hostile titles, summaries, updates, labels, links and file names stay inert',
    async fn({ page, url, data }) {
      await login(page, url, data.ana);
      await page.goto(url('/incidents/2'));
      for (const p of XSS_PAYLOADS.slice(0, 4)) {
        await page.getByLabel('New update (Markdown)').fill(p);
        await page.getByRole('button', { name: 'Post update' }).click();
        await page.waitForURL(/#update-/);
      }
      await page.locator('#f-file').setInputFiles({ name: XSS_PAYLOADS[0].slice(0, 60) + '.html', mimeType: 'text/html', buffer: Buffer.from(XSS_PAYLOADS[0]) });
      await page.getByRole('button', { name: 'Upload' }).click();
      await page.waitForURL(/#files/);
      await page.goto(url('/incidents/2'));
      await page.goto(url('/'));
      await assertNoXSS(page);
    },
  },
  {
    name: 'the header follows changes made elsewhere, without a reload',
    async fn({ page, url, data, context }) {
      await login(page, url, data.ana);
      await page.goto(url('/incidents/3'));
      await expectText(page.locator('h1'), '#3 Disk filling');
      await page.evaluate(() => { window.__stayed = true; });
      // Someone else, in another tab, renames it and raises the severity.
      const other = await newPage(context);
      await other.goto(url('/incidents/3'));
      const status = await other.evaluate(async () => {
        const res = await fetch('/api/v1/incidents/3', {
          method: 'PATCH', credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': window.quench.csrf() },
          body: JSON.stringify({ title: 'Disk filling on db-2', severity: 'critical' }),
        });
        return res.status;
      });
      expect(status).toBe(200);
      await expectText(page.locator('h1'), '#3 Disk filling on db-2');
      await expectText(page.locator('.inc-meta .badge.sev-critical'), 'critical');
      expect(await page.evaluate(() => window.__stayed)).toBe(true);
      await eventually(async () => expect(await page.title()).toContain('db-2'));
      await other.close();
    },
  },
];
