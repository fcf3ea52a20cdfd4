//! The HTTP front: authentication, body limits, back-pressure, and the
//! answer Vector acts on (2xx: delivered; 429/503: retry later; 401/403/413:
//! refused, nothing sealed).

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::seq::{FeedbackOutcome, Outcome, Request, Stats, Work};
use super::tls::Peer;

/// What the handlers share.
#[derive(Clone)]
pub struct App {
    /// To the sequencer.
    pub tx: mpsc::Sender<Work>,
    /// The bearer token, if senders may use one.
    pub token: Option<Arc<Vec<u8>>>,
    /// Senders may authenticate with a client certificate (mutual TLS).
    pub client_certs: bool,
    /// Largest body accepted (after decompression too).
    pub max_body: usize,
    /// Bodies held at once (read, queued or being sealed).
    pub slots: Arc<Semaphore>,
    /// Counters.
    pub stats: Arc<Stats>,
}

/// The router.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/", post(ingest))
        .route("/ingest", post(ingest))
        .route("/feedback", post(feedback))
        .route("/health", get(health))
        .with_state(app)
}

fn text(status: StatusCode, msg: impl Into<String>) -> Response {
    let mut r = (status, msg.into() + "\n").into_response();
    if matches!(
        status,
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
    ) {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A verified client certificate (mutual TLS) or `Authorization: Bearer
/// <token>`, whichever the sidecar was configured with: None if the request
/// may add records, else the refusal (401 without credentials, 403 with a
/// wrong token).
fn check_auth(app: &App, headers: &HeaderMap, peer: &Peer) -> Option<Response> {
    if app.client_certs && peer.client_cert {
        return None;
    }
    let Some(token) = &app.token else {
        return Some(text(
            StatusCode::UNAUTHORIZED,
            "a client certificate is required (mutual TLS)",
        ));
    };
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        let what = if app.client_certs {
            "a bearer token or a client certificate is required"
        } else {
            "a bearer token is required"
        };
        let mut r = text(StatusCode::UNAUTHORIZED, what);
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return Some(r);
    };
    let v = v.as_bytes();
    let ok =
        v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer ") && ct_eq(v[7..].trim_ascii(), token);
    (!ok).then(|| text(StatusCode::FORBIDDEN, "token not accepted"))
}

async fn health(State(app): State<App>) -> Response {
    let s = &app.stats;
    let body = serde_json::json!({
        "status": "ok",
        "batches": s.batches.load(Relaxed),
        "records": s.records.load(Relaxed),
        "replayed": s.replayed.load(Relaxed),
        "forward_failures": s.forward_failures.load(Relaxed),
        "unauthorized": s.unauthorized.load(Relaxed),
        "overloaded": s.overloaded.load(Relaxed),
        "wrapped": s.wrapped.load(Relaxed),
    });
    json_reply(&body)
}

/// 200 with a JSON body (one line).
fn json_reply(v: &serde_json::Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string() + "\n",
    )
        .into_response()
}

/// Refuse a request without valid credentials (counted, logged sparingly).
fn refuse_unauthorized(app: &App, headers: &HeaderMap, peer: &Peer) -> Option<Response> {
    let refused = check_auth(app, headers, peer)?;
    let n = app.stats.unauthorized.fetch_add(1, Relaxed) + 1;
    if n.is_power_of_two() {
        eprintln!(
            "logseal serve: refused a request without valid credentials from {} ({n} so far; {})",
            peer.addr.map_or_else(|| "?".to_string(), |a| a.to_string()),
            refused.status()
        );
    }
    Some(refused)
}

/// A body read within the limits.
struct ReadBody {
    /// As received (before decompression).
    raw: Bytes,
    /// Sent as `application/json` (an array of records, not NDJSON).
    json_array: bool,
    /// Holds one of the `slots` while the body is in memory.
    permit: tokio::sync::OwnedSemaphorePermit,
}

/// Read a body: size limits (declared and actual) and a free slot, or the
/// refusal.
async fn read_body(app: &App, headers: &HeaderMap, body: Body) -> Result<ReadBody, Response> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > app.max_body as u64) {
        return Err(too_big(app));
    }
    // Bounded memory: a body is only read when a slot is free.
    let Ok(permit) = app.slots.clone().try_acquire_owned() else {
        app.stats.overloaded.fetch_add(1, Relaxed);
        return Err(text(StatusCode::TOO_MANY_REQUESTS, "busy; retry"));
    };
    let raw = match axum::body::to_bytes(body, app.max_body).await {
        Ok(b) => b,
        Err(_) => return Err(too_big(app)),
    };
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    Ok(ReadBody {
        raw,
        json_array: ct.starts_with("application/json"),
        permit,
    })
}

fn too_big(app: &App) -> Response {
    text(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "body larger than {} bytes (lower the sender's batch.max_bytes)",
            app.max_body
        ),
    )
}

/// The idempotency key of a body: SHA-256 of its framing and bytes as
/// received (senders resend the same bytes).
fn body_key(json_array: bool, raw: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([u8::from(json_array)]);
    h.update(raw);
    h.finalize().into()
}

/// Undo the `content-encoding` (none or gzip), within the size limit.
fn decode(app: &App, headers: &HeaderMap, raw: Bytes) -> Result<Bytes, Box<Response>> {
    let enc = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .to_ascii_lowercase();
    match enc.as_str() {
        "identity" | "" => Ok(raw),
        "gzip" => {
            let mut out = Vec::new();
            let mut d = flate2::read::MultiGzDecoder::new(&raw[..]).take(app.max_body as u64 + 1);
            if d.read_to_end(&mut out).is_err() {
                return Err(Box::new(text(
                    StatusCode::BAD_REQUEST,
                    "body is not valid gzip",
                )));
            }
            if out.len() > app.max_body {
                return Err(Box::new(too_big(app)));
            }
            Ok(Bytes::from(out))
        }
        other => Err(Box::new(text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("content-encoding {other} not supported (use none or gzip)"),
        ))),
    }
}

/// A request body accepted for the sequencer.
struct Accepted {
    /// Decompressed.
    body: Bytes,
    /// Idempotency key ([`body_key`]).
    digest: [u8; 32],
    /// Sent as `application/json`.
    json_array: bool,
    /// Holds one of the `slots` while the body is in memory.
    permit: tokio::sync::OwnedSemaphorePermit,
}

/// Credentials, size limits, a free slot and the encoding, in that order
/// (nothing is read before the sender is authorised): the body, or the
/// refusal.
async fn accept(
    app: &App,
    headers: &HeaderMap,
    peer: &Peer,
    body: Body,
) -> Result<Accepted, Box<Response>> {
    if let Some(refused) = refuse_unauthorized(app, headers, peer) {
        return Err(Box::new(refused));
    }
    let ReadBody {
        raw,
        json_array,
        permit,
    } = read_body(app, headers, body).await.map_err(Box::new)?;
    let digest = body_key(json_array, &raw);
    let body = decode(app, headers, raw)?;
    Ok(Accepted {
        body,
        digest,
        json_array,
        permit,
    })
}

/// Queue `make`'s work for the sequencer and wait for its answer, holding
/// the body's slot until then. Err: 429 when the queue is full; the
/// sequencer stopped (shutting down): 503.
async fn submit<T>(
    app: &App,
    a: Accepted,
    make: impl FnOnce(Request<T>) -> Work,
) -> Result<T, Box<Response>> {
    let (reply, wait) = oneshot::channel();
    if app
        .tx
        .try_send(make(Request {
            digest: a.digest,
            body: a.body,
            json_array: a.json_array,
            reply,
        }))
        .is_err()
    {
        app.stats.overloaded.fetch_add(1, Relaxed);
        return Err(Box::new(text(
            StatusCode::TOO_MANY_REQUESTS,
            "queue full; retry",
        )));
    }
    let out = wait.await;
    drop(a.permit);
    out.map_err(|_| {
        Box::new(text(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down; retry",
        ))
    })
}

/// [`accept`] the body, then [`submit`] it.
async fn queued<T>(
    app: &App,
    headers: &HeaderMap,
    peer: &Peer,
    body: Body,
    make: impl FnOnce(Request<T>) -> Work,
) -> Result<T, Box<Response>> {
    let a = accept(app, headers, peer, body).await?;
    submit(app, a, make).await
}

async fn ingest(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match queued(&app, &headers, &peer, body, Work::Batch).await {
        Ok(Outcome::Delivered {
            records,
            first_seq,
            replayed,
        }) => json_reply(
            &serde_json::json!({"records": records, "first_seq": first_seq, "replayed": replayed}),
        ),
        Ok(Outcome::Unavailable(why)) => text(StatusCode::SERVICE_UNAVAILABLE, why),
        Err(r) => *r,
    }
}

/// `POST /feedback`: operator feedback, applied live between batches. The
/// body holds events to mark normal (as `/ingest` takes records: NDJSON, or
/// a JSON array with `content-type: application/json`; gzip accepted),
/// sealed records included. Same credentials as `/ingest`. 200
/// `{"marked": N, "saved": bool, "replayed": bool}` (a retried body, same
/// bytes, is answered as before and not applied twice); 400 when an event is not a JSON object
/// (nothing marked); 409 when the policy learns nothing from feedback.
async fn feedback(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match queued(&app, &headers, &peer, body, Work::Feedback).await {
        Ok(FeedbackOutcome::Marked {
            events,
            saved,
            replayed,
        }) => {
            json_reply(&serde_json::json!({"marked": events, "saved": saved, "replayed": replayed}))
        }
        Ok(FeedbackOutcome::Refused(why)) if why.starts_with("event ") => {
            text(StatusCode::BAD_REQUEST, format!("nothing marked: {why}"))
        }
        Ok(FeedbackOutcome::Refused(why)) => {
            text(StatusCode::CONFLICT, format!("nothing marked: {why}"))
        }
        Err(r) => *r,
    }
}

/// Serve until `shutdown` resolves; in-flight batches finish first.
pub async fn serve<L>(
    listener: L,
    app: App,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
    Peer: for<'a> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<Peer>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("HTTP server")
}
