// A reader for parallel verification (`startReaders` in logseal.js): reads
// (parses, canonicalises, hashes) batches of lines cut by a parallel
// Session and sends the results back. It makes no request: the compiled
// module comes from the thread that started it.
//
// In:  {type: 'init', module: WebAssembly.Module}
//      {type: 'read', run, id, batch: Uint8Array, spare?: ArrayBuffer, timeField, tagField}
// Out: {type: 'ready'} | {type: 'read', run, id, results: Uint8Array, spare: ArrayBuffer}
//      | {type: 'error', run, id, message}
//
// Buffers travel back and forth instead of being allocated per batch: the
// results are written into the `spare` the verifier sent (if it fits), and
// the batch's buffer goes back as the verifier's next spare.

import initWasm, { BatchReader } from '../pkg/logseal_web.js';

let reader = null;
let readerFor = null;

onmessage = async (e) => {
  const m = e.data;
  try {
    if (m.type === 'init') {
      await initWasm({ module_or_path: m.module });
      postMessage({ type: 'ready' });
    } else if (m.type === 'read') {
      const want = `${m.timeField}\n${m.tagField}`;
      if (readerFor !== want) {
        reader?.free();
        reader = new BatchReader(m.timeField ?? '', m.tagField ?? '');
        readerFor = want;
      }
      const results = reader.read(m.batch, m.spare ? new Uint8Array(m.spare) : undefined);
      const spare = m.batch.buffer;
      postMessage({ type: 'read', run: m.run, id: m.id, results, spare }, [results.buffer, spare]);
    }
  } catch (err) {
    postMessage({ type: 'error', run: m.run, id: m.id, message: String(err && err.message ? err.message : err) });
  }
};
