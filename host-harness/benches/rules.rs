//! Per-event cost of calling rule components through the component model.
//!
//! ```text
//! cargo xtask build-wasm
//! cargo bench -p logseal-host-harness --bench rules
//! ```
//!
//! (`LOGSEAL_WASM_DIR` overrides where the components are read from.)
//! Groups: `bare_call` is the noop rule (returns at once) on a ~1 KB event and
//! on `{}`: the cost of crossing the component boundary, the event copied into
//! the guest; `rules_1` and `rules_10` are one and ten
//! Panther ports on a real ~1 KB CloudTrail event that none of them matches
//! (the common case) and on one that one of them matches. Each with fuel
//! metering on and off. Figures are in docs/RULES.md, "Benchmarks".

use std::path::PathBuf;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use logseal_host_harness::rules::{RuleConfig, RuleHost};

const TEN: &[&str] = &[
    "logseal_rule_aws_root_login_failed.wasm",
    "logseal_rule_aws_root_access_key_created.wasm",
    "logseal_rule_aws_cloudtrail_stopped.wasm",
    "logseal_rule_aws_root_password_changed.wasm",
    "logseal_rule_k8s_pod_exec.wasm",
    "logseal_rule_okta_account_locked.wasm",
    "logseal_rule_okta_mfa_disabled.wasm",
    "logseal_rule_okta_api_key_created.wasm",
    "logseal_rule_github_branch_protection_disabled.wasm",
    "logseal_rule_github_repo_hook_modified.wasm",
];

/// A CloudTrail event (from Panther's tests) that no rule above matches.
const QUIET: &str = r#"{"eventVersion":"1.06","userIdentity":{"type":"AssumedRole","principalId":"1111:tester","arn":"arn:aws:sts::123456789012:user/tester","accountId":"123456789012","accessKeyId":"1","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"1111","arn":"arn:aws:iam::123456789012:user/tester","accountId":"123456789012","userName":"tester"},"attributes":{"creationDate":"2019-01-01T00:00:00Z","mfaAuthenticated":"true"}}},"eventTime":"2019-01-01T00:00:00Z","eventSource":"dynamodb.amazonaws.com","eventName":"DescribeTable","awsRegion":"us-west-2","sourceIPAddress":"111.111.111.111","userAgent":"console.amazonaws.com","requestParameters":{"tableName":"table"},"responseElements":null,"requestID":"1","eventID":"1","readOnly":true,"resources":[{"accountId":"123456789012","type":"AWS::DynamoDB::Table","ARN":"arn:aws:dynamodb:us-west-2:123456789012:table/table"}],"eventType":"AwsApiCall","apiVersion":"2012-08-10","managementEvent":true,"recipientAccountId":"123456789012"}"#;

/// A failed root console login (fires AWS.Console.RootLoginFailed).
const HIT: &str = r#"{"eventVersion":"1.05","userIdentity":{"type":"Root","principalId":"1111","arn":"arn:aws:iam::123456789012:root","accountId":"123456789012","userName":"root"},"eventTime":"2019-01-01T00:00:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"111.111.111.111","userAgent":"Mozilla","requestParameters":null,"responseElements":{"ConsoleLogin":"Failure"},"additionalEventData":{"LoginTo":"https://console.aws.amazon.com/console/","MobileVersion":"No","MFAUsed":"No"},"eventID":"1","eventType":"AwsConsoleSignIn","recipientAccountId":"123456789012"}"#;

fn wasm(file: &str) -> PathBuf {
    let dir = std::env::var_os("LOGSEAL_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm"));
    let path = dir.join(file);
    assert!(
        path.is_file(),
        "rule component {} is missing: run `cargo xtask build-wasm`",
        path.display()
    );
    path
}

fn host(files: &[&str], fuel: bool) -> RuleHost {
    let config = RuleConfig {
        fuel_per_event: if fuel {
            RuleConfig::default().fuel_per_event
        } else {
            None
        },
        ..RuleConfig::default()
    };
    let mut h = RuleHost::new(config).expect("rule host");
    for f in files {
        h.load(&wasm(f)).expect("load rule");
    }
    h
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("rules");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(1));
    for fuel in [true, false] {
        let tag = if fuel { "fuel" } else { "nofuel" };
        let mut h = host(&["logseal_rule_noop.wasm"], fuel);
        g.bench_function(BenchmarkId::new("bare_call_1k", tag), |b| {
            b.iter(|| h.evaluate(std::hint::black_box(QUIET), 0))
        });
        g.bench_function(BenchmarkId::new("bare_call_empty", tag), |b| {
            b.iter(|| h.evaluate(std::hint::black_box("{}"), 0))
        });
        for n in [1usize, 10] {
            let mut h = host(&TEN[..n], fuel);
            assert!(h.evaluate(QUIET, 0).is_empty());
            assert_eq!(h.evaluate(HIT, 0).len(), 1);
            g.bench_function(BenchmarkId::new(format!("rules_{n}_quiet"), tag), |b| {
                b.iter(|| h.evaluate(std::hint::black_box(QUIET), 0))
            });
            g.bench_function(BenchmarkId::new(format!("rules_{n}_hit"), tag), |b| {
                b.iter(|| h.evaluate(std::hint::black_box(HIT), 0))
            });
        }
    }
    g.finish();
}

/// Minimum over batches: on a shared machine (other builds running), a
/// preempted batch only ever makes a batch slower, so the fastest of many
/// short batches is a robust estimate of the undisturbed per-event cost.
/// Printed after criterion's report as a Markdown table.
fn min_of_batches() {
    const BATCHES: u32 = 300;
    const PER_BATCH: u32 = 200;
    let mut rows = Vec::new();
    for fuel in [true, false] {
        let mut cases: Vec<(String, RuleHost, &str)> = vec![
            (
                "bare_call_1k".into(),
                host(&["logseal_rule_noop.wasm"], fuel),
                QUIET,
            ),
            (
                "bare_call_empty".into(),
                host(&["logseal_rule_noop.wasm"], fuel),
                "{}",
            ),
        ];
        for n in [1usize, 10] {
            cases.push((format!("rules_{n}_quiet"), host(&TEN[..n], fuel), QUIET));
            cases.push((format!("rules_{n}_hit"), host(&TEN[..n], fuel), HIT));
        }
        for (name, mut h, ev) in cases {
            let mut best = Duration::MAX;
            for _ in 0..BATCHES {
                let t = std::time::Instant::now();
                for _ in 0..PER_BATCH {
                    std::hint::black_box(h.evaluate(std::hint::black_box(ev), 0));
                }
                best = best.min(t.elapsed());
            }
            rows.push((name, fuel, best / PER_BATCH));
        }
    }
    println!("\n| benchmark | fuel | min-of-batches per event |\n|---|---|---|");
    for (name, fuel, d) in rows {
        println!(
            "| {name} | {} | {:.2} µs |",
            if fuel { "on" } else { "off" },
            d.as_secs_f64() * 1e6
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    min_of_batches();
}
