// The verification page, end to end in Chromium: drop files, read the verdict.
// Also proves the page makes no network request after it has loaded.
// Screenshots go to tests/artifacts/web/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { artifact, cliReport, launch, makeBig, makeFixtures, read, requirePkg, serve, ROOT } from './support.mjs';

let fx;
let server;
let browser;
let page;
const requests = []; // every request the browser made, page and worker
let readyAt = -1; // index in `requests` / server log when the page was ready
let serverReadyAt = -1;

before(async () => {
  requirePkg();
  fx = makeFixtures();
  server = await serve({ '/': ROOT });
  browser = await launch();
  browser.on('request', (r) => requests.push(r.url()));
  page = await browser.newPage();
  page.on('pageerror', (e) => { throw e; });
  await page.goto(`${server.url}/plugins/web/www/index.html`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 20000 });
  readyAt = requests.length;
  serverReadyAt = server.log.length;
  await page.fill('#keys', read(fx.dir, fx.pub).toString());
});

after(async () => {
  await browser?.close();
  await server?.close();
  fx?.cleanup();
});

// Drop files on the drop zone as a user would (a DataTransfer of Files).
async function drop(names, bytes = {}) {
  const files = names.map((name) => ({ name, b64: (bytes[name] ?? read(fx.dir, name)).toString('base64') }));
  const dt = await page.evaluateHandle((files) => {
    const dt = new DataTransfer();
    for (const f of files) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name));
    return dt;
  }, files);
  await page.dispatchEvent('#drop', 'drop', { dataTransfer: dt });
  await settle();
}

async function settle() {
  await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 60000 });
}

async function clear() {
  await page.click('#clear');
  await page.evaluate(() => { document.body.dataset.state = ''; });
}

const fixture = (name) => fx.fixtures.find((f) => f.name === name);
const text = (sel) => page.locator(sel).first().innerText();

test('an intact log gets a green verdict and the CLI report', async () => {
  await clear();
  await drop(['intact.ndjson']);
  assert.equal(await page.evaluate(() => document.body.dataset.verdict), 'intact');
  assert.match(await text('#verdict'), /Intact/);
  assert.equal(await page.locator('#verdict.intact').count(), 1);
  assert.equal(await page.locator('#chains tbody tr').count(), 1);
  assert.match(await text('#chains tbody tr'), /seq 0\.\.1999 by audit\.example\/web/);
  assert.equal(await page.locator('#report-json').textContent(), cliReport(fx.dir, fixture('intact')).json);
  const bg = await page.locator('#verdict').evaluate((e) => getComputedStyle(e).backgroundColor);
  assert.equal(bg, 'rgb(236, 253, 243)', 'green verdict background');
  await page.screenshot({ path: artifact('01-intact.png'), fullPage: true });
});

test('a modified record is flagged at its exact line, with the record shown', async () => {
  await clear();
  await drop(['modified.ndjson']);
  assert.equal(await page.evaluate(() => document.body.dataset.verdict), 'tampered');
  assert.match(await text('#verdict'), /Tampering found/);
  const f = page.locator('li.finding[data-kind="modified"]');
  assert.equal(await f.count(), 1);
  assert.match(await f.locator('.loc').innerText(), /^modified\.ndjson:42$/);
  assert.match(await f.locator('figure.record figcaption').innerText(), /modified\.ndjson:42/);
  assert.match(await f.locator('figure.record pre').innerText(), /"LabSZ-2"/);
  assert.match(await text('#chains tbody tr'), /tampered/);
  assert.equal(await page.locator('#report-json').textContent(), cliReport(fx.dir, fixture('modified')).json);
  await page.screenshot({ path: artifact('02-modified.png'), fullPage: true });
});

test('a forged insertion shows both versions with the changed field highlighted', async () => {
  await clear();
  await drop(['inserted.ndjson']);
  const f = page.locator('li.finding[data-kind="seq-collision"]');
  assert.equal(await f.count(), 1);
  assert.match(await f.locator('.loc').innerText(), /inserted\.ndjson:61, inserted\.ndjson:62/);
  assert.match(await f.locator('.hint').innerText(), /differ in: process\.name/);
  const changed = await f.locator('.changed').allInnerTexts();
  assert.deepEqual(changed, ['"sshd"', '"sshd-forged"']);
  assert.equal(await page.locator('li.finding[data-kind="unsealed"]').count(), 1);
  await f.scrollIntoViewIfNeeded();
  await page.screenshot({ path: artifact('03-forged.png'), fullPage: false });
});

test('a cut-off log with its checkpoint file is reported truncated', async () => {
  await clear();
  await drop(['truncated.ndjson', 'intact.cps']);
  assert.match(await text('#file-list'), /intact\.cps.*checkpoints/s);
  assert.equal(await page.locator('li.finding[data-kind="truncated"]').count(), 1);
  assert.equal(await page.locator('#report-json').textContent(), cliReport(fx.dir, fixture('truncated')).json);
});

test('a multi-stream export (plain + gzip) shows each stream and the anomaly timeline', async () => {
  await clear();
  await drop(['multi-1.ndjson', 'multi-2.ndjson.gz']);
  const cli = cliReport(fx.dir, fixture('multi-stream'));
  assert.equal(await page.locator('#report-json').textContent(), cli.json);
  assert.equal(await page.evaluate(() => document.body.dataset.verdict), 'intact');
  const rows = await page.locator('#chains tbody tr').allInnerTexts();
  assert.equal(rows.length, 2);
  assert.match(rows[0], /cloudtrail/);
  assert.match(rows[1], /sshd/);
  const flagged = JSON.parse(cli.json).flagged;
  assert.ok(flagged.length > 0, 'the fixture has flagged records');
  assert.equal(await page.locator('#flagged tbody tr').count(), flagged.length);
  assert.ok(await page.locator('#timeline').isVisible());
  // The timeline drew the flagged points in red.
  const red = await page.locator('#timeline').evaluate((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 1] < 80 && d[i + 2] < 80) n++;
    return n;
  });
  assert.ok(red > 20, `red pixels: ${red}`);
  // Clicking the timeline near its right end shows the last flagged record of the input.
  const files = fixture('multi-stream').logs;
  const last = flagged.reduce((a, f) => {
    const k = (x) => [files.indexOf(x.location.file), x.location.line];
    const [fa, la] = k(a);
    const [fb, lb] = k(f);
    return fb > fa || (fb === fa && lb > la) ? f : a;
  });
  const box = await page.locator('#timeline').boundingBox();
  await page.mouse.click(box.x + box.width - 9, box.y + 20);
  assert.match(await text('#timeline-detail figcaption'), new RegExp(`^${last.location.file.replace(/\./g, '\\.')}:${last.location.line} `));
  await page.locator('#flagged tbody tr').first().click();
  assert.match(await text('#timeline-detail figcaption'), /score/);
  assert.ok(await page.locator('#timeline-detail .changed').count() >= 1, 'the verdict is highlighted');
  await page.locator('#timeline-card').scrollIntoViewIfNeeded();
  await page.screenshot({ path: artifact('04-multi-stream.png'), fullPage: true });
});

test('malformed files get a clear message, not a crash', async () => {
  await clear();
  await drop(['notes.txt']);
  assert.equal(await page.evaluate(() => document.body.dataset.verdict), 'none');
  assert.match(await text('#verdict'), /No sealed records found/);
  assert.match(await text('#problems'), /notes\.txt is not a sealed log\. None of its 2 line\(s\) is a sealed record/);
  await page.screenshot({ path: artifact('05-malformed-text.png'), fullPage: false });

  await clear();
  const gz = gzipSync(read(fx.dir, 'intact.ndjson'));
  await drop(['broken.ndjson.gz'], { 'broken.ndjson.gz': gz.subarray(0, gz.length >> 1) });
  assert.equal(await page.evaluate(() => document.body.dataset.verdict), 'error');
  assert.match(await text('#verdict'), /Could not verify/);
  assert.match(await text('#verdict'), /broken\.ndjson\.gz: not a valid gzip file/);
  await page.screenshot({ path: artifact('06-malformed-gzip.png'), fullPage: false });

  // The page still works afterwards.
  await clear();
  await drop(['intact.ndjson.gz']);
  assert.equal(await page.evaluate(() => document.body.dataset.verdict), 'intact');
});

test('a large file verifies in the worker with a progress bar while the page stays responsive', async () => {
  await clear();
  const big = makeBig(fx.dir, 300000);
  // Measure how late timers fire on the main thread while verifying.
  await page.evaluate(() => {
    window.__gaps = [];
    window.__progress = [];
    let last = performance.now();
    window.__tick = setInterval(() => {
      const now = performance.now();
      window.__gaps.push(now - last);
      last = now;
      if (!document.querySelector('#progress-wrap').hidden) window.__progress.push(document.querySelector('#progress').value);
    }, 20);
  });
  await page.setInputFiles('#pick-logs', big);
  await settle();
  const { gaps, progress } = await page.evaluate(() => {
    clearInterval(window.__tick);
    return { gaps: window.__gaps, progress: window.__progress };
  });
  assert.equal(await page.evaluate(() => document.body.dataset.verdict), 'intact');
  assert.ok(progress.some((p) => p > 0 && p < 1), `progress seen: ${progress.slice(0, 10)}`);
  assert.ok(gaps.length > 5, 'verification took long enough to observe');
  const worst = Math.max(...gaps);
  assert.ok(worst < 250, `main thread blocked for ${worst.toFixed(0)} ms`);
  await page.screenshot({ path: artifact('07-large.png'), fullPage: false });
});

test('no network request after the page has loaded', async () => {
  // Loading fetched the page, its modules, the worker and the wasm (the
  // observers see worker requests: the wasm is fetched by the worker).
  const loaded = requests.slice(0, readyAt).map((u) => new URL(u).pathname);
  for (const p of ['/plugins/web/www/index.html', '/plugins/web/www/app.js', '/plugins/web/www/worker.js', '/plugins/web/pkg/logseal_web_bg.wasm']) {
    assert.ok(loaded.includes(p), `load requests include ${p}: ${loaded}`);
  }
  assert.ok(server.log.slice(0, serverReadyAt).some((r) => r.path.endsWith('.wasm')));
  // Everything since (all the tests above) made none.
  assert.ok(readyAt > 0);
  assert.deepEqual(requests.slice(readyAt), [], 'browser requests after load');
  assert.deepEqual(server.log.slice(serverReadyAt).map((r) => r.path), [], 'server hits after load');
});
