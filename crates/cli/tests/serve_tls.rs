//! `logseal serve` over HTTPS, with client certificates (mutual TLS) as the
//! senders' credential: certificates made here with rcgen (a CA, the
//! sidecar's server certificate, a client certificate from that CA and one
//! from another CA), a real TLS client on loopback, and the chain checked at
//! the next hop.

mod serve_common;

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serve_common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;

struct Pki {
    ca_pem: String,
    server: (String, String),
    client: (String, String),
    rogue_client: (String, String),
}

fn make_ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(rcgen::DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    (cert.pem(), Issuer::new(p, key))
}

fn leaf(names: &[&str], issuer: &Issuer<'_, KeyPair>) -> (String, String) {
    let p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn pki() -> Pki {
    let (ca_pem, ca) = make_ca("logseal test CA");
    let (_, other) = make_ca("some other CA");
    Pki {
        ca_pem,
        server: leaf(&["localhost", "127.0.0.1"], &ca),
        client: leaf(&["vector.example"], &ca),
        rogue_client: leaf(&["vector.example"], &other),
    }
}

/// POST `body` over TLS; the HTTP status, or the TLS/IO error.
async fn post(
    addr: std::net::SocketAddr,
    ca_pem: &str,
    client: Option<&(String, String)>,
    token: Option<&str>,
    body: &[u8],
) -> Result<u16, String> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let cfg = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let mut tls = TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let auth = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
    let head = format!(
        "POST / HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/x-ndjson\r\n{auth}content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(body).await.map_err(|e| e.to_string())?;
    let mut resp = Vec::new();
    // With TLS 1.3 a rejected client certificate surfaces on the first read.
    tls.read_to_end(&mut resp)
        .await
        .map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&resp);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {text:?}"))
}

fn write_pki(setup: &Setup, p: &Pki) -> Vec<String> {
    std::fs::write(setup.path("server.pem"), &p.server.0).unwrap();
    std::fs::write(setup.path("server.key"), &p.server.1).unwrap();
    std::fs::write(setup.path("ca.pem"), &p.ca_pem).unwrap();
    vec![
        "--tls-cert".into(),
        setup.path("server.pem").to_str().unwrap().into(),
        "--tls-key".into(),
        setup.path("server.key").to_str().unwrap().into(),
        "--client-ca".into(),
        setup.path("ca.pem").to_str().unwrap().into(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_client_certificate_is_the_credential() {
    let setup = Setup::new(5);
    let p = pki();
    let rx = Receiver::new();
    let (raddr, _stop) = rx.serve("127.0.0.1:0").await;
    let tls = write_pki(&setup, &p);
    // No token file: a client certificate is the only way in.
    let side = Sidecar::start_with(
        &setup,
        "127.0.0.1:0",
        &format!("http://{raddr}/"),
        &tls,
        false,
    );
    assert!(
        side.log().contains("listening on https://"),
        "{}",
        side.log()
    );
    let (body, _) = body_of(&events(0, 10), Framing::Ndjson);

    // Refused, nothing sealed: no certificate (401, even with a token), a
    // certificate from another CA (handshake refused), plain HTTP.
    assert_eq!(post(side.addr, &p.ca_pem, None, None, &body).await, Ok(401));
    assert_eq!(
        post(side.addr, &p.ca_pem, None, Some(TOKEN), &body).await,
        Ok(401)
    );
    let rogue = post(side.addr, &p.ca_pem, Some(&p.rogue_client), None, &body).await;
    assert!(
        rogue.is_err(),
        "a certificate from another CA must be refused: {rogue:?}"
    );
    let plain = reqwest::Client::new()
        .post(side.url())
        .body(body.clone())
        .send()
        .await;
    assert!(
        plain.map(|r| r.status().as_u16() != 200).unwrap_or(true),
        "plain HTTP must not be served"
    );
    assert!(rx.all().is_empty(), "nothing may be sealed or forwarded");

    // The right certificate: sealed, forwarded, acknowledged.
    assert_eq!(
        post(side.addr, &p.ca_pem, Some(&p.client), None, &body).await,
        Ok(200)
    );
    let (body2, _) = body_of(&events(10, 25), Framing::Ndjson);
    assert_eq!(
        post(side.addr, &p.ca_pem, Some(&p.client), None, &body2).await,
        Ok(200)
    );
    let c = check(&setup, &rx.all(), 0..25);
    assert_eq!(c.records, 25);
    assert!(
        side.wait_log("TLS handshake"),
        "the refused handshake is logged: {}",
        side.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_token_or_certificate() {
    let setup = Setup::new(5);
    let p = pki();
    let rx = Receiver::new();
    let (raddr, _stop) = rx.serve("127.0.0.1:0").await;
    let tls = write_pki(&setup, &p);
    let side = Sidecar::start_with(
        &setup,
        "127.0.0.1:0",
        &format!("http://{raddr}/"),
        &tls,
        true,
    );
    let (body, _) = body_of(&events(0, 5), Framing::Ndjson);
    // Either credential is enough; neither, or a wrong token, is not.
    assert_eq!(post(side.addr, &p.ca_pem, None, None, &body).await, Ok(401));
    assert_eq!(
        post(
            side.addr,
            &p.ca_pem,
            None,
            Some("wrong-token-0123456789"),
            &body
        )
        .await,
        Ok(403)
    );
    assert!(rx.all().is_empty());
    assert_eq!(
        post(side.addr, &p.ca_pem, None, Some(TOKEN), &body).await,
        Ok(200)
    );
    let (body2, _) = body_of(&events(5, 9), Framing::Ndjson);
    assert_eq!(
        post(side.addr, &p.ca_pem, Some(&p.client), None, &body2).await,
        Ok(200)
    );
    let c = check(&setup, &rx.all(), 0..9);
    assert_eq!(c.records, 9);
}

#[test]
fn bad_tls_files_are_clear_errors() {
    let setup = Setup::new(5);
    std::fs::write(setup.path("empty.pem"), "").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logseal"))
        .args(["serve", "--config"])
        .arg(setup.path("logseal.json"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--forward",
            "http://127.0.0.1:9/",
        ])
        .arg("--tls-cert")
        .arg(setup.path("empty.pem"))
        .arg("--tls-key")
        .arg(setup.path("empty.pem"))
        .arg("--client-ca")
        .arg(setup.path("empty.pem"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no certificate"), "{err}");
    // Neither a token nor a client CA: refused at start.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logseal"))
        .args(["serve", "--config"])
        .arg(setup.path("logseal.json"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--forward",
            "http://127.0.0.1:9/",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token-file or --client-ca"));
}
