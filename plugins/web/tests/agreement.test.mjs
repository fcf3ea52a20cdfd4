// For every fixture, the report of the browser build (in Chromium) equals
// the CLI's `logseal verify --format json`, byte for byte.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cliReport, launch, makeFixtures, read, requirePkg, serve, ROOT } from './support.mjs';

let fx;
let server;
let browser;
let page;

before(async () => {
  requirePkg();
  fx = makeFixtures();
  server = await serve({ '/': ROOT, '/fx/': fx.dir });
  browser = await launch();
  page = await browser.newPage();
  await page.goto(`${server.url}/plugins/web/www/index.html`);
});

after(async () => {
  await browser?.close();
  await server?.close();
  fx?.cleanup();
});

// Verify in the page with the JS API; files are fetched from the loopback
// server. With `readers`, records are read on that many reader workers.
async function browserReport(f, readers = 0) {
  return page.evaluate(async ({ f, pub, readers }) => {
    const api = await import('../js/logseal.js');
    if (readers && !globalThis.pools?.[readers]) {
      globalThis.pools = globalThis.pools ?? {};
      globalThis.pools[readers] = await api.startReaders(readers);
    }
    const file = async (name) => new File([await (await fetch(`/fx/${name}`)).arrayBuffer()], name);
    const logs = await Promise.all(f.logs.map(file));
    const checkpoints = await Promise.all((f.checkpoints ?? []).map(file));
    const keys = f.keys ? await (await fetch(`/fx/${f.keys}`)).text() : undefined;
    return api.verifyJson(logs, { keys, checkpoints, readers: readers ? globalThis.pools[readers] : undefined });
  }, { f, pub: fx.pub, readers });
}

test('fixtures cover every tampering kind asked for', () => {
  const kinds = new Set(fx.fixtures.flatMap((f) => f.expect.kinds));
  for (const k of ['modified', 'deleted', 'seq-collision', 'unsealed', 'truncated']) assert.ok(kinds.has(k), k);
});

test('browser report equals the CLI report for every fixture', async (t) => {
  for (const f of fx.fixtures) {
    await t.test(f.name, async () => {
      const cli = cliReport(fx.dir, f);
      const report = JSON.parse(cli.json);
      // The fixture is what it claims to be (so agreement is not vacuous).
      assert.equal(report.intact, f.expect.intact, `${f.name}: CLI intact`);
      assert.equal(cli.code, f.expect.intact ? 0 : 1);
      const kinds = new Set(report.findings.map((x) => x.kind));
      for (const k of f.expect.kinds) assert.ok(kinds.has(k), `${f.name}: expected a ${k} finding, got ${[...kinds]}`);
      if (f.expect.kinds.length === 0) assert.equal(report.findings.length, 0, `${f.name}: no findings expected`);
      if (f.expect.chains) assert.equal(report.chains.length, f.expect.chains);
      if (f.expect.line) {
        const at = report.findings.find((x) => x.kind === f.expect.kinds[0]);
        assert.deepEqual(at.locations[0], { file: f.logs[0], line: f.expect.line });
      }
      const browser = await browserReport(f);
      assert.equal(browser, cli.json);
      // Parallel reading (one and three reader workers) changes nothing.
      for (const n of [1, 3]) assert.equal(await browserReport(f, n), cli.json, `${f.name}: ${n} reader workers`);
    });
  }
});

test('the JS API takes strings, bytes and streams, and rejects bad keys clearly', async () => {
  const f = fx.fixtures.find((x) => x.name === 'modified');
  const cli = cliReport(fx.dir, f);
  const text = read(fx.dir, 'modified.ndjson').toString();
  const pub = read(fx.dir, fx.pub).toString();
  const got = await page.evaluate(async ({ text, pub }) => {
    const api = await import('../js/logseal.js');
    const bytes = new TextEncoder().encode(text);
    // Odd-sized chunks, split inside lines and inside multi-byte characters.
    const stream = new ReadableStream({
      start(c) {
        for (let o = 0; o < bytes.length; o += 777) c.enqueue(bytes.slice(o, o + 777));
        c.close();
      },
    });
    const a = await api.verifyJson({ name: 'modified.ndjson', data: text }, { keys: pub });
    const b = await api.verifyJson({ name: 'modified.ndjson', data: stream }, { keys: [pub] });
    const c = await api.verifyJson({ name: 'modified.ndjson', data: bytes.buffer }, { keys: pub });
    let err = '';
    try {
      await api.verify(text, { keys: 'not a key' });
    } catch (e) {
      err = e.message;
    }
    return { a, b, c, err };
  }, { text, pub });
  assert.equal(got.a, cli.json);
  assert.equal(got.b, cli.json);
  assert.equal(got.c, cli.json);
  assert.match(got.err, /line 1: not a verifier key/);
});

test('a browser without WebAssembly SIMD is told so, not given a CompileError', async () => {
  // A fresh page whose engine reports no SIMD, as Chrome < 91, Firefox < 89
  // or Safari < 16.4 would: the probe module fails validation there.
  const old = await browser.newPage();
  try {
    await old.goto(`${server.url}/plugins/web/www/index.html`);
    const got = await old.evaluate(async () => {
      const api = await import('../js/logseal.js?no-simd');
      const real = api.simdSupported();
      const validate = WebAssembly.validate;
      WebAssembly.validate = (bytes) => {
        // Any module with a SIMD opcode prefix (0xfd) is invalid here.
        if (new Uint8Array(bytes).includes(0xfd)) return false;
        return validate(bytes);
      };
      let err = '';
      try {
        await api.verify('{}\n', {});
      } catch (e) {
        err = e.message;
      }
      return { real, faked: api.simdSupported(), err };
    });
    assert.equal(got.real, true, 'Chromium runs wasm SIMD');
    assert.equal(got.faked, false);
    assert.match(got.err, /does not support WebAssembly SIMD, which the verifier needs \(Chrome or Edge 91\+/);
  } finally {
    await old.close();
  }
});
