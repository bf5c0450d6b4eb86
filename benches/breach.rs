//! Breach → rollback request: how long after a trigger is met (the moment Prometheus'
//! history says its condition had held for its duration) the driving console's rollback
//! reaches the Kubernetes API. Goal: the countdown plus at most 1 s.
//!
//! The whole console headless (its sources as `warroom run` wires them) on the built-in
//! simulator, whose canary answers 6% of its requests with errors, with a trigger of
//! `for: 5s` and `countdown: 3s` at a 1 s refresh. Run: `cargo bench --bench breach`.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use warroom::app::{App, start_sources};
use warroom::journal::{Entry, Record, Writer};
use warroom::runbook::parse_runbook;

const SCENARIO: &str = r#"
name: bench, a bad canary at 10%
namespace: erp-production
app: erp-backend
stable: {name: erp-backend, image: "registry.local/erp-backend:v0.9.3", replicas: 9, track: stable}
canary: {name: erp-backend-canary, image: "registry.local/erp-backend:v1.0.0", replicas: 0, track: canary}
versions:
  v0.9.3: {error_rate: 0.002, latency_p50_ms: 120, latency_p95_ms: 380, cpu: 0.42, memory: 0.61}
  v1.0.0: {error_rate: 0.06, latency_p50_ms: 180, latency_p95_ms: 900, cpu: 0.55, memory: 0.66}
traffic: {rps: 400, orders_per_min: 180, active_users: 1250}
noise: 0
"#;

const COUNTDOWN_S: i64 = 3;

async fn once() -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let sim = warroom::sim::start(warroom::runbook::parse_scenario(SCENARIO).unwrap(), 0, 0)
        .await
        .unwrap();
    let kc = dir.path().join("kc");
    sim.write_kubeconfig(&kc).unwrap();
    let client = warroom::kube::connect(Some(&kc), None).await.unwrap();
    let text = warroom::builtin::DEMO_RUNBOOK
        .replace("prometheus: {refresh: 2s}", "prometheus: {refresh: 1s}")
        .replace(
            "{metric: canary-error-rate, series: {track: canary}, above: 5, for: 1m}",
            "{metric: canary-error-rate, series: {track: canary}, above: 5, for: 5s}",
        )
        .replacen("countdown: 30s", &format!("countdown: {COUNTDOWN_S}s"), 1);
    let rb = parse_runbook(Path::new("demo.yaml"), &text).unwrap();
    // The journal of a console that advanced to 10% a moment ago.
    let journal = dir.path().join("j.jsonl");
    {
        let mut w = Writer::open(&journal).unwrap();
        let at = Utc::now();
        let rec = |seq, entry| Record {
            seq,
            at,
            who: "lin".into(),
            entry,
        };
        w.append(&rec(
            1,
            Entry::Session {
                runbook: "demo".into(),
                release: rb.release.name.clone(),
                version: rb.release.version.clone(),
            },
        ))
        .unwrap();
        w.append(&rec(
            2,
            Entry::Advance {
                to: "canary-10".into(),
                plan: "Shift traffic to 10%".into(),
                overridden: vec![],
                override_reason: None,
            },
        ))
        .unwrap();
        w.append(&rec(
            3,
            Entry::Outcome {
                of: 2,
                ok: true,
                message: "ok".into(),
            },
        ))
        .unwrap();
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut app = App::open(
        rb,
        "demo",
        &journal,
        "lin",
        warroom::layout::builtin("war-room"),
        warroom::format::Zone::Local,
        tx,
    )
    .unwrap();
    let overrides = warroom::prom::Overrides {
        url: Some(sim.prom_url.clone()),
        ..Default::default()
    };
    let sources = start_sources(&mut app, client.clone(), &overrides, false).unwrap();
    // The breach begins once the console watches: the canary's pod starts serving (with
    // its 6% errors) only now.
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(client, "erp-production");
    deployments
        .patch(
            "erp-backend-canary",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({"spec": {"replicas": 1}})),
        )
        .await
        .unwrap();
    let mut met = None;
    let limit = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let ev = tokio::time::timeout_at(limit, rx.recv())
            .await
            .expect("no rollback within 2 minutes")
            .unwrap();
        app.handle(ev);
        if met.is_none() {
            met = app.state.triggers[0].met.as_ref().map(|m| m.at);
        }
        // The console's rollback: the second write to the canary (the first was ours).
        let sent = sim
            .requests()
            .iter()
            .filter(|(m, p)| m == "PATCH" && p.contains("/deployments/erp-backend-canary"))
            .count()
            >= 2;
        if sent && let Some(at) = met {
            let late = (Utc::now() - at).num_milliseconds() as f64 / 1000.0;
            for t in sources.tasks {
                t.abort();
            }
            sources.lease.release(Duration::from_secs(5)).await;
            sim.shutdown().await;
            return late;
        }
    }
}

fn main() {
    warroom::install_crypto();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let runs: usize = std::env::var("BREACH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut after: Vec<f64> = (0..runs)
        .map(|_| rt.block_on(once()) - COUNTDOWN_S as f64)
        .collect();
    after.sort_by(f64::total_cmp);
    println!(
        "breach → rollback request at the API: countdown ({COUNTDOWN_S} s) + min {:.3} s, median {:.3} s, max {:.3} s over {runs} runs (goal: + at most 1 s)",
        after[0],
        after[after.len() / 2],
        after[after.len() - 1]
    );
}
