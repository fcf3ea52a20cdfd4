// The browser build applies the same Ed25519 rule as the native build: on
// CCTV's 914 edge cases it accepts exactly the vectors pinned by
// crates/core/tests/vectors.rs (tests/vectors/ed25519/logseal-accepted.txt).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch, requirePkg, serve, ROOT } from './support.mjs';

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

test('browser build accepts exactly the pinned Ed25519 edge cases', async () => {
  const page = await browser.newPage();
  await page.goto(`${server.url}/plugins/web/www/index.html`);
  const got = await page.evaluate(async () => {
    const api = await import('../js/logseal.js');
    const vectors = await (await fetch('/tests/vectors/ed25519/ed25519vectors.json')).json();
    const hex = (s) => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
    const accepted = [];
    for (const v of vectors) {
      if (await api.verifyEd25519(hex(v.key), v.msg, hex(v.sig))) accepted.push(v.number);
    }
    return { count: vectors.length, accepted: `${accepted.join('\n')}\n` };
  });
  assert.equal(got.count, 914);
  const pinned = readFileSync(join(ROOT, 'tests/vectors/ed25519/logseal-accepted.txt'), 'utf8');
  assert.equal(got.accepted, pinned);
});
