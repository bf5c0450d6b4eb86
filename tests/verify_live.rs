//! Verified items end to end, on the product's wiring (`start_sources`, the effect runner's
//! probes): the simulated cluster and its Prometheus, and an HTTP server of the test's own
//! on 127.0.0.1. Probes tick items; a failing one blocks its gate until it passes; the
//! canary's pods tick their item as they become ready; a post-deployment target is
//! verified from the simulator's Prometheus once the last stage is in force.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use common::{tick_gates, until};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use warroom::event::Event;
use warroom::journal::Mark;
use warroom::state::Mode;

/// `/health` answers 200; `/ready` 503 until `ready` is set.
async fn service(ready: Arc<AtomicBool>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let ready = ready.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let ready = ready.clone();
                    async move {
                        let ok = match req.uri().path() {
                            "/health" => true,
                            "/ready" => ready.load(Ordering::SeqCst),
                            _ => false,
                        };
                        let (code, body) = if ok { (200, "ok") } else { (503, "not yet") };
                        Ok::<_, Infallible>(
                            Response::builder()
                                .status(code)
                                .body(Full::new(Bytes::from(body)))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

fn mark(app: &warroom::app::App, id: &str) -> (Mark, Option<String>) {
    let i = app.state.checklist.index_of(id).unwrap();
    let m = &app.state.checklist.marks[i];
    (m.mark, m.evidence.clone())
}

fn select(app: &mut warroom::app::App, id: &str) {
    let i = app.state.checklist.index_of(id).unwrap();
    let phase = app.state.checklist.items[i].phase;
    app.state.checklist.collapsed[phase] = false;
    app.state.ui.focus = warroom::layout::Pane::Checklist;
    app.state.checklist.cursor = app
        .state
        .checklist
        .rows()
        .iter()
        .position(|r| *r == warroom::state::Row::Item(i))
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_tick_fail_and_block_and_the_cluster_and_prometheus_settle_items() {
    let ready = Arc::new(AtomicBool::new(false));
    let base = service(ready.clone()).await;
    let items = format!(
        "          - id: v-users
            text: Active users reported
            verify: {{promql: 'sum(erp_active_users{{job=\"erp-backend\"}})', above: 100}}
          - id: v-health
            text: Health endpoint answers
            verify: {{http: {{url: \"{base}/health\", status: 200}}}}
          - id: v-ready
            text: Readiness endpoint answers
            verify: {{http: {{url: \"{base}/ready\", status: 200}}}}
"
    );
    let runbook = warroom::builtin::DEMO_RUNBOOK.replace(
        "          - id: prep-baseline\n",
        &format!("{items}          - id: prep-baseline\n"),
    );
    assert!(runbook.contains("v-ready"));
    let common::Rig {
        sim,
        client: _client,
        mut app,
        mut rx,
        dir: _dir,
        tasks: _tasks,
        lease: _lease,
    } = common::rig(
        include_str!("../assets/scenarios/steady.yaml"),
        "runbook.yaml",
        &runbook,
        false,
    )
    .await;
    until(&mut app, &mut rx, "driving", |a| {
        matches!(a.state.driver, warroom::state::Driver::Driving { .. })
    })
    .await;
    // The probes answer: PromQL and HTTP tick their items; /ready fails, saying so.
    until(&mut app, &mut rx, "the probes' verdicts", |a| {
        mark(a, "v-users").0 == Mark::Done
            && mark(a, "v-health").0 == Mark::Done
            && mark(a, "v-ready").0 == Mark::Failed
    })
    .await;
    assert_eq!(
        mark(&app, "v-users").1.as_deref(),
        Some("1250 > 100"),
        "the scenario's active users"
    );
    let (_, ready_said) = mark(&app, "v-ready");
    assert!(
        ready_said
            .as_deref()
            .is_some_and(|e| e.contains("/ready: status 503 Service Unavailable, not 200")),
        "{ready_said:?}"
    );
    // It blocks the 10 % gate: the confirmation says what failed, and `y` does nothing.
    tick_gates(&mut app, "canary-10");
    common::key(&mut app, 'a');
    let Mode::Confirm(c) = &app.state.ui.mode else {
        panic!("the advance asks: {:?}", app.state.ui.flash)
    };
    assert!(
        c.blockers
            .iter()
            .any(|b| b.starts_with("verification failed: Readiness endpoint answers: GET ")),
        "{:?}",
        c.blockers
    );
    common::key(&mut app, 'y');
    assert_eq!(app.state.stages.pending, None, "nothing was sent");
    common::key(&mut app, 'n');
    // The service gets ready; `v` on the item asks again and it passes.
    ready.store(true, Ordering::SeqCst);
    select(&mut app, "v-ready");
    common::key(&mut app, 'v');
    until(&mut app, &mut rx, "/ready verified", |a| {
        mark(a, "v-ready").0 == Mark::Done
    })
    .await;
    common::key(&mut app, 'a');
    common::confirm(&mut app);
    until(&mut app, &mut rx, "the 10% stage", |a| {
        a.state.stages.current == Some(0)
    })
    .await;
    // The canary's pods ready: its item is ticked by the console from the watch.
    until(&mut app, &mut rx, "the canary's pods verified ready", |a| {
        mark(a, "can-pods").0 == Mark::Done
    })
    .await;
    assert_eq!(
        mark(&app, "can-pods").1.as_deref(),
        Some("erp-backend-canary 1/1 pods ready")
    );
    until(&mut app, &mut rx, "the canary's gauges verified", |a| {
        mark(a, "can-error-rate").0 == Mark::Done && mark(a, "can-latency").0 == Mark::Done
    })
    .await;
    // On to 100 % once the hold is served (the clock jumps; the Lease would have been
    // renewed meanwhile); then the page-load target is verified from the simulator's
    // Prometheus.
    let later = chrono::Utc::now() + chrono::Duration::minutes(2);
    app.handle(Event::Tick(later));
    app.handle(Event::LeaseHeld {
        until: later + chrono::Duration::seconds(30),
    });
    tick_gates(&mut app, "full");
    common::key(&mut app, 'a');
    common::confirm(&mut app);
    until(&mut app, &mut rx, "promoted", |a| a.state.stages.promoted).await;
    until(&mut app, &mut rx, "the page-load target verified", |a| {
        mark(a, "post-page-load").0 == Mark::Done
    })
    .await;
    let (_, said) = mark(&app, "post-page-load");
    assert!(
        said.as_deref()
            .is_some_and(|e| e.starts_with("Page load time p95 1.14 s < 2.00 s")),
        "{said:?}"
    );
    let journal = warroom::journal::replay(app.journal_path())
        .unwrap()
        .records;
    assert!(
        journal.iter().any(|r| matches!(&r.entry,
            warroom::journal::Entry::Verified { item, verdict: warroom::journal::Verdict::Pass, .. }
                if item == "post-page-load")),
        "the journal keeps the verdict with its evidence"
    );
    sim.shutdown().await;
}
