// The verification page: inputs, the worker, and rendering the report.
// Plain DOM code, no framework; the page makes no network request after load.

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

const state = {
  files: [], // {file: File, role: 'auto' | 'checkpoints'}
  running: false,
  ready: false,
  result: null,
};

// ---- worker ---------------------------------------------------------------

const worker = new Worker(new URL('worker.js', import.meta.url), { type: 'module' });
worker.onmessage = (e) => {
  const m = e.data;
  if (m.type === 'ready') {
    state.ready = true;
    document.body.dataset.ready = 'true';
    status('Ready. Drop a sealed log to verify it.');
    updateButtons();
  } else if (m.type === 'fatal') {
    status(`The verifier could not start: ${m.message}`, 'error');
  } else if (m.type === 'progress') {
    const total = m.totalBytes || 0;
    $('#progress').value = total ? m.bytes / total : 0;
    $('#progress-text').textContent =
      `${fmtBytes(m.bytes)}${total ? ` of ${fmtBytes(total)}` : ''} · file ${m.fileIndex + 1} of ${m.files}: ${m.file}`;
  } else if (m.type === 'result') {
    done();
    render(m);
  } else if (m.type === 'error') {
    done();
    renderError(m.message);
  }
};
worker.onerror = (e) => {
  done();
  renderError(`the verifier stopped: ${e.message || 'unknown error'}`);
};

function done() {
  state.running = false;
  $('#progress-wrap').hidden = true;
  document.body.dataset.state = 'done';
  updateButtons();
}

function status(text, cls = '') {
  const s = $('#status');
  s.textContent = text;
  s.className = cls;
}

function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1 << 30) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  return `${(n / (1 << 30)).toFixed(2)} GiB`;
}

// ---- inputs -----------------------------------------------------------------

function addFiles(list, role) {
  for (const file of list) {
    state.files = state.files.filter((f) => f.file.name !== file.name);
    state.files.push({ file, role });
  }
  renderFiles();
  verify();
}

function renderFiles() {
  const ul = $('#file-list');
  ul.replaceChildren(...state.files.map((f, i) => el('li', {},
    el('span', { class: 'fname' }, f.file.name),
    el('span', { class: 'fsize' }, fmtBytes(f.file.size)),
    el('span', { class: 'frole' }, state.result?.roles?.[f.file.name] ?? (f.role === 'checkpoints' ? 'checkpoints' : '')),
    el('button', { class: 'link', title: `remove ${f.file.name}`, onclick: () => { state.files.splice(i, 1); renderFiles(); updateButtons(); } }, '×'),
  )));
  updateButtons();
}

function updateButtons() {
  $('#verify').disabled = !state.ready || state.running || state.files.length === 0;
}

const drop = $('#drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  addFiles([...e.dataTransfer.files], 'auto');
});
$('#pick-logs').addEventListener('change', (e) => { addFiles([...e.target.files], 'auto'); e.target.value = ''; });
$('#pick-cps').addEventListener('change', (e) => { addFiles([...e.target.files], 'checkpoints'); e.target.value = ''; });
$('#pick-keys').addEventListener('change', async (e) => {
  const f = e.target.files[0];
  if (!f) return;
  const t = await f.text();
  const ta = $('#keys');
  ta.value = (ta.value.trim() ? `${ta.value.trim()}\n` : '') + t.trim();
  e.target.value = '';
  if (state.files.length) verify();
});
$('#verify').addEventListener('click', () => verify());
$('#clear').addEventListener('click', () => {
  state.files = [];
  state.result = null;
  renderFiles();
  $('#result').hidden = true;
  status(state.ready ? 'Ready. Drop a sealed log to verify it.' : 'Loading the verifier…');
});

function verify() {
  if (!state.ready || state.running || state.files.length === 0) return;
  state.running = true;
  document.body.dataset.state = 'running';
  updateButtons();
  $('#progress').value = 0;
  $('#progress-text').textContent = 'starting…';
  $('#progress-wrap').hidden = false;
  status('Verifying…');
  worker.postMessage({
    type: 'verify',
    files: state.files.filter((f) => f.role !== 'checkpoints').map((f) => f.file),
    checkpoints: state.files.filter((f) => f.role === 'checkpoints').map((f) => f.file),
    keys: $('#keys').value,
    timeField: $('#time-field').value,
    tagField: $('#tag-field').value,
  });
}

// ---- rendering ----------------------------------------------------------------

function renderError(message) {
  state.result = null;
  $('#result').hidden = false;
  const v = $('#verdict');
  v.className = 'card verdict error';
  v.replaceChildren(el('h2', {}, 'Could not verify'), el('p', { class: 'message' }, message));
  for (const id of ['#problems', '#chains tbody', '#findings', '#flagged tbody', '#timeline-detail']) $(id).replaceChildren();
  $('#findings-card').hidden = true;
  $('#timeline-card').hidden = true;
  $('#chains-card').hidden = true;
  $('#report-card').hidden = true;
  $('#report-json').textContent = '';
  document.body.dataset.verdict = 'error';
  status(`Error: ${message}`, 'error');
}

function render(m) {
  const report = JSON.parse(m.json);
  state.result = { ...m, report };
  renderFiles();
  $('#result').hidden = false;
  const lines = new Map(Object.entries(m.lines).map(([f, l]) => [f, new Map(l)]));
  const record = (loc) => lines.get(loc.file)?.get(loc.line);

  // Files that hold no sealed record at all: not a logseal export.
  const unsealedPerFile = new Map();
  for (const f of report.findings) {
    if (f.kind === 'unsealed') for (const l of f.locations) unsealedPerFile.set(l.file, (unsealedPerFile.get(l.file) ?? 0) + 1);
  }
  const notLogs = m.files.filter((f) => f.nonblank === 0 || unsealedPerFile.get(f.name) === f.nonblank);
  const problems = notLogs.map((f) => el('div', { class: 'card problem' },
    el('strong', {}, `${f.name} is not a sealed log. `),
    f.nonblank === 0
      ? 'It is empty.'
      : `None of its ${f.nonblank} line(s) is a sealed record (a JSON object with a _logseal member)${f.gzip ? '' : '; if it is compressed, only gzip is supported'}. `,
    f.nonblank ? firstUnsealedReason(report, f.name) : ''));
  $('#problems').replaceChildren(...problems);

  // Verdict.
  const v = $('#verdict');
  const records = report.chains.reduce((a, c) => a + c.records, 0);
  const noKeys = !$('#keys').value.trim();
  const tampered = report.findings.filter((f) => f.tampering).length;
  let verdict;
  if (report.chains.length === 0) {
    verdict = 'none';
    v.className = 'card verdict none';
    v.replaceChildren(el('h2', {}, 'No sealed records found'),
      el('p', {}, `Read ${report.lines} line(s) in ${m.files.length} file(s); none is a sealed logseal record. Nothing was verified.`));
  } else if (report.intact) {
    verdict = 'intact';
    v.className = 'card verdict intact';
    v.replaceChildren(el('h2', {}, '✓ Intact'),
      el('p', {}, `${records} record(s) in ${report.chains.length} chain(s) from ${m.logNames.length} file(s): no sign of tampering.`),
      noKeys ? el('p', { class: 'warn' }, 'No verifier key given: checkpoint signatures are not trusted, so only the links between records are checked. Paste the verifier key to prove the records.') : '',
      el('p', { class: 'small' }, `Verified in ${(m.ms / 1000).toFixed(2)} s.`));
  } else {
    verdict = 'tampered';
    v.className = 'card verdict tampered';
    v.replaceChildren(el('h2', {}, '✗ Tampering found'),
      el('p', {}, `${tampered} finding(s) of tampering in ${report.chains.filter((c) => !c.intact).length} of ${report.chains.length} chain(s), ${records} record(s) read.`),
      noKeys ? el('p', { class: 'warn' }, 'No verifier key given: checkpoint signatures are not trusted.') : '',
      el('p', { class: 'small' }, `Verified in ${(m.ms / 1000).toFixed(2)} s.`));
  }
  document.body.dataset.verdict = verdict;
  document.body.dataset.ms = String(m.ms);
  status(verdict === 'intact' ? 'Verified: intact.' : verdict === 'tampered' ? 'Verified: tampering found.' : 'Nothing to verify.', verdict);

  // Chains.
  $('#chains-card').hidden = report.chains.length === 0;
  $('#report-card').hidden = false;
  $('#chains tbody').replaceChildren(...report.chains.map((c) => el('tr', { class: c.intact ? 'ok' : 'bad' },
    el('td', {}, el('span', { class: `badge ${c.intact ? 'ok' : 'bad'}` }, c.intact ? 'intact' : 'tampered')),
    el('td', { class: 'mono' }, c.stream),
    el('td', { class: 'mono' }, c.epoch),
    el('td', { class: 'num' }, c.records),
    el('td', { class: 'num' }, `${c.first_seq}..${c.last_seq}`),
    el('td', {}, c.signed_size > 0 ? `seq 0..${c.signed_size - 1} by ${c.signed_by.join(', ')}` : el('span', { class: 'muted' }, 'no trusted checkpoint')),
    el('td', { class: 'num' }, c.unsigned_tail),
    el('td', { class: 'num' }, c.flagged),
  )));

  // Findings.
  $('#findings-card').hidden = report.findings.length === 0;
  $('#findings-count').textContent = String(report.findings.length);
  const shown = report.findings.slice(0, 300);
  $('#findings').replaceChildren(...shown.map((f) => renderFinding(f, report, record)),
    report.findings.length > shown.length ? el('li', { class: 'muted' }, `… and ${report.findings.length - shown.length} more (see the report JSON)`) : '');

  renderTimeline(m, report, record);
  revealChanges($('#findings'));

  $('#report-json').textContent = m.json;
  const a = $('#save-report');
  if (a.href) URL.revokeObjectURL(a.href);
  a.href = URL.createObjectURL(new Blob([`${m.json}\n`], { type: 'application/json' }));
}

// Scroll each record view so its first highlighted value is in sight.
function revealChanges(root) {
  for (const pre of root.querySelectorAll('figure.record pre')) {
    const c = pre.querySelector('.changed');
    if (c) pre.scrollTop += c.getBoundingClientRect().top - pre.getBoundingClientRect().top - 60;
  }
}

function firstUnsealedReason(report, file) {
  const f = report.findings.find((x) => x.kind === 'unsealed' && x.locations.some((l) => l.file === file));
  return f ? `Line ${f.locations[0].line}: ${f.message}.` : '';
}

function where(loc) {
  return `${loc.file}:${loc.line}`;
}

function renderFinding(f, report, record) {
  const seq = f.seq === undefined ? '' : f.seq_end !== undefined && f.seq_end !== f.seq ? `seq ${f.seq}..${f.seq_end}` : `seq ${f.seq}`;
  const li = el('li', { class: `finding ${f.tampering ? 'tamper' : 'note'}`, 'data-kind': f.kind },
    el('div', { class: 'head' },
      el('span', { class: `badge ${f.tampering ? 'bad' : 'info'}` }, f.kind),
      f.stream ? el('span', { class: 'mono' }, `${f.stream} / ${f.epoch}`) : '',
      seq ? el('span', { class: 'mono' }, seq) : '',
      f.locations.length ? el('span', { class: 'loc mono' }, f.locations.map(where).join(', ')) : ''),
    el('p', { class: 'message' }, f.message));

  // What changed, where it can be inferred.
  const texts = f.locations.map((l) => ({ loc: l, text: record(l) })).filter((x) => x.text !== undefined);
  let other = null;
  if (f.kind === 'modified') {
    // Another version of the same record (same stream, epoch, seq) elsewhere in the input?
    const c = report.findings.find((x) => x.kind === 'seq-collision' && x.stream === f.stream && x.epoch === f.epoch && x.seq === f.seq);
    const alt = c?.locations.find((l) => where(l) !== where(f.locations[0]));
    if (alt && record(alt) !== undefined) other = { loc: alt, text: record(alt) };
  }
  if (f.kind === 'seq-collision' && texts.length >= 2) {
    const [a, b] = texts.map((t) => parse(t.text));
    const diff = a.ok && b.ok ? diffPaths(strip(a.value), strip(b.value)) : null;
    li.append(el('p', { class: 'hint' }, diff && diff.size
      ? `The versions differ in: ${[...diff].map(showPath).join(', ')} (highlighted).`
      : 'The versions differ only in their seals.'));
    for (const t of texts) li.append(recordView(t.loc, t.text, diff));
  } else if (other) {
    const [a, b] = [parse(texts[0]?.text), parse(other.text)];
    const diff = a.ok && b.ok ? diffPaths(strip(a.value), strip(b.value)) : null;
    li.append(el('p', { class: 'hint' }, `Another record with the same seq is at ${where(other.loc)}; differences highlighted${diff && diff.size ? `: ${[...diff].map(showPath).join(', ')}` : ''}.`));
    if (texts[0]) li.append(recordView(texts[0].loc, texts[0].text, diff));
    li.append(recordView(other.loc, other.text, diff, 'other version'));
  } else if (f.kind === 'added-field-mismatch' && texts[0]) {
    const field = f.message.split(' is ')[0];
    li.append(recordView(texts[0].loc, texts[0].text, new Set([JSON.stringify([field])])));
  } else {
    if (f.kind === 'modified') {
      li.append(el('p', { class: 'hint' }, 'The seal keeps only a hash of the original, so this record alone does not show which field changed; any value may have been edited.'));
    }
    for (const t of texts.slice(0, 3)) li.append(recordView(t.loc, t.text, null));
  }
  return li;
}

function parse(text) {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

// The record without its seal (the seal always differs between versions).
function strip(v) {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const { _logseal: _, ...rest } = v;
    return rest;
  }
  return v;
}

// Leaf paths (JSON-encoded key arrays) where a and b differ.
function diffPaths(a, b, path = [], out = new Set()) {
  const obj = (x) => x && typeof x === 'object';
  if (obj(a) && obj(b) && Array.isArray(a) === Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) diffPaths(a[k], b[k], [...path, Array.isArray(a) ? Number(k) : k], out);
  } else if (JSON.stringify(a) !== JSON.stringify(b)) {
    out.add(JSON.stringify(path));
  }
  return out;
}

function showPath(p) {
  return JSON.parse(p).map((k, i) => (typeof k === 'number' ? `[${k}]` : i ? `.${k}` : k)).join('');
}

// A record, pretty-printed, with the paths in `marks` highlighted.
function recordView(loc, text, marks, label) {
  const p = parse(text);
  const body = p.ok ? jsonView(p.value, [], marks ?? new Set(), 0) : el('span', { class: 'raw' }, text);
  return el('figure', { class: 'record' },
    el('figcaption', {}, where(loc), label ? el('span', { class: 'muted' }, ` (${label})`) : ''),
    el('pre', {}, body));
}

function jsonView(v, path, marks, depth) {
  const pad = '  '.repeat(depth);
  const marked = marks.has(JSON.stringify(path));
  if (v && typeof v === 'object') {
    const arr = Array.isArray(v);
    const entries = arr ? v.map((x, i) => [i, x]) : Object.entries(v);
    if (entries.length === 0) return el('span', { class: marked ? 'changed' : '' }, arr ? '[]' : '{}');
    const seal = depth === 0 && !arr;
    const frag = el('span', { class: marked ? 'changed' : '' }, arr ? '[\n' : '{\n');
    entries.forEach(([k, x], i) => {
      const sub = [...path, k];
      const line = el('span', { class: seal && k === '_logseal' ? 'seal' : '' },
        `${pad}  `,
        arr ? '' : el('span', { class: 'key' }, JSON.stringify(k)), arr ? '' : ': ',
        jsonView(x, sub, marks, depth + 1),
        i < entries.length - 1 ? ',\n' : '\n');
      frag.append(line);
    });
    frag.append(`${pad}${arr ? ']' : '}'}`);
    return frag;
  }
  return el('span', { class: `${typeof v} ${marked ? 'changed' : ''}` }, JSON.stringify(v));
}

// ---- anomaly timeline -------------------------------------------------------------

function renderTimeline(m, report, record) {
  const card = $('#timeline-card');
  const n = m.scores.score.length;
  card.hidden = false;
  $('#flagged-count').textContent = n ? `${report.flagged.length} flagged of ${n} scored` : '';
  const canvas = $('#timeline');
  const detail = $('#timeline-detail');
  detail.replaceChildren();
  if (n === 0) {
    $('#timeline-wrap').hidden = true;
    card.querySelector('.legend').hidden = true;
    $('#flagged').hidden = true;
    detail.append(el('p', { class: 'muted' }, 'No record carries an anomaly verdict (_anomaly). Seal with `logseal seal --policy …` to score records.'));
    return;
  }
  $('#timeline-wrap').hidden = false;
  card.querySelector('.legend').hidden = false;
  $('#flagged').hidden = report.flagged.length === 0;

  // x: position in the input (files one after another, by line).
  const offsets = [];
  let acc = 0;
  for (const f of m.files) { offsets.push(acc); acc += f.lines; }
  const total = Math.max(acc, 1);
  const xs = new Float64Array(n);
  for (let i = 0; i < n; i++) xs[i] = (offsets[m.scores.file[i]] + m.scores.line[i]) / total;

  const draw = () => {
    const w = canvas.clientWidth || 800;
    const h = 160;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = w * dpr;
    canvas.height = h * dpr;
    const g = canvas.getContext('2d');
    g.scale(dpr, dpr);
    g.clearRect(0, 0, w, h);
    const pad = 8;
    const y = (s) => h - pad - Math.min(Math.max(s, 0), 1) * (h - 2 * pad);
    const x = (f) => pad + f * (w - 2 * pad);
    g.strokeStyle = '#d0d5dd';
    g.setLineDash([4, 4]);
    g.beginPath(); g.moveTo(0, y(0.5)); g.lineTo(w, y(0.5)); g.stroke();
    g.setLineDash([]);
    g.fillStyle = '#98a2b3';
    g.font = '11px system-ui, sans-serif';
    g.fillText('0.5', 2, y(0.5) - 3);
    // At most one normal point per pixel column (its maximum); flagged drawn on top.
    const colMax = new Float64Array(Math.ceil(w) + 1).fill(-1);
    for (let i = 0; i < n; i++) {
      const s = m.scores.score[i];
      if (s >= 0.5) continue;
      const c = Math.round(x(xs[i]));
      if (s > colMax[c]) colMax[c] = s;
    }
    g.fillStyle = '#7a8aa6';
    for (let c = 0; c < colMax.length; c++) if (colMax[c] >= 0) g.fillRect(c - 1, y(colMax[c]) - 1, 2, 2);
    g.fillStyle = '#d92d20';
    for (let i = 0; i < n; i++) {
      const s = m.scores.score[i];
      if (s < 0.5) continue;
      g.beginPath(); g.arc(x(xs[i]), y(s), 3.5, 0, 2 * Math.PI); g.fill();
    }
  };
  draw();
  window.onresize = draw;

  const fileIndex = new Map(m.files.map((f, i) => [f.name, i]));
  const flaggedX = report.flagged.map((f) => ({ f, x: (offsets[fileIndex.get(f.location.file)] + f.location.line) / total }));
  const show = (f) => {
    const text = record(f.location);
    detail.replaceChildren(text === undefined ? el('p', {}, where(f.location)) : recordView(f.location, text, anomalyMarks(), `score ${f.score}`));
    revealChanges(detail);
  };
  canvas.onclick = (e) => {
    if (!flaggedX.length) return;
    const w = canvas.clientWidth;
    const at = (e.offsetX - 8) / Math.max(w - 16, 1);
    let best = flaggedX[0];
    for (const p of flaggedX) if (Math.abs(p.x - at) < Math.abs(best.x - at)) best = p;
    show(best.f);
  };

  $('#flagged tbody').replaceChildren(...report.flagged.slice(0, 500).map((f) => {
    const text = record(f.location);
    const a = text === undefined ? {} : parse(text).value?._anomaly ?? {};
    return el('tr', { onclick: () => show(f), class: 'clickable' },
      el('td', { class: 'mono' }, where(f.location)),
      el('td', { class: 'mono' }, f.stream),
      el('td', { class: 'num' }, f.seq),
      el('td', { class: 'num' }, f.score.toFixed(3)),
      el('td', {}, a.severity ?? ''),
      el('td', {}, typeof a.reason === 'string' ? a.reason : JSON.stringify(a.reason ?? '')));
  }));
}

function anomalyMarks() {
  return new Set([JSON.stringify(['_anomaly'])]);
}
