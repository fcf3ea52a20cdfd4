// Verification off the main thread, so the page stays responsive on big files.
//
// Messages in:  {type: 'verify', files: File[], checkpoints: File[], keys, timeField, tagField}
// Messages out: {type: 'ready'} | {type: 'progress', ...Progress}
//               | {type: 'result', json, files, scores, roles, lines} | {type: 'error', message}

import { init, startReaders, verifyDetailed, pickLines } from '../js/logseal.js';

/** Reader workers (one per core), started with the page so verifying makes no request. */
let readers = null;

/** How many cited records are fetched for display, at most. */
const MAX_LINES = 2000;

// Is this file a checkpoint file (signed notes) rather than a log?
async function isCheckpointFile(file) {
  const head = new Uint8Array(await file.slice(0, 65536).arrayBuffer());
  if (head[0] === 0x1f && head[1] === 0x8b) return false;
  const text = new TextDecoder().decode(head);
  const t = text.trimStart();
  return !t.startsWith('{') && /\n\n\u2014 \S+ \S+/.test(text);
}

async function run(msg) {
  const logs = [];
  const cps = [...msg.checkpoints];
  const roles = {};
  for (const f of msg.files) {
    if (await isCheckpointFile(f)) cps.push(f);
    else logs.push(f);
  }
  for (const f of logs) roles[f.name] = 'log';
  for (const f of cps) roles[f.name] = 'checkpoints';
  if (logs.length === 0) throw new Error('no log file given: only checkpoint files. Add the sealed log (.ndjson or .gz).');
  const started = performance.now();
  // At most ten progress updates a second: each one re-renders the bar.
  let shown = -Infinity;
  const progress = (p) => {
    const now = performance.now();
    const last = p.fileIndex === p.files - 1 && p.totalBytes !== undefined && p.bytes === p.totalBytes;
    if (now - shown >= 100 || last) {
      shown = now;
      postMessage({ type: 'progress', ...p });
    }
  };
  const d = await verifyDetailed(logs, {
    keys: msg.keys,
    checkpoints: cps,
    timeField: msg.timeField,
    tagField: msg.tagField,
    readers,
    onProgress: progress,
  });
  const ms = performance.now() - started;

  // The records the report cites, for display.
  const want = new Map(logs.map((f) => [f.name, new Set()]));
  let budget = MAX_LINES;
  const cite = (loc) => {
    const s = want.get(loc.file);
    if (s && budget > 0 && !s.has(loc.line)) {
      s.add(loc.line);
      budget--;
    }
  };
  for (const f of d.report.findings) f.locations.forEach(cite);
  for (const f of d.report.flagged) cite(f.location);
  const lines = {};
  for (const f of logs) {
    const s = want.get(f.name);
    if (s.size === 0) continue;
    lines[f.name] = [...await pickLines(f, [...s])];
  }
  const { scores } = d;
  postMessage(
    { type: 'result', json: d.json, files: d.files, scores, roles, lines, ms, logNames: logs.map((f) => f.name) },
    [scores.file.buffer, scores.line.buffer, scores.score.buffer],
  );
}

async function start() {
  await init();
  try {
    readers = await startReaders();
  } catch (e) {
    // Verification still works on this thread alone.
    console.warn(`logseal: verifying on one thread: ${e && e.message ? e.message : e}`);
  }
}

start().then(
  () => postMessage({ type: 'ready' }),
  (e) => postMessage({ type: 'fatal', message: String(e && e.message ? e.message : e) }),
);

onmessage = async (e) => {
  if (e.data.type !== 'verify') return;
  try {
    await run(e.data);
  } catch (err) {
    postMessage({ type: 'error', message: String(err && err.message ? err.message : err) });
  }
};
