// Verification speed: the browser build (the page, in Chromium, verifying in
// its Web Worker) beside the native CLI, on the same sealed file.
//
//   node tests/bench.mjs [RECORDS]      (cargo xtask web-bench [RECORDS])
//
// The file is made with `logseal seal` from tests/fixtures/openssh_2k.ndjson
// repeated (ECS sshd records, about 460 bytes sealed), a checkpoint every
// 1000 records, and cached in <target>/web-bench/.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { launch, logsealBin, makeBig, requirePkg, serve, ROOT } from './support.mjs';

const records = Number(process.argv[2] ?? 1_000_000);
if (!Number.isInteger(records) || records <= 0) throw new Error(`not a record count: ${process.argv[2]}`);
const RUNS = 3;
requirePkg();
const target = process.env.CARGO_TARGET_DIR ? resolve(ROOT, process.env.CARGO_TARGET_DIR) : join(ROOT, 'target');
const dir = join(target, 'web-bench');
mkdirSync(dir, { recursive: true });
let t = performance.now();
const file = makeBig(dir, records);
console.error(`bench: ${file} ready (${((performance.now() - t) / 1000).toFixed(1)} s)`);
const bytes = statSync(file).size;
const pub = 'keys/audit.example_web.pub';

const loadBefore = loadavg()[0];

// Native (wall time, and CPU time from bash's `time`).
const native = [];
const nativeCpu = [];
let nativeJson;
for (let i = 0; i < RUNS; i++) {
  t = performance.now();
  const r = spawnSync(logsealBin(), ['verify', '--quiet', '--format', 'json', '--key', pub, file], { cwd: dir, maxBuffer: 1 << 28 });
  native.push(performance.now() - t);
  if (r.status !== 0) throw new Error(`logseal verify failed (${r.status}): ${r.stderr}`);
  nativeJson = r.stdout.toString().trimEnd();
  const c = spawnSync('bash', ['-c', 'TIMEFORMAT="%3U %3S"; { time "$0" verify --quiet --format json --key "$1" "$2" >/dev/null; } 2>&1', logsealBin(), pub, file], { cwd: dir });
  const [u, sy] = c.stdout.toString().trim().split(/\s+/).map(Number);
  nativeCpu.push((u + sy) * 1000);
}

// CPU time (user + sys, ms) of a process tree, from /proc (Linux).
function treeCpuMs(match) {
  const procs = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      procs.push({ pid: Number(d), ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), cmd });
    } catch {
      // exited meanwhile
    }
  }
  const inTree = new Set(procs.filter((p) => p.cmd.includes(match)).map((p) => p.pid));
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) if (!inTree.has(p.pid) && inTree.has(p.ppid)) { inTree.add(p.pid); grew = true; }
  }
  return procs.filter((p) => inTree.has(p.pid)).reduce((a, p) => a + p.ticks, 0) * 10; // 100 ticks/s
}

// Browser: the page, a file picked as a user would.
const server = await serve({ '/': ROOT });
const browser = await launch();
const browserMs = [];
const browserCpu = [];
const profile = browser.profileDir;
const wallMs = [];
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}/plugins/web/www/index.html`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  await page.fill('#keys', readFileSync(join(dir, pub), 'utf8'));
  for (let i = 0; i < RUNS; i++) {
    await page.click('#clear');
    await page.evaluate(() => { document.body.dataset.state = ''; });
    const cpu0 = profile ? treeCpuMs(profile) : NaN;
    t = performance.now();
    await page.setInputFiles('#pick-logs', file);
    await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 600000, polling: 50 });
    wallMs.push(performance.now() - t);
    browserCpu.push(profile ? treeCpuMs(profile) - cpu0 : NaN);
    browserMs.push(Number(await page.evaluate(() => document.body.dataset.ms)));
    const json = await page.locator('#report-json').textContent();
    if (json !== nativeJson) throw new Error('the browser report differs from the CLI report');
  }
} finally {
  await browser.close();
  await server.close();
}

const best = (a) => Math.min(...a);
const rate = (ms) => Math.round(records / (ms / 1000));
const per1m = (ms) => (ms / 1000 / records * 1e6).toFixed(2);
const chromium = spawnSync(process.env.CHROMIUM ?? '/usr/bin/chromium', ['--version']).stdout.toString().trim();
console.log(`
${records.toLocaleString('en')} records, ${(bytes / (1 << 20)).toFixed(0)} MiB, ${cpus().length} × ${cpus()[0].model}; ${chromium}; best of ${RUNS} (all runs in ms); load average ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after

| verifier | records/s | time for 1,000,000 records | runs (ms) |
|---|---:|---:|---|
| native CLI (\`logseal verify\`) | ${rate(best(native)).toLocaleString('en')} | ${per1m(best(native))} s | ${native.map(Math.round).join(', ')} |
| native CLI, CPU time (user + sys) | ${rate(best(nativeCpu)).toLocaleString('en')} | ${per1m(best(nativeCpu))} s | ${nativeCpu.map(Math.round).join(', ')} |
| browser, in the worker | ${rate(best(browserMs)).toLocaleString('en')} | ${per1m(best(browserMs))} s | ${browserMs.map(Math.round).join(', ')} |
| browser, CPU time of all its processes, drop to verdict | ${rate(best(browserCpu)).toLocaleString('en')} | ${per1m(best(browserCpu))} s | ${browserCpu.map(Math.round).join(', ')} |
| browser, drop to verdict | ${rate(best(wallMs)).toLocaleString('en')} | ${per1m(best(wallMs))} s | ${wallMs.map(Math.round).join(', ')} |

Reports identical: yes (browser JSON = CLI JSON).`);
