//! Promotion keeps capacity: on the simulator, from the 10% stage to 100%, the ready pods
//! of the stable and canary Deployments together never drop below the stage's count, and
//! the canary goes to zero only once the stable rollout is complete. (A healthy new
//! version: the gauges are live here, and a CRITICAL canary rightly blocks promotion.)

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

mod common;

use common::{tick_gates, until};
use warroom::event::Event;

fn ready(d: &serde_json::Value) -> i64 {
    d["status"]["readyReplicas"].as_i64().unwrap_or(0)
}

async fn promote_keeps_ready_pods(scenario: &str, runbook: &str) {
    let common::Rig {
        sim,
        client,
        mut app,
        mut rx,
        dir: _dir,
        lease: _lease,
        ..
    } = common::rig(scenario, "runbook.yaml", runbook, false).await;
    let k = app.state.rb.targets[0].clone();
    until(&mut app, &mut rx, "driving, stable ready", |a| {
        matches!(a.state.driver, warroom::state::Driver::Driving { .. })
            && a.state
                .cluster
                .deployment(&k.stable)
                .is_some_and(|d| d.ready == 10)
    })
    .await;
    tick_gates(&mut app, "canary-10");
    common::key(&mut app, 'a');
    common::confirm(&mut app);
    until(
        &mut app,
        &mut rx,
        "the canary at 1 ready, stable at 9",
        |a| {
            a.state.stages.current == Some(0)
                && a.state
                    .cluster
                    .deployment(&k.canary)
                    .is_some_and(|d| d.ready == 1)
                && common::pods_ready(a, &a.state.rb.targets[0].canary, 1)
                && a.state
                    .cluster
                    .deployment(&k.stable)
                    .is_some_and(|d| d.ready == 9 && d.replicas == 9)
        },
    )
    .await;
    // Watch the cluster itself, every 50 ms, from here to the end.
    let low = Arc::new(AtomicI64::new(i64::MAX));
    let watcher = {
        let low = low.clone();
        let api: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
            kube::Api::namespaced(client.clone(), &k.namespace);
        let (st, ca) = (k.stable.clone(), k.canary.clone());
        let ready_of = |d: k8s_openapi::api::apps::v1::Deployment| {
            d.status.and_then(|s| s.ready_replicas).unwrap_or(0) as i64
        };
        tokio::spawn(async move {
            loop {
                if let (Ok(s), Ok(c)) = (api.get(&st).await, api.get(&ca).await) {
                    low.fetch_min(ready_of(s) + ready_of(c), Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    // The hold served (the clock jumps; the Lease would have been renewed meanwhile).
    let later = chrono::Utc::now() + chrono::Duration::minutes(15);
    app.handle(Event::Tick(later));
    app.handle(Event::LeaseHeld {
        until: later + chrono::Duration::seconds(30),
    });
    tick_gates(&mut app, "full");
    common::key(&mut app, 'a');
    common::confirm(&mut app);
    until(&mut app, &mut rx, "promoted", |a| a.state.stages.promoted).await;
    until(
        &mut app,
        &mut rx,
        "the canary retired after the stable rollout",
        |a| {
            a.state
                .cluster
                .deployment(&k.canary)
                .is_some_and(|d| d.desired == 0)
                && a.state.stages.pending.is_none()
        },
    )
    .await;
    watcher.abort();
    let s = sim.deployment(&k.stable).unwrap();
    assert_eq!(s["spec"]["replicas"], 10);
    assert!(
        s["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap()
            .ends_with(":v1.0.0")
    );
    assert_eq!(
        ready(&s),
        10,
        "the stable rollout completed before the canary went"
    );
    let low = low.load(Ordering::SeqCst);
    assert!(
        low >= 10,
        "ready pods dropped to {low} during the promotion"
    );
    let log = common::log(&app);
    // Said in the runbook's language.
    let retired = match app.state.lang {
        warroom::runbook::Lang::En => "Retire the canary: scale erp-backend-canary to 0",
        warroom::runbook::Lang::Zh => "下线灰度版：将 erp-backend-canary 缩至 0",
    };
    assert!(log.contains(retired), "{log}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_keeps_capacity_with_the_erp_runbook() {
    promote_keeps_ready_pods(
        include_str!("../assets/scenarios/steady.yaml"),
        include_str!("../assets/runbooks/erp-v1.0.0.zh.yaml"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_keeps_capacity_with_the_demo_runbook() {
    promote_keeps_ready_pods(
        include_str!("../assets/scenarios/steady.yaml"),
        warroom::builtin::DEMO_RUNBOOK,
    )
    .await;
}
