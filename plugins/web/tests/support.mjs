// Shared by the browser tests: the logseal CLI, fixtures made with it, a
// loopback static server, and Chromium driven by playwright-core.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = resolve(WEB, '../..');
export const ARTIFACTS = join(ROOT, 'tests/artifacts/web');
const TARGET = process.env.CARGO_TARGET_DIR ? resolve(ROOT, process.env.CARGO_TARGET_DIR) : join(ROOT, 'target');

/** The logseal CLI: $LOGSEAL_BIN, else <target>/release/logseal (built if missing). */
export function logsealBin() {
  if (process.env.LOGSEAL_BIN) return process.env.LOGSEAL_BIN;
  const bin = join(TARGET, 'release', 'logseal');
  if (!existsSync(bin)) {
    const r = spawnSync('cargo', ['build', '--release', '-p', 'logseal-cli', '--bin', 'logseal'], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`cannot build the logseal CLI (cargo build --release -p logseal-cli) for ${bin}`);
  }
  return bin;
}

/** Run the CLI; throws on exit codes other than those allowed. */
export function cli(args, { cwd, input, ok = [0] } = {}) {
  const r = spawnSync(logsealBin(), args, { cwd, input, maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  if (!ok.includes(r.status)) {
    throw new Error(`logseal ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  }
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** The CLI's JSON report for a fixture (without the trailing newline). */
export function cliReport(dir, fx) {
  const args = ['verify', '--format', 'json', '--quiet'];
  if (fx.keys) args.push('--key', fx.keys);
  for (const c of fx.checkpoints ?? []) args.push('--checkpoints', c);
  if (fx.timeField) args.push('--time-field', fx.timeField);
  args.push(...fx.logs);
  const r = cli(args, { cwd: dir, ok: [0, 1] });
  const json = r.stdout.toString();
  if (!json.endsWith('\n')) throw new Error('the CLI report does not end with a newline');
  return { json: json.slice(0, -1), code: r.code };
}

const lines = (buf) => buf.toString().split('\n').filter((l, i, a) => !(i === a.length - 1 && l === ''));
const join1 = (ls) => `${ls.join('\n')}\n`;

/** Change a value in one sealed record's text (not its seal). */
function tamperLine(line, from, to) {
  if (!line.includes(from)) throw new Error(`fixture: ${from} not in ${line.slice(0, 80)}`);
  return line.replace(from, to);
}

/**
 * Make the fixtures in a fresh directory with `logseal keygen` and `logseal seal`,
 * then tamper copies by editing lines. Returns {dir, pub, fixtures}; each
 * fixture: {name, logs, checkpoints?, keys?, expect: {intact, kinds}}.
 */
export function makeFixtures() {
  const dir = mkdtempSync(join(tmpdir(), 'logseal-web-fx-'));
  cli(['keygen', '--name', 'audit.example/web', '--out', 'keys'], { cwd: dir });
  const key = 'keys/audit.example_web.key';
  const pub = 'keys/audit.example_web.pub';
  const ssh = join(ROOT, 'tests/fixtures/openssh_2k.ndjson');
  const cloud = join(ROOT, 'tests/fixtures/audit_mixed.ndjson');
  const write = (name, data) => writeFileSync(join(dir, name), data);
  const intact = cli(['seal', '--key', key, '--stream', 'sshd', '--epoch', 'e1', '--checkpoint-every', '100',
    '--checkpoints', 'intact.cps', '--policy', 'sshd', ssh], { cwd: dir }).stdout;
  write('intact.ndjson', intact);
  const L = lines(intact);

  const fixtures = [];
  const add = (name, logs, expect, extra = {}) => fixtures.push({ name, logs, keys: pub, expect, ...extra });
  add('intact', ['intact.ndjson'], { intact: true, kinds: [] });

  // Modified: one value edited in line 42 (seq 41).
  const mod = [...L];
  mod[41] = tamperLine(mod[41], '"LabSZ"', '"LabSZ-2"');
  write('modified.ndjson', join1(mod));
  add('modified', ['modified.ndjson'], { intact: false, kinds: ['modified'], line: 42 });

  // Deleted: lines 101..103 (seq 100..102) removed.
  write('deleted.ndjson', join1([...L.slice(0, 100), ...L.slice(103)]));
  add('deleted', ['deleted.ndjson'], { intact: false, kinds: ['deleted'] });

  // Inserted: a forged record sealed into the chain by someone replaying the
  // sealer (correct hash, links to seq 59, claims seq 60), and an unsealed line.
  const raw = lines(readFileSync(ssh)).slice(0, 61);
  raw[60] = tamperLine(raw[60], '"process":{"name":"sshd"', '"process":{"name":"sshd-forged"');
  const forgedRun = lines(cli(['seal', '--key', key, '--stream', 'sshd', '--epoch', 'e1', '--checkpoint-every', '100',
    '--policy', 'sshd', '--no-final-checkpoint'], { cwd: dir, input: join1(raw) }).stdout);
  if (forgedRun[59] !== L[59] || forgedRun[60] === L[60]) throw new Error('fixture: the replayed sealer diverged');
  write('inserted.ndjson', join1([...L.slice(0, 61), forgedRun[60], ...L.slice(61, 300), '{"message":"an unsealed line"}', ...L.slice(300)]));
  add('inserted', ['inserted.ndjson'], { intact: false, kinds: ['seq-collision', 'unsealed'], line: 61 });

  // Truncated: the last 150 records cut off; the checkpoint file still proves them.
  write('truncated.ndjson', join1(L.slice(0, L.length - 150)));
  add('truncated', ['truncated.ndjson'], { intact: false, kinds: ['truncated'] }, { checkpoints: ['intact.cps'] });
  add('checkpoint-file', ['intact.ndjson'], { intact: true, kinds: [] }, { checkpoints: ['intact.cps'] });

  // Multi-stream: two streams interleaved, split over two files, one gzip.
  const c = lines(cli(['seal', '--key', key, '--stream', 'cloudtrail', '--epoch', 'e7', '--checkpoint-every', '50',
    '--policy', 'default', cloud], { cwd: dir }).stdout);
  const mixed = [];
  for (let i = 0; i < Math.max(L.length, c.length); i++) {
    if (i < L.length) mixed.push(L[i]);
    if (i < c.length) mixed.push(c[i]);
  }
  const half = Math.floor(mixed.length / 2);
  write('multi-1.ndjson', join1(mixed.slice(0, half)));
  write('multi-2.ndjson.gz', gzipSync(join1(mixed.slice(half))));
  add('multi-stream', ['multi-1.ndjson', 'multi-2.ndjson.gz'], { intact: true, kinds: [], chains: 2 });
  const mt = [...mixed];
  mt.splice(500, 1);
  write('multi-tampered.ndjson', join1(mt));
  add('multi-stream-tampered', ['multi-tampered.ndjson'], { intact: false, kinds: ['deleted'], chains: 2 });

  // Gzip (two members, as `cat a.gz b.gz` makes), CRLF line ends, no trailing newline.
  write('intact.ndjson.gz', Buffer.concat([gzipSync(join1(L.slice(0, 700))), gzipSync(join1(L.slice(700)))]));
  add('gzip-multi-member', ['intact.ndjson.gz'], { intact: true, kinds: [] });
  write('crlf.ndjson', `${L.join('\r\n')}`);
  add('crlf-no-final-newline', ['crlf.ndjson'], { intact: true, kinds: [] });

  // No key: signatures are not trusted (notes, not tampering).
  fixtures.push({ name: 'no-key', logs: ['intact.ndjson'], expect: { intact: true, kinds: ['unknown-signer'] } });

  // Not a log at all.
  write('notes.txt', 'Meeting notes\nnothing sealed here\n');
  fixtures.push({ name: 'malformed', logs: ['notes.txt'], keys: pub, expect: { intact: false, kinds: ['unsealed'] } });

  return { dir, pub, fixtures, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A big sealed file for the benchmark and the progress test: `records` lines. */
export function makeBig(dir, records) {
  const src = join(dir, `big-src-${records}.ndjson`);
  const out = join(dir, `big-${records}.ndjson`);
  if (existsSync(out)) return out;
  const base = lines(readFileSync(join(ROOT, 'tests/fixtures/openssh_2k.ndjson')));
  const chunks = [];
  for (let i = 0; i < records; i++) chunks.push(base[i % base.length]);
  writeFileSync(src, join1(chunks));
  const keyDir = join(dir, 'keys');
  if (!existsSync(join(keyDir, 'audit.example_web.key'))) cli(['keygen', '--name', 'audit.example/web', '--out', 'keys'], { cwd: dir });
  const r = spawnSync(logsealBin(), ['seal', '--key', 'keys/audit.example_web.key', '--stream', 'bulk', '--epoch', 'e1', src],
    { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 4 << 30 });
  if (r.status !== 0) throw new Error(`logseal seal of ${records} records failed`);
  writeFileSync(out, r.stdout);
  return out;
}

const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json', '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8', '.ts': 'text/plain; charset=utf-8',
};

/**
 * A static file server on 127.0.0.1 (port chosen by the system). `mounts`
 * maps URL prefixes to directories. Every request is logged in `log`.
 */
export async function serve(mounts) {
  const log = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    log.push({ method: req.method, path: url.pathname, at: Date.now() });
    const prefix = Object.keys(mounts).sort((a, b) => b.length - a.length).find((p) => url.pathname.startsWith(p));
    if (!prefix || req.method !== 'GET') {
      res.writeHead(404).end();
      return;
    }
    const base = resolve(mounts[prefix]);
    const file = normalize(join(base, decodeURIComponent(url.pathname.slice(prefix.length))));
    if (!(file === base || file.startsWith(base + sep)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    createReadStream(file).pipe(res);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}`, log, close: () => new Promise((ok) => { server.closeAllConnections?.(); server.close(ok); }) };
}

/** Debian's Chromium, headless, no background traffic, a fresh profile. */
export async function launch() {
  const { chromium } = await import('playwright-core');
  const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath} (apt-get install chromium, or set CHROMIUM)`);
  const profile = mkdtempSync(join(tmpdir(), 'logseal-web-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1200, height: 900 },
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-default-apps', '--disable-extensions', ...(process.env.LOGSEAL_CHROMIUM_ARGS ?? '').split(' ').filter(Boolean)],
  });
  context.profileDir = profile;
  const close = context.close.bind(context);
  context.close = async (...args) => {
    await close(...args);
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    } catch (e) {
      console.error(`note: could not remove the browser profile ${profile}: ${e.message}`);
    }
  };
  return context;
}

export function artifact(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

/** The wasm build must exist (cargo xtask web builds it). */
export function requirePkg() {
  const wasm = join(WEB, 'pkg/logseal_web_bg.wasm');
  if (!existsSync(wasm)) throw new Error(`${wasm} is missing: run \`cargo xtask web\` to build the browser package`);
}

export function read(dir, name) {
  return readFileSync(join(dir, name));
}
