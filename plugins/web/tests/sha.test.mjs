// The browser build hashes records four at a time in wasm SIMD lanes
// (logseal_core::many). In Chromium, its SHA-256 must equal the browser's own
// (crypto.subtle) on every length across the padding boundaries and on
// random batches whose lengths differ, so lanes change messages mid-batch.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { requirePkg, launch, serve, ROOT } from './support.mjs';

let server;
let browser;

before(async () => {
  requirePkg();
  server = await serve({ '/': ROOT });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('SIMD-lane SHA-256 equals crypto.subtle in Chromium', async () => {
  const page = await browser.newPage();
  await page.goto(`${server.url}/plugins/web/www/index.html`);
  const got = await page.evaluate(async () => {
    const m = await import('../pkg/logseal_web.js');
    await m.default();
    const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8);
    const batches = [Array.from({ length: 301 }, (_, n) => n)];
    for (let b = 0; b < 40; b++) batches.push(Array.from({ length: 1 + (rnd() % 13) }, () => rnd() % 1200));
    batches.push([1_000_003]);
    let checked = 0;
    const bad = [];
    for (const lengths of batches) {
      const total = lengths.reduce((a, n) => a + n, 0);
      const data = Uint8Array.from({ length: total }, () => rnd() & 255);
      for (const lanes of [true, false]) {
        const out = m.sha256Many(data, Uint32Array.from(lengths), lanes);
        let at = 0;
        for (let i = 0; i < lengths.length; i++) {
          const want = hex(new Uint8Array(await crypto.subtle.digest('SHA-256', data.subarray(at, at + lengths[i]))));
          const have = hex(out.subarray(32 * i, 32 * i + 32));
          if (want !== have) bad.push({ lanes, length: lengths[i], want, have });
          at += lengths[i];
          checked++;
        }
      }
    }
    return { checked, bad: bad.slice(0, 5) };
  });
  assert.deepEqual(got.bad, []);
  assert.ok(got.checked > 1000, `only ${got.checked} hashes checked`);
});
