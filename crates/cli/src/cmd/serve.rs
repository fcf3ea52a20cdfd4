//! `logseal serve`: the sealing sidecar for Vector, Fluent Bit, or a pipe.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::sync::{Semaphore, mpsc};

use crate::serve::backend::{self, Backend};
use crate::serve::http::{self, App};
use crate::serve::pipe::{self, PipeOpts};
use crate::serve::seq::{Forwarder, Limits, Sequencer, Stats};
use crate::serve::store::Store;

/// Seal records in a log pipeline: an HTTP sidecar, or a stdin/stdout filter.
///
/// With `--listen`, accept batches from Vector's `http` sink (NDJSON or a JSON
/// array) or Fluent Bit's `http` output, score and seal them in order, forward
/// the sealed records as NDJSON to `--forward` (an `http_server` source), and
/// answer the sender only after the next hop accepted them: a 2xx means the
/// sealed records reached the next hop. 429/503 ask the sender to retry
/// (overload, next hop down). Senders must present `Authorization: Bearer`
/// with the token in `--token-file`, or (HTTPS with `--client-ca`) a client
/// certificate from that CA. A retried batch is never sealed twice:
/// its remembered output is sent again. `POST /feedback` (same
/// credentials) marks the events in its body normal for the anomaly
/// engine, live, between batches (see `logseal feedback`).
///
/// Without `--listen`, read NDJSON from the files (or stdin) and write sealed
/// NDJSON to stdout or `--output`, for `exec` and `socket` stages;
/// SIGTERM/SIGINT end the input as EOF does (the records read are sealed,
/// the state saved, exit 0).
///
/// With `--state-dir`, the chain head is saved after every batch and the
/// anomaly engine periodically, so a restart continues the chain (or opens a
/// new epoch after it when the head may be behind). Guide:
/// plugins/vector/README.md.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
logseal serve --config logseal.json --state-dir /var/lib/logseal --token-file /etc/logseal/token \\\n      \
--listen 127.0.0.1:8687 --forward http://127.0.0.1:8688/ --processor logseal_processor.wasm\n  \
logseal serve --config logseal.json --state-dir /var/lib/logseal --tls-cert server.pem --tls-key server.key \\\n      \
--client-ca senders-ca.pem --listen 0.0.0.0:8687 --forward http://127.0.0.1:8688/\n  \
logseal serve --config logseal.json --state-dir state/ < app.ndjson > sealed.ndjson\n  \
logseal serve --config logseal.json --output sealed.ndjson app.ndjson.gz\n\n\
HTTP answers: 200 sealed and forwarded (or a retry replayed); 401 no credential; 403 wrong token;\n\
413 body too large; 429 busy; 503 next hop down (retry). POST /feedback: 200 {\"marked\",\"saved\",\"replayed\"};\n\
400 an event is not a JSON object; 409 the policy learns nothing from feedback. Exit: 0 clean shutdown, 1 fatal, 2 usage.")]
pub struct Args {
    /// Plugin configuration (JSON; crates/pipeline config format: key or
    /// key_file, stream, checkpoint_every, checkpoints_file, policy, ...).
    #[arg(long)]
    config: PathBuf,
    /// The `processor` WebAssembly component (wasm32-wasip2); without it the
    /// built-in native processor runs (same output).
    #[arg(long)]
    processor: Option<PathBuf>,
    /// A detection rule component (repeatable; needs --processor).
    #[arg(long = "rule")]
    rules: Vec<PathBuf>,
    /// Directory for the chain head, recent batches and engine state
    /// (default: the configuration's state_dir; none: state is not kept).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// fsync every state write (survives power loss; slower).
    #[arg(long)]
    fsync: bool,
    /// Save the anomaly engine state every this many seconds.
    #[arg(long, default_value_t = 30)]
    snapshot_interval: u64,

    /// Serve HTTP on this address (loopback or behind TLS; for example 127.0.0.1:8687).
    #[arg(long)]
    listen: Option<String>,
    /// Where sealed batches go: the next hop's URL (an `http_server` source).
    #[arg(long, requires = "listen")]
    forward: Option<String>,
    /// File holding the bearer token senders must present (unless they
    /// present a client certificate, with --client-ca).
    #[arg(long, requires = "listen")]
    token_file: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM).
    #[arg(long, requires_all = ["listen", "tls_key"])]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Mutual TLS: accept senders whose client certificate chains to these
    /// CA certificates (PEM) as authorised, with or without a token.
    #[arg(long, requires = "tls_cert")]
    client_ca: Option<PathBuf>,
    /// Extra header for the forward (`Name: value`; repeatable).
    #[arg(long = "forward-header", requires = "listen")]
    forward_headers: Vec<String>,
    /// Forward timeout in seconds (keep it below the sender's request timeout).
    #[arg(long, default_value_t = 30)]
    forward_timeout: u64,
    /// Largest request body in bytes (after gzip decompression too).
    #[arg(long, default_value_t = 16 << 20)]
    max_body_bytes: usize,
    /// Batches waiting to be sealed at most; beyond, 429.
    #[arg(long, default_value_t = 4)]
    queue: usize,
    /// Recent batches remembered (with their sealed output) to answer retries.
    #[arg(long, default_value_t = 64)]
    replay_window: usize,
    /// Memory for remembered output, in MiB.
    #[arg(long, default_value_t = 64)]
    replay_mib: usize,
    /// Of those, batches also kept in the state directory.
    #[arg(long, default_value_t = 4)]
    replay_disk: usize,
    /// Runtime worker threads for HTTP.
    #[arg(long, default_value_t = 2)]
    threads: usize,

    /// Without --listen: write sealed records here (appended), not stdout.
    #[arg(long, conflicts_with = "listen")]
    output: Option<PathBuf>,
    /// Without --listen: records per batch at most.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Without --listen: input files ("-" or none: stdin; gzip is detected).
    #[arg(conflicts_with = "listen")]
    files: Vec<String>,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let loaded = backend::load_config(&a.config)?;
    let state_dir = a
        .state_dir
        .clone()
        .or_else(|| loaded.config.state_dir.as_ref().map(PathBuf::from));
    let (store, mut saved) = Store::open(state_dir.as_deref(), a.fsync)?;
    if a.listen.is_none() && !saved.clean {
        // A pipe writes before it saves: after a kill the head may be one
        // batch behind, so never reuse its sequence numbers.
        saved.resume.exact = false;
    }
    let resuming = saved.resume.chain.is_some();
    let backend = backend::open(&loaded, a.processor.as_deref(), &a.rules, &saved.resume)?;
    let snapshot_every = Duration::from_secs(a.snapshot_interval.max(1));
    eprintln!(
        "logseal serve: {} processor, stream {}, {}",
        backend.name(),
        loaded.stream,
        match (resuming, saved.resume.exact) {
            (false, _) => "new chain".to_string(),
            (true, true) => "continuing the saved chain".to_string(),
            (true, false) => "new epoch after the saved head (it may be behind)".to_string(),
        }
    );
    if !store.durable() {
        eprintln!("logseal serve: no --state-dir: a restart starts a new chain");
    }
    let checkpoints_file = loaded.config.checkpoints_file.clone();
    let Some(listen) = a.listen.clone() else {
        let files = if a.files.is_empty() {
            vec!["-".to_string()]
        } else {
            a.files.clone()
        };
        pipe::run(
            backend,
            store,
            PipeOpts {
                files,
                output: a.output.clone(),
                batch: a.batch,
                checkpoints_file,
                snapshot_every,
            },
        )?;
        return Ok(ExitCode::SUCCESS);
    };
    serve_http(
        a,
        listen,
        backend,
        store,
        saved,
        checkpoints_file,
        snapshot_every,
    )
}

fn serve_http(
    a: Args,
    listen: String,
    backend: Box<dyn Backend>,
    store: Store,
    saved: crate::serve::store::Saved,
    checkpoints_file: Option<String>,
    snapshot_every: Duration,
) -> Result<ExitCode> {
    let Some(forward) = a.forward.clone() else {
        bail!("--listen needs --forward URL (the next hop)");
    };
    if !forward.starts_with("http://") {
        bail!(
            "--forward {forward}: only http:// is supported (keep the next hop local, or use a TLS proxy)"
        );
    }
    if a.token_file.is_none() && a.client_ca.is_none() {
        bail!(
            "--listen needs --token-file or --client-ca (mutual TLS): only authorised senders may add records"
        );
    }
    let token = match &a.token_file {
        None => None,
        Some(token_file) => {
            let token = std::fs::read_to_string(token_file)
                .with_context(|| format!("cannot read {}", token_file.display()))?
                .trim()
                .as_bytes()
                .to_vec();
            if token.len() < 16 {
                bail!(
                    "{}: the token must be at least 16 characters",
                    token_file.display()
                );
            }
            Some(Arc::new(token))
        }
    };
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => Some(crate::serve::tls::server_config(
            cert,
            key,
            a.client_ca.as_deref(),
        )?),
        _ => None,
    };
    let mut headers = Vec::new();
    for h in &a.forward_headers {
        let Some((k, v)) = h.split_once(':') else {
            bail!("--forward-header {h:?}: expected `Name: value`");
        };
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(4)
            .build()
            .context("HTTP client")?;
        let stats = Arc::new(Stats::default());
        let seq = Sequencer::new(
            backend,
            store,
            saved,
            Forwarder {
                client,
                url: forward,
                headers,
                timeout: Duration::from_secs(a.forward_timeout.max(1)),
            },
            checkpoints_file,
            Limits {
                replay_window: a.replay_window.max(a.replay_disk).max(1),
                replay_bytes: a.replay_mib.saturating_mul(1 << 20),
                replay_disk: a.replay_disk.max(1),
                snapshot_every,
            },
            stats.clone(),
        )?;
        let (tx, rx) = mpsc::channel(a.queue.max(1));
        let sequencer = tokio::spawn(seq.run(rx));
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        eprintln!(
            "logseal serve: listening on {}://{}, forwarding to {}{}",
            if tls.is_some() { "https" } else { "http" },
            listener.local_addr()?,
            a.forward.as_deref().unwrap_or_default(),
            match (&token, &a.client_ca) {
                (Some(_), Some(_)) => "; senders need the token or a client certificate",
                (None, Some(_)) => "; senders need a client certificate",
                _ => "; senders need the token",
            }
        );
        let app = App {
            tx,
            token,
            client_certs: a.client_ca.is_some(),
            max_body: a.max_body_bytes,
            slots: Arc::new(Semaphore::new(a.queue.max(1) + 1)),
            stats,
        };
        match tls {
            Some(cfg) => {
                let l = crate::serve::tls::TlsListener::new(listener, cfg)?;
                http::serve(l, app, shutdown_signal()).await?;
            }
            None => http::serve(listener, app, shutdown_signal()).await?,
        }
        // Every sender is gone once the server returned: the sequencer
        // finishes the queue, saves the head and the engine, and ends.
        sequencer.await.context("sequencer")?;
        eprintln!("logseal serve: stopped cleanly");
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    eprintln!("logseal serve: shutting down; finishing in-flight batches");
}
