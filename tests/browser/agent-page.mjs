// Opens an agent's page in headless Chromium (playwright-core) and waits for a ticket with an
// SMS reply to appear on it. Prints one JSON line: what the page showed, or why it failed.
// Usage: node agent-page.mjs URL REPLY_TEXT TIMEOUT_MS
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [url, reply, timeout] = process.argv.slice(2);
// A fresh, empty profile each run.
const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'ivrd-chromium-')), {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.goto(url);
  // Tell the test the page is listening before anything rings.
  await page.waitForFunction(() => document.getElementById('state') !== null);
  console.log(JSON.stringify({ ready: true }));
  await page.waitForSelector(`#replies li:has-text("${reply}")`, { timeout: Number(timeout) });
  const shown = await page.evaluate(() => ({
    state: document.getElementById('state').textContent,
    caller: document.getElementById('caller').textContent,
    queue: document.getElementById('queue').textContent,
    consent: document.getElementById('consent').textContent,
    banner: getComputedStyle(document.getElementById('banner')).display !== 'none',
    replies: [...document.querySelectorAll('#replies li')].map((li) => li.textContent),
  }));
  console.log(JSON.stringify(shown));
} catch (e) {
  console.log(JSON.stringify({ error: String(e) }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
