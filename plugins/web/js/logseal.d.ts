// Types of logseal's browser API (js/logseal.js).

/** One log or checkpoint file: a File/Blob (named by File.name), a stream, bytes or text. */
export type Data = Blob | ReadableStream<Uint8Array> | Uint8Array | ArrayBuffer | ArrayBufferView | string;
/** A source with the name findings will cite (default: File.name, else `<input N>`). */
export type Source = Data | { name: string; data: Data };

/** What `init` accepts: where the .wasm is, or the module itself. */
export type WasmSource = string | URL | Request | Response | BufferSource | WebAssembly.Module;

export interface Progress {
  /** File being read. */
  file: string;
  fileIndex: number;
  files: number;
  /** Bytes read so far over all files (compressed bytes for gzip). */
  bytes: number;
  /** Sum of the input sizes, when all are known. */
  totalBytes?: number;
}

export interface VerifyOptions {
  /** Verifier keys (`name+id+key`), one per line or one per array element; `#` comments allowed. */
  keys?: string | string[];
  /** Checkpoint files kept apart from the log (signed notes one after another), as `--checkpoints`. */
  checkpoints?: Source | Source[];
  /** As `--time-field`: a member the pipeline added holding the event time in seconds. */
  timeField?: string;
  /** As `--tag-field`: a member the pipeline added holding the tag. */
  tagField?: string;
  /** Called after every MiB read and after each file. */
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** Passed to `init` if the module is not loaded yet. */
  wasm?: WasmSource;
  /**
   * Reader workers from `startReaders`: records are parsed and hashed on
   * them in parallel (the report is identical). Without it everything runs
   * on the calling thread.
   */
  readers?: ReaderPool;
}

/** Reader workers for parallel verification (see `startReaders`). */
export interface ReaderPool {
  /** Number of workers. */
  readonly size: number;
  /** Stop the workers. */
  terminate(): void;
}

/**
 * Start `count` reader workers (default: one per core) for parallel
 * verification, each given the compiled module (no further request). Start
 * them once, early, and pass the pool as `VerifyOptions.readers`; a pool
 * runs one verification at a time.
 */
export function startReaders(count?: number, options?: { wasm?: WasmSource }): Promise<ReaderPool>;

export interface Location {
  file: string;
  /** 1-based line number. */
  line: number;
}

export type FindingKind =
  | 'unsealed' | 'modified' | 'added-field-mismatch' | 'deleted' | 'broken-link'
  | 'seq-collision' | 'duplicate' | 'truncated' | 'bad-signature' | 'unknown-signer'
  | 'checkpoint-mismatch' | 'checkpoint-fork' | 'rollback' | 'bad-checkpoint'
  | 'handover-mismatch' | 'declared-loss' | 'crash-gap';

export interface Finding {
  kind: FindingKind;
  /** Whether this kind means the log was tampered with. */
  tampering: boolean;
  message: string;
  locations: Location[];
  stream?: string;
  epoch?: string;
  seq?: number;
  seq_end?: number;
}

export interface Chain {
  stream: string;
  epoch: string;
  records: number;
  first_seq: number;
  last_seq: number;
  /** Records 0..signed_size-1 are proven by a checkpoint signed by a trusted key. */
  signed_size: number;
  signed_by: string[];
  /** Records linked into the chain but not covered by a trusted checkpoint. */
  unsigned_tail: number;
  intact: boolean;
  flagged: number;
}

export interface Flagged {
  location: Location;
  stream: string;
  epoch: string;
  seq: number;
  score: number;
}

/** The report of `logseal verify --format json` (format `logseal-verify-report/v1`). */
export interface Report {
  format: 'logseal-verify-report/v1';
  intact: boolean;
  /** Non-blank lines read. */
  lines: number;
  chains: Chain[];
  findings: Finding[];
  /** Records whose anomaly score is at least 0.5. */
  flagged: Flagged[];
}

export interface FileStats {
  name: string;
  /** Bytes after decompression. */
  bytes: number;
  lines: number;
  nonblank: number;
  gzip: boolean;
}

export interface Detailed {
  report: Report;
  /** The report's exact bytes, as the CLI prints them (without the newline). */
  json: string;
  files: FileStats[];
  /** Every `_anomaly` score in input order: file index, line, score. */
  scores: { file: Uint32Array; line: Float64Array; score: Float64Array };
}

/**
 * Whether this JS engine runs WebAssembly SIMD (Chrome/Edge 91+, Firefox
 * 89+, Safari 16.4+), which the verifier needs; without it `init` rejects
 * with a message that says so.
 */
export function simdSupported(): boolean;
/** Load the WebAssembly module (once); by default from pkg/logseal_web_bg.wasm. */
export function init(wasm?: WasmSource): Promise<unknown>;
/** Verify sealed logs (NDJSON, gzip detected) streamed chunk by chunk. */
export function verify(input: Source | Source[], options?: VerifyOptions): Promise<Report>;
/** The report as the exact JSON text `logseal verify --format json` prints. */
export function verifyJson(input: Source | Source[], options?: VerifyOptions): Promise<string>;
/** The report plus per-file figures and all anomaly scores. */
export function verifyDetailed(input: Source | Source[], options?: VerifyOptions): Promise<Detailed>;
/** Lines of a log file by number (numbered as the verifier does); stops once all are found. */
export function pickLines(
  input: Source,
  lines: number[],
  options?: { maxLength?: number; signal?: AbortSignal; wasm?: WasmSource },
): Promise<Map<number, string>>;
/** logseal's Ed25519 rule (`verify_strict`): 32-byte key, message, 64-byte signature. */
export function verifyEd25519(
  publicKey: Uint8Array,
  message: Uint8Array | string,
  signature: Uint8Array,
  options?: { wasm?: WasmSource },
): Promise<boolean>;
