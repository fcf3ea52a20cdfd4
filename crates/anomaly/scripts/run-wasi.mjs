// Run a wasm32-wasip1 command module under Node's WASI (no extra tooling):
//   node crates/anomaly/scripts/run-wasi.mjs target/wasm32-wasip1/release/logseal-golden.wasm > out.jsonl
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import { argv } from 'node:process';

const wasi = new WASI({ version: 'preview1', args: argv.slice(2), env: {}, preopens: {} });
const module = await WebAssembly.compile(await readFile(argv[2]));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
wasi.start(instance);
