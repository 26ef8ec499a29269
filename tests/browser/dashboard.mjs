// Opens the dashboard in headless Chromium (playwright-core), then watches a call come and go:
// prints one JSON line when the page is live, one when the call's row appears (with what the
// row shows, after a screenshot), and one when the row has left; or why it failed.
// Usage: node dashboard.mjs URL CALL_ID TIMEOUT_MS SCREENSHOT
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [url, callId, timeout, screenshot] = process.argv.slice(2);
const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'ivrd-chromium-')), {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1200, height: 800 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.goto(url);
  // The first snapshot has arrived once the status line tells its time.
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('updated'),
    null, { timeout: Number(timeout) });
  console.log(JSON.stringify({ ready: true, address: page.url() }));
  const row = `#calls tbody tr:has-text("${callId}")`;
  await page.waitForSelector(row, { timeout: Number(timeout) });
  // Let the duration tick once, then keep the picture.
  await page.waitForTimeout(1200);
  await page.screenshot({ path: screenshot, fullPage: true });
  const cells = await page.$$eval(`${row} td`, (tds) => tds.map((td) => td.textContent));
  const live = await page.textContent('#live');
  console.log(JSON.stringify({ seen: true, cells, live }));
  await page.waitForSelector(row, { state: 'detached', timeout: Number(timeout) });
  console.log(JSON.stringify({ gone: true, live: await page.textContent('#live') }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e) }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
