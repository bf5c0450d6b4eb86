//! End to end: the simulated cluster, the real kube client and Prometheus client, and the
//! app loop headless on a TestBackend. Keys go in; the simulated cluster's Deployments and
//! the screen come out.

use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
mod common;

use common::{key, tick_gates, until};
use warroom::journal::Entry;

fn replicas(d: &serde_json::Value) -> i64 {
    d["spec"]["replicas"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advance_to_ten_percent_then_roll_back() {
    let common::Rig {
        sim,
        client,
        mut app,
        mut rx,
        dir,
        tasks,
        lease,
    } = common::rig(
        warroom::builtin::DEFAULT_SCENARIO,
        "demo.yaml",
        warroom::builtin::DEMO_RUNBOOK,
        false,
    )
    .await;
    let k = app.state.rb.targets[0].clone();
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    until(&mut app, &mut rx, "the release Lease held", |a| {
        matches!(a.state.driver, warroom::state::Driver::Driving { .. })
    })
    .await;

    until(
        &mut app,
        &mut rx,
        "the stable Deployment ready in the rollout pane",
        |a| {
            a.state
                .cluster
                .deployment(&k.stable)
                .is_some_and(|d| d.ready == 10)
        },
    )
    .await;
    until(&mut app, &mut rx, "a live error-rate gauge", |a| {
        matches!(
            a.state.metrics[0].reading,
            Some(warroom::state::metrics::Reading::Value { .. })
        )
    })
    .await;

    // Tick what gates the 10% stage.
    assert!(tick_gates(&mut app, "canary-10") > 0);

    key(&mut app, 'a');
    app.draw(&mut term).unwrap();
    let screen = format!("{:?}", term.backend().buffer());
    assert!(
        screen.contains("Shift traffic to 10%: scale erp-backend-canary to 1 and erp-backend to 9"),
        "the confirmation says what will be done"
    );
    common::confirm(&mut app);
    until(&mut app, &mut rx, "the API's answer to the advance", |a| {
        a.state.stages.current == Some(0)
    })
    .await;
    // The cluster itself changed, and the console shows it from the watch.
    assert_eq!(replicas(&sim.deployment(&k.canary).unwrap()), 1);
    assert_eq!(replicas(&sim.deployment(&k.stable).unwrap()), 9);
    until(
        &mut app,
        &mut rx,
        "the canary pod ready in the rollout pane",
        |a| {
            a.state
                .cluster
                .deployment(&k.canary)
                .is_some_and(|d| d.ready == 1)
                && a.state
                    .cluster
                    .deployment(&k.stable)
                    .is_some_and(|d| d.ready == 9)
        },
    )
    .await;

    key(&mut app, 'R');
    common::confirm(&mut app);
    until(&mut app, &mut rx, "the rollback's answer", |a| {
        a.state.stages.rolled_back.is_some()
    })
    .await;
    assert_eq!(replicas(&sim.deployment(&k.canary).unwrap()), 0);
    assert_eq!(replicas(&sim.deployment(&k.stable).unwrap()), 10);
    until(
        &mut app,
        &mut rx,
        "the canary's pods gone from the rollout pane",
        |a| {
            a.state
                .cluster
                .deployment(&k.canary)
                .is_some_and(|d| d.replicas == 0)
                && a.state
                    .cluster
                    .deployment(&k.stable)
                    .is_some_and(|d| d.ready == 10)
        },
    )
    .await;
    app.state.ui.dirty = true;
    app.draw(&mut term).unwrap();
    let screen = format!("{:?}", term.backend().buffer());
    assert!(screen.contains("ROLLED BACK"));

    // Every decision is in the journal, and each intent is followed by its outcome.
    let j = warroom::journal::replay(&dir.path().join("journal.jsonl"))
        .unwrap()
        .records;
    for intent in j
        .iter()
        .filter(|r| matches!(r.entry, Entry::Advance { .. } | Entry::Rollback { .. }))
    {
        let outcome = j
            .iter()
            .find(|r| matches!(r.entry, Entry::Outcome { of, .. } if of == intent.seq))
            .expect("an outcome");
        assert!(outcome.seq > intent.seq);
        // Each record carries the moment its event arrived: the answer comes after the
        // intent by however long the API took.
        assert!(outcome.at > intent.at, "{intent:?} {outcome:?}");
        assert!(
            matches!(outcome.entry, Entry::Outcome { ok: true, .. }),
            "{outcome:?}"
        );
    }
    assert_eq!(
        j.iter()
            .filter(|r| matches!(r.entry, Entry::Advance { .. } | Entry::Rollback { .. }))
            .count(),
        2
    );
    // the console marked its two Deployments as driven by it when it took the Lease, and
    // changed nothing else in them but their scale, twice each
    let writes: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|(m, p)| m != "GET" && p.contains("/deployments"))
        .collect();
    assert_eq!(writes.len(), 2 + 4, "{writes:?}");
    assert!(writes.iter().all(|(m, _)| m == "PATCH"), "{writes:?}");
    let warroom::state::Driver::Driving { fence, .. } = &app.state.driver else {
        panic!("{:?}", app.state.driver)
    };
    for d in ["erp-backend", "erp-backend-canary"] {
        assert_eq!(
            sim.deployment(d).unwrap()["metadata"]["labels"]["warroom.io/driver"],
            fence.as_str()
        );
    }
    // On the way out the Lease is handed back for the next console.
    lease.release(Duration::from_secs(5)).await;
    let l: k8s_openapi::api::coordination::v1::Lease =
        kube::Api::namespaced(client.clone(), &k.namespace)
            .get(&warroom::kube::lease::lease_name(
                &app.state.rb.release.name,
                &app.state.rb.release.version,
            ))
            .await
            .expect("the Lease exists");
    assert_eq!(l.spec.unwrap().holder_identity, None);
    for t in tasks {
        t.abort();
    }
    sim.shutdown().await;
}

/// The share of requests the canary served over the last few seconds, from the
/// simulator's own Prometheus API.
async fn canary_share(prom: &warroom::prom::Prom) -> f64 {
    let q = r#"sum(rate(http_requests_total{job="erp-backend",track="canary"}[5s])) / sum(rate(http_requests_total{job="erp-backend"}[5s]))"#;
    match prom.instant(q).await.unwrap() {
        warroom::prom::Answer::Vector(v) if v.len() == 1 => v[0].value,
        other => panic!("{other:?}"),
    }
}

/// Gateway API: the stages move the HTTPRoute's weights, the simulated traffic follows
/// them, and a rollback sends everything back to stable at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_weights_move_the_traffic_and_roll_back() {
    route_weights_move_the_traffic_and_roll_back(
        warroom::builtin::GATEWAY_SCENARIO,
        "demo-gateway.yaml",
        warroom::builtin::DEMO_GATEWAY_RUNBOOK,
        "HTTPRoute",
        warroom::sim::SimHandle::httproute,
        "/spec/rules/0/backendRefs/1/weight",
    )
    .await;
}

/// Istio: the same, by the weights of a VirtualService's destinations (the built-in
/// `warroom demo --traffic istio`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istio_weights_move_the_traffic_and_roll_back() {
    route_weights_move_the_traffic_and_roll_back(
        warroom::builtin::ISTIO_SCENARIO,
        "demo-istio.yaml",
        warroom::builtin::DEMO_ISTIO_RUNBOOK,
        "VirtualService",
        warroom::sim::SimHandle::virtualservice,
        "/spec/http/0/route/1/weight",
    )
    .await;
}

async fn route_weights_move_the_traffic_and_roll_back(
    scenario: &str,
    file: &str,
    runbook: &str,
    kind: &str,
    stored: fn(&warroom::sim::SimHandle, &str) -> Option<serde_json::Value>,
    canary_weight: &str,
) {
    let common::Rig {
        sim,
        mut app,
        mut rx,
        tasks,
        lease: _lease,
        ..
    } = common::rig(scenario, file, runbook, false).await;
    let k = app.state.rb.targets[0].clone();
    until(
        &mut app,
        &mut rx,
        "driving, route and canary pods seen",
        |a| {
            matches!(a.state.driver, warroom::state::Driver::Driving { .. })
                && !a.state.cluster.snap.routes.is_empty()
                && a.state
                    .cluster
                    .deployment(&k.canary)
                    .is_some_and(|d| d.ready == 2)
        },
    )
    .await;
    // The test's own reader waits as long as a loaded machine needs.
    let prom = warroom::prom::Prom::new(&warroom::prom::Settings {
        timeout: Duration::from_secs(60),
        ..warroom::prom::Settings::new(&sim.prom_url, Duration::from_secs(5))
    })
    .unwrap();
    assert_eq!(
        canary_share(&prom).await,
        0.0,
        "weight 0: the canary serves nothing"
    );

    // Tick the gates, advance: the confirmation names the weights.
    tick_gates(&mut app, "canary-10");
    key(&mut app, 'a');
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    app.draw(&mut term).unwrap();
    let screen = format!("{:?}", term.backend().buffer());
    assert!(
        screen.contains(&format!(
            "Shift traffic to 10%: {kind} erp-backend weights erp-backend=90,"
        )) && screen.contains("erp-backend-canary=10"),
        "{screen}"
    );
    common::confirm(&mut app);
    until(
        &mut app,
        &mut rx,
        "the API's answer and the route at 90/10 in the rollout pane",
        |a| {
            a.state.stages.current == Some(0)
                && a.state
                    .cluster
                    .snap
                    .routes
                    .first()
                    .and_then(|r| r.weight("erp-backend-canary"))
                    == Some(10)
        },
    )
    .await;
    let route = stored(&sim, "erp-backend").unwrap();
    assert_eq!(route.pointer(canary_weight), Some(&serde_json::json!(10)));
    assert_eq!(
        replicas(&sim.deployment(&k.canary).unwrap()),
        2,
        "no scaling was needed"
    );
    // The traffic follows: after a few seconds the canary serves about a tenth.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let share = canary_share(&prom).await;
    assert!((0.07..0.13).contains(&share), "canary share {share}");
    app.state.ui.dirty = true;
    app.draw(&mut term).unwrap();
    let screen = format!("{:?}", term.backend().buffer());
    assert!(
        screen.contains("erp-backend 90% · erp-backend-canary 10%"),
        "{screen}"
    );

    key(&mut app, 'R');
    let warroom::state::Mode::Confirm(c) = &app.state.ui.mode else {
        panic!("{:?}", app.state.ui.flash)
    };
    assert!(c.blockers.is_empty(), "{:?}", c.blockers);
    common::confirm(&mut app);
    until(&mut app, &mut rx, "rolled back, route at 100/0", |a| {
        a.state.stages.rolled_back.is_some()
            && a.state
                .cluster
                .snap
                .routes
                .first()
                .and_then(|r| r.weight("erp-backend-canary"))
                == Some(0)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(canary_share(&prom).await, 0.0, "all traffic back on stable");
    // The canary's pods stay up for inspection.
    assert_eq!(replicas(&sim.deployment(&k.canary).unwrap()), 2);
    for t in tasks {
        t.abort();
    }
    sim.shutdown().await;
}

/// A release of three services (`warroom demo --release`), on the production wiring: the
/// 10% stage moves the backend, then the front end once the backend's canary is ready,
/// then the worker, each through the API; a rollback returns all three, the last moved
/// first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_of_three_services_moves_them_in_order_and_rolls_them_all_back() {
    let common::Rig {
        sim,
        mut app,
        mut rx,
        dir,
        tasks,
        lease: _lease,
        ..
    } = common::rig(
        warroom::builtin::RELEASE_SCENARIO,
        "demo-release.yaml",
        // The rollback here is the lead's: the front end's trigger (1 minute, then a 30 s
        // countdown) must not beat it on a loaded machine. Triggers have their own tests.
        &warroom::builtin::DEMO_RELEASE_RUNBOOK
            .replace("above: 2, for: 1m}", "above: 2, for: 1h}")
            .replace("above: 5, for: 1m}", "above: 5, for: 1h}"),
        false,
    )
    .await;
    until(
        &mut app,
        &mut rx,
        "driving, every stable ready and every gauge live",
        |a| {
            matches!(a.state.driver, warroom::state::Driver::Driving { .. })
                && [("erp-backend", 10), ("erp-frontend", 6), ("erp-worker", 4)]
                    .iter()
                    .all(|(n, r)| a.state.cluster.deployment(n).is_some_and(|d| d.ready == *r))
                && a.state.metrics.iter().all(|m| {
                    matches!(
                        m.reading,
                        Some(warroom::state::metrics::Reading::Value { .. })
                            | Some(warroom::state::metrics::Reading::Split(_))
                    )
                })
        },
    )
    .await;
    tick_gates(&mut app, "canary-10");
    common::until_free_to_advance(&mut app, &mut rx).await;
    key(&mut app, 'a');
    let warroom::state::Mode::Confirm(c) = &app.state.ui.mode else {
        panic!("{:?}", app.state.ui.flash)
    };
    assert_eq!(
        c.title,
        "Shift traffic to 10% on 3 services, one after another: backend → frontend → worker"
    );
    assert!(c.blockers.is_empty(), "{:?}", c.blockers);
    common::confirm(&mut app);
    until(
        &mut app,
        &mut rx,
        "every target moved, each canary ready",
        |a| {
            a.state.stages.current == Some(0)
                && a.state.stages.queue.is_empty()
                && a.state.stages.pending.is_none()
                && [
                    "erp-backend-canary",
                    "erp-frontend-canary",
                    "erp-worker-canary",
                ]
                .iter()
                .all(|n| common::pods_ready(a, n, 1))
        },
    )
    .await;
    for (name, want) in [
        ("erp-backend", 9),
        ("erp-backend-canary", 1),
        ("erp-frontend", 5),
        ("erp-frontend-canary", 1),
        ("erp-worker", 3),
        ("erp-worker-canary", 1),
    ] {
        assert_eq!(replicas(&sim.deployment(name).unwrap()), want, "{name}");
    }
    // The journal holds the console's own steps, the front end's before the worker's,
    // each after the answer to the one before.
    let journal = std::fs::read_to_string(dir.path().join("journal.jsonl")).unwrap();
    let records: Vec<warroom::journal::Record> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let steps: Vec<(u64, String)> = records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Step {
                target: Some(t), ..
            } => Some((r.seq, t.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        steps.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>(),
        ["frontend", "worker"]
    );
    let answered = |seq: u64| {
        records
            .iter()
            .position(|r| matches!(&r.entry, Entry::Outcome { of, ok: true, .. } if *of == seq))
            .unwrap_or_else(|| panic!("no answer to #{seq}"))
    };
    let at = |seq: u64| records.iter().position(|r| r.seq == seq).unwrap();
    assert!(answered(steps[0].0) < at(steps[1].0));

    // On a loaded machine the Lease's renewal may lag: the console then refuses to act
    // (as it should); wait until it holds the Lease again, as a lead would.
    until(&mut app, &mut rx, "the Lease held and fresh", |a| {
        a.state.refusal().is_none()
    })
    .await;
    key(&mut app, 'R');
    let warroom::state::Mode::Confirm(c) = &app.state.ui.mode else {
        panic!("{:?}", app.state.ui.flash)
    };
    assert_eq!(
        c.title,
        "Roll back on 3 services: worker → frontend → backend"
    );
    common::confirm(&mut app);
    until(&mut app, &mut rx, "rolled back, every canary at 0", |a| {
        a.state.stages.rolled_back.is_some()
            && [
                "erp-backend-canary",
                "erp-frontend-canary",
                "erp-worker-canary",
            ]
            .iter()
            .all(|n| {
                a.state
                    .cluster
                    .deployment(n)
                    .is_some_and(|d| d.desired == 0)
            })
    })
    .await;
    for (name, want) in [("erp-backend", 10), ("erp-frontend", 6), ("erp-worker", 4)] {
        assert_eq!(replicas(&sim.deployment(name).unwrap()), want, "{name}");
    }
    for t in tasks {
        t.abort();
    }
    sim.shutdown().await;
}
