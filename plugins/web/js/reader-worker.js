// A reader for parallel verification (`startReaders` in logseal.js): reads
// (parses, canonicalises, hashes) batches of lines cut by a parallel
// Session and sends the results back. It makes no request: the compiled
// module comes from the thread that started it.
//
// In:  {type: 'init', module: WebAssembly.Module}
//      {type: 'read', run, id, batch: Uint8Array, timeField, tagField}
// Out: {type: 'ready'} | {type: 'read', run, id, results: Uint8Array}
//      | {type: 'error', run, id, message}

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
      const results = reader.read(m.batch);
      postMessage({ type: 'read', run: m.run, id: m.id, results }, [results.buffer]);
    }
  } catch (err) {
    postMessage({ type: 'error', run: m.run, id: m.id, message: String(err && err.message ? err.message : err) });
  }
};
