// logseal in the browser: verify sealed audit logs locally.
//
// A thin, typed layer (see logseal.d.ts) over the wasm-bindgen build in
// ../pkg/. Everything runs in the calling thread (use it from a Web Worker
// for large files, as www/worker.js does); nothing is sent anywhere: the
// only fetch is the one that loads the .wasm file, and only if you do not
// pass the module yourself.

import initWasm, { Session, LinePicker, verifyEd25519 as wasmVerifyEd25519 } from '../pkg/logseal_web.js';

let wasmModule = null;

// The smallest module using a wasm SIMD instruction (i8x16.splat,
// i8x16.popcnt): the verifier is built with simd128 (SHA-256 of four
// records at once), which browsers have since Chrome/Edge 91, Firefox 89
// and Safari 16.4. Checked first, so an older browser gets that message
// instead of a bare CompileError.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

/** Whether this JS engine runs WebAssembly SIMD, which the verifier needs. */
export function simdSupported() {
  return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
}

let loading = null;

/**
 * Load the WebAssembly module once. `wasm` may be a URL, a Response, the
 * bytes, or a compiled WebAssembly.Module; by default the .wasm beside the
 * glue (pkg/logseal_web_bg.wasm) is fetched.
 */
export function init(wasm) {
  if (!loading) {
    loading = (async () => {
      if (!simdSupported()) {
        throw new Error(
          'this browser does not support WebAssembly SIMD, which the verifier needs ' +
            '(Chrome or Edge 91+, Firefox 89+, Safari 16.4+)',
        );
      }
      let m = wasm ?? new URL('../pkg/logseal_web_bg.wasm', import.meta.url);
      if (!(m instanceof WebAssembly.Module)) {
        if (typeof m === 'string' || m instanceof URL || (typeof Request === 'function' && m instanceof Request)) m = fetch(m);
        m = await m;
        if (typeof Response === 'function' && m instanceof Response) {
          if (!m.ok) throw new Error(`HTTP ${m.status} ${m.statusText} fetching ${m.url}`);
          m = await m.arrayBuffer();
        }
        m = await WebAssembly.compile(m);
      }
      // Kept compiled, so reader workers instantiate it without a fetch.
      wasmModule = m;
      await initWasm({ module_or_path: m });
    })().catch((e) => {
      loading = null;
      throw new Error(`logseal: cannot load the WebAssembly verifier: ${e && e.message ? e.message : e}`);
    });
  }
  return loading;
}

/**
 * Start `count` reader workers (default: one per core) for parallel
 * verification; pass the pool as `options.readers`. Each worker gets the
 * compiled module from this thread, so starting makes no request beyond
 * loading reader-worker.js. Call it early (at page load) and reuse the pool.
 */
export async function startReaders(count, { wasm } = {}) {
  await init(wasm);
  const n = Math.max(1, Math.min(count ?? (globalThis.navigator?.hardwareConcurrency || 2), 16));
  const workers = [];
  try {
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL('./reader-worker.js', import.meta.url), { type: 'module' });
      workers.push(w);
      await new Promise((resolve, reject) => {
        w.onmessage = (e) => (e.data.type === 'ready' ? resolve() : reject(new Error(e.data.message)));
        w.onerror = (e) => reject(new Error(`logseal: a reader worker failed to start: ${e.message || 'unknown error'}`));
        w.postMessage({ type: 'init', module: wasmModule });
      });
    }
  } catch (e) {
    for (const w of workers) w.terminate();
    throw e;
  }
  let busy = false;
  return {
    size: n,
    workers,
    terminate() { for (const w of workers) w.terminate(); },
    /** @internal one verification at a time */
    acquire() {
      if (busy) throw new Error('logseal: this reader pool is already verifying; start another pool or wait');
      busy = true;
      return () => { busy = false; };
    },
  };
}

// Runs batches of a parallel Session on a reader pool and adds the results
// in order. `feed()` after pushing bytes; `await room()` before pushing more;
// `await drained()` before finishing.
let runs = 0;

function pipeline(session, pool, timeField, tagField) {
  const run = ++runs;
  const idle = [...pool.workers];
  const queue = [];
  const results = new Map();
  let nextId = 0;
  let nextApply = 0;
  let failure = null;
  let wake = null;
  // Spent buffers, reused instead of allocating one per batch: batch
  // buffers the readers sent back, result buffers already added. Not capped:
  // there are never more than the batches once in flight at the same time
  // (2 per reader plus one chunk's worth), and a fresh buffer per batch
  // costs more than the copy into it (page faults, zeroing).
  const spareBatches = [];
  const spareResults = [];
  const notify = () => { if (wake) { const w = wake; wake = null; w(); } };
  const dispatch = () => {
    while (idle.length && queue.length) {
      const w = idle.pop();
      const { id, batch } = queue.shift();
      const spare = spareResults.pop();
      const transfer = spare ? [batch.buffer, spare] : [batch.buffer];
      w.postMessage({ type: 'read', run, id, batch, spare, timeField, tagField }, transfer);
    }
  };
  for (const w of pool.workers) {
    w.onmessage = (e) => {
      const m = e.data;
      idle.push(w);
      if (m.run !== run) {
        // A late answer from an earlier, failed verification.
      } else if (m.type === 'read') {
        results.set(m.id, m.results);
        spareBatches.push(m.spare);
        try {
          while (results.has(nextApply)) {
            const r = results.get(nextApply);
            session.addBatch(r);
            spareResults.push(r.buffer);
            results.delete(nextApply);
            nextApply++;
          }
        } catch (err) {
          failure = failure ?? err;
        }
      } else {
        failure = failure ?? new Error(`logseal: a reader worker failed: ${m.message}`);
      }
      dispatch();
      notify();
    };
    w.onerror = (e) => {
      failure = failure ?? new Error(`logseal: a reader worker stopped: ${e.message || 'unknown error'}`);
      notify();
    };
  }
  const wait = () => new Promise((resolve) => { wake = resolve; });
  return {
    feed() {
      const take = () => {
        const spare = spareBatches.pop();
        const b = session.takeBatch(spare ? new Uint8Array(spare) : undefined);
        if (b === undefined && spare) spareBatches.push(spare);
        return b;
      };
      for (let b = take(); b !== undefined; b = take()) queue.push({ id: nextId++, batch: b });
      dispatch();
    },
    async room() {
      while (!failure && nextId - nextApply > 2 * pool.size) await wait();
      if (failure) throw failure;
    },
    async drained() {
      while (!failure && nextApply < nextId) await wait();
      if (failure) throw failure;
    },
  };
}

const enc = new TextEncoder();
/** Bytes read from a File or Blob at a time. */
const SLICE = 16 << 20;

function isStream(x) {
  return x && typeof x.getReader === 'function';
}

// A source as { name, size, chunks() }: chunks() yields Uint8Arrays.
function source(x, i) {
  if (x && typeof x === 'object' && 'data' in x && !(x instanceof Blob)) {
    const s = source(x.data, i);
    return { ...s, name: x.name ?? s.name };
  }
  if (typeof Blob !== 'undefined' && x instanceof Blob) {
    // Slices are read faster than Blob.stream()'s small chunks.
    return {
      name: x.name ?? `<input ${i + 1}>`,
      size: x.size,
      chunks: async function* chunks() {
        for (let o = 0; o < x.size; o += SLICE) yield new Uint8Array(await x.slice(o, o + SLICE).arrayBuffer());
      },
    };
  }
  if (isStream(x)) {
    let used = false;
    return {
      name: `<input ${i + 1}>`,
      size: undefined,
      chunks: async function* chunks() {
        if (used) throw new Error('logseal: a ReadableStream input can be read only once');
        used = true;
        const reader = x.getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            yield value;
          }
        } finally {
          reader.releaseLock();
        }
      },
    };
  }
  let bytes;
  if (typeof x === 'string') bytes = enc.encode(x);
  else if (x instanceof Uint8Array) bytes = x;
  else if (x instanceof ArrayBuffer) bytes = new Uint8Array(x);
  else if (ArrayBuffer.isView(x)) bytes = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  else throw new TypeError(`logseal: input ${i + 1} is not a File, Blob, ReadableStream, Uint8Array, ArrayBuffer, string or {name, data}`);
  return {
    name: `<input ${i + 1}>`,
    size: bytes.byteLength,
    // 1 MiB at a time, so progress is reported for big buffers too.
    chunks: async function* chunks() {
      for (let o = 0; o < bytes.byteLength; o += 1 << 20) yield bytes.subarray(o, o + (1 << 20));
    },
  };
}

function list(x) {
  if (x === undefined || x === null) return [];
  return Array.isArray(x) ? x : [x];
}

// Feed every chunk of `src` to `onChunk`; stop early if it returns false.
async function readAll(src, onChunk, signal) {
  for await (const chunk of src.chunks()) {
    if (signal && signal.aborted) throw signal.reason ?? new Error('logseal: aborted');
    if ((await onChunk(chunk)) === false) return;
  }
}

async function text(src, signal) {
  const parts = [];
  await readAll(src, (c) => { parts.push(c); }, signal);
  return new TextDecoder().decode(await new Blob(parts).arrayBuffer());
}

function keyText(keys) {
  return list(keys).join('\n');
}

/**
 * Verify sealed logs and return everything the page shows: the report, its
 * exact JSON, per-file figures and every anomaly score.
 */
export async function verifyDetailed(input, options = {}) {
  await init(options.wasm);
  const { onProgress, signal } = options;
  const sources = list(input).map(source);
  const cps = list(options.checkpoints).map((c, i) => {
    const s = source(c, i);
    return s.name.startsWith('<input') ? { ...s, name: `<checkpoints ${i + 1}>` } : s;
  });
  const total = sources.every((s) => s.size !== undefined)
    ? sources.reduce((a, s) => a + s.size, 0)
    : undefined;
  const pool = options.readers;
  const release = pool ? pool.acquire() : null;
  const session = pool
    ? Session.parallel(keyText(options.keys), options.timeField ?? '', options.tagField ?? '')
    : new Session(keyText(options.keys), options.timeField ?? '', options.tagField ?? '');
  const pipe = pool ? pipeline(session, pool, options.timeField ?? '', options.tagField ?? '') : null;
  try {
    let done = 0;
    for (let i = 0; i < sources.length; i++) {
      const src = sources[i];
      session.beginFile(src.name);
      let bytes = 0;
      let last = 0;
      await readAll(src, async (chunk) => {
        if (pipe) await pipe.room();
        session.push(chunk);
        if (pipe) pipe.feed();
        bytes += chunk.byteLength;
        if (onProgress && bytes - last >= 1 << 20) {
          last = bytes;
          onProgress({ file: src.name, fileIndex: i, files: sources.length, bytes: done + bytes, totalBytes: total });
        }
      }, signal);
      session.endFile();
      if (pipe) pipe.feed();
      done += bytes;
      if (onProgress) onProgress({ file: src.name, fileIndex: i, files: sources.length, bytes: done, totalBytes: total });
    }
    if (pipe) await pipe.drained();
    for (const c of cps) session.addCheckpoints(c.name, await text(c, signal));
    const files = JSON.parse(session.fileStats());
    const scores = {
      file: session.scoreFiles(),
      line: session.scoreLines(),
      score: session.scoreValues(),
    };
    const json = session.finish();
    return { json, report: JSON.parse(json), files, scores };
  } finally {
    session.free();
    if (release) release();
  }
}

/** Verify sealed logs; the report is that of `logseal verify --format json`. */
export async function verify(input, options = {}) {
  return (await verifyDetailed(input, options)).report;
}

/** Like `verify`, but the report's exact bytes as printed by the CLI (without its newline). */
export async function verifyJson(input, options = {}) {
  return (await verifyDetailed(input, options)).json;
}

/**
 * Read the given lines of a log file (gzip or not), numbered as the verifier
 * numbers them; stops reading once all are found. Returns Map<line, text>.
 */
export async function pickLines(input, lines, { maxLength = 65536, signal, wasm } = {}) {
  await init(wasm);
  const src = source(input, 0);
  const picker = new LinePicker(src.name, Float64Array.from(lines), maxLength);
  try {
    await readAll(src, (chunk) => {
      picker.push(chunk);
      return !picker.done();
    }, signal);
    return new Map(JSON.parse(picker.finish()));
  } finally {
    picker.free();
  }
}

/** logseal's Ed25519 rule (verify_strict, see README) on raw bytes. */
export async function verifyEd25519(publicKey, message, signature, { wasm } = {}) {
  await init(wasm);
  return wasmVerifyEd25519(publicKey, typeof message === 'string' ? enc.encode(message) : message, signature);
}
