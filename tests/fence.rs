//! One driver, even on a stalled link. A console's link to the API server stalls with its
//! advance in transit; its Lease runs out and it stops acting; a console on another
//! bastion takes over; then the stalled link delivers the old driver's advance. The API
//! server must refuse it: the new driver marked the release's Deployments when it took
//! the Lease, and every write carries its sender's mark.

mod common;

use common::{Relay, confirm, demo_app as open, key, log, tick_gates, until};
use warroom::app::{App, start_sources};
use warroom::runbook::Lang;
use warroom::state::{Driver, Mode};

const CANARY: &str = "erp-backend-canary";
const STABLE: &str = "erp-backend";

/// The demo's simulated cluster, and a kubeconfig for it.
async fn sim() -> (
    warroom::sim::SimHandle,
    tempfile::TempDir,
    std::path::PathBuf,
) {
    warroom::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let sc = warroom::runbook::parse_scenario(warroom::builtin::DEFAULT_SCENARIO).unwrap();
    let sim = warroom::sim::start(sc, 0, 0).await.unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    (sim, dir, kc)
}

fn fence_of(app: &App) -> String {
    match &app.state.driver {
        Driver::Driving { fence, .. } => fence.clone(),
        other => panic!("not driving: {other:?}"),
    }
}

fn replicas(sim: &warroom::sim::SimHandle, name: &str) -> i64 {
    sim.deployment(name).unwrap()["spec"]["replicas"]
        .as_i64()
        .unwrap()
}

fn mark(sim: &warroom::sim::SimHandle, name: &str) -> String {
    sim.deployment(name).unwrap()["metadata"]["labels"]["warroom.io/driver"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_held_in_transit_cannot_land_after_another_console_took_over() {
    let (sim, dir, kc) = sim().await;
    // Lin's console reaches the API through a link that will stall; Wang's directly.
    let relay = Relay::start(sim.kube_url.trim_start_matches("http://").parse().unwrap()).await;
    let relayed = dir.path().join("relayed.kubeconfig");
    std::fs::write(
        &relayed,
        std::fs::read_to_string(&kc)
            .unwrap()
            .replace(&sim.kube_url, &format!("http://127.0.0.1:{}", relay.port)),
    )
    .unwrap();
    let prometheus = warroom::prom::Overrides {
        url: Some(sim.prom_url.clone()),
        ..Default::default()
    };

    let (mut a, mut arx) = open(dir.path(), "lin");
    let a_client = warroom::kube::connect(Some(&relayed), None).await.unwrap();
    let _a = start_sources(&mut a, a_client, &prometheus, false).unwrap();
    until(
        &mut a,
        &mut arx,
        "lin driving, the stable pods ready",
        |a| {
            matches!(a.state.driver, Driver::Driving { .. })
                && a.state
                    .cluster
                    .deployment(STABLE)
                    .is_some_and(|d| d.ready == 10)
        },
    )
    .await;
    let fence_a = fence_of(&a);
    assert_eq!(mark(&sim, STABLE), fence_a);
    assert_eq!(mark(&sim, CANARY), fence_a);

    let (mut b, mut brx) = open(dir.path(), "wang");
    let b_client = warroom::kube::connect(Some(&kc), None).await.unwrap();
    let _b = start_sources(&mut b, b_client, &prometheus, false).unwrap();
    until(&mut b, &mut brx, "wang read-only, naming lin", |b| {
        matches!(&b.state.driver, Driver::ReadOnly { holder: Some(h), .. } if h.starts_with("lin@"))
    })
    .await;

    // Lin advances to 10%; the link stalls with the write in transit.
    assert!(tick_gates(&mut a, "canary-10") > 0);
    key(&mut a, 'a');
    relay.stall();
    confirm(&mut a);
    assert!(a.state.stages.pending.is_some(), "the advance went out");
    // Its deadline ends before lin's Lease does: lin is told it may or may not have landed.
    until(
        &mut a,
        &mut arx,
        "the advance given up at its deadline",
        |a| a.state.stages.pending.is_none(),
    )
    .await;
    assert!(
        log(&a).contains("may or may not have been made"),
        "{}",
        log(&a)
    );
    // Lin's Lease runs out, its renewal stuck in transit: lin's console acts no more.
    until(&mut a, &mut arx, "lin's Lease term over", |a| {
        a.state.refusal().is_some()
    })
    .await;
    key(&mut a, 'R');
    assert!(
        matches!(a.state.ui.mode, Mode::Normal),
        "a console past its Lease offered an action: {:?}",
        a.state.ui.mode
    );

    // Wang sees the Lease run out, takes over, and marks the Deployments as his.
    until(&mut b, &mut brx, "the Lease free on wang's console", |b| {
        matches!(b.state.driver, Driver::Free { .. })
    })
    .await;
    key(&mut b, 'T');
    confirm(&mut b);
    until(&mut b, &mut brx, "wang driving", |b| {
        matches!(b.state.driver, Driver::Driving { .. })
    })
    .await;
    let fence_b = fence_of(&b);
    assert_ne!(fence_a, fence_b);
    assert_eq!(mark(&sim, CANARY), fence_b);
    assert_eq!(mark(&sim, STABLE), fence_b);

    // Now the stalled link delivers lin's advance. The API server refuses it.
    let patches = |sim: &warroom::sim::SimHandle| -> Vec<u16> {
        sim.answers()
            .into_iter()
            .filter(|(m, p, _)| m == "PATCH" && p.contains(&format!("/deployments/{CANARY}?")))
            .map(|(_, _, code)| code)
            .collect()
    };
    let before = patches(&sim);
    assert_eq!(before, vec![200, 200], "the two marks, lin's and wang's");
    relay.release();
    until(&mut a, &mut arx, "lin's console told who drives now", |a| {
        matches!(&a.state.driver, Driver::ReadOnly { holder: Some(h), .. } if h.starts_with("wang@"))
    })
    .await;
    let limit = tokio::time::Instant::now() + std::time::Duration::from_secs(90);
    while patches(&sim).len() == before.len() {
        assert!(
            tokio::time::Instant::now() < limit,
            "the held advance never reached the API server"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        patches(&sim)[before.len()..],
        [422],
        "the held advance was not refused"
    );
    assert_eq!(
        replicas(&sim, CANARY),
        0,
        "the held advance scaled the canary"
    );
    assert_eq!(replicas(&sim, STABLE), 10);
    assert_eq!(mark(&sim, CANARY), fence_b);
    // Wang drives on: his own write, under his mark, goes through.
    assert!(tick_gates(&mut b, "canary-10") > 0);
    key(&mut b, 'a');
    confirm(&mut b);
    until(&mut b, &mut brx, "wang's advance done", |b| {
        b.state.stages.current == Some(0)
    })
    .await;
    assert_eq!(replicas(&sim, CANARY), 1);
    sim.shutdown().await;
}

/// A write from a console whose mark is gone is refused by the API server, and the console
/// says so in plain words: who took over, and that nothing was changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_under_a_stale_mark_is_refused_in_plain_words() {
    let (sim, _dir, kc) = sim().await;
    let client = warroom::kube::connect(Some(&kc), None).await.unwrap();
    let marked = warroom::kube::lease::Marked {
        deployments: vec![STABLE.into(), CANARY.into()],
        routes: Vec::new(),
    };
    warroom::kube::lease::mark(&client, "erp-production", &marked, "2-0000beef")
        .await
        .unwrap();
    let op = warroom::effect::KubeOp::Scale {
        targets: vec![(CANARY.into(), 1), (STABLE.into(), 9)],
    };
    let err = warroom::kube::run(&client, "erp-production", &op, ("1-0000abcd", Lang::En))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "scale erp-backend-canary to 1: refused by the API server: another console has taken over this release (erp-backend-canary is marked warroom.io/driver=2-0000beef, not this console's 1-0000abcd); nothing was changed"
    );
    // A Chinese runbook's console says the same in Chinese.
    let err = warroom::kube::run(&client, "erp-production", &op, ("1-0000abcd", Lang::Zh))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "将 erp-backend-canary 扩缩至 1：被 API 服务器拒绝：另一个控制台已接管此次发布（erp-backend-canary 的标记为 warroom.io/driver=2-0000beef，而非本控制台的 1-0000abcd）；未做任何更改"
    );
    assert_eq!(replicas(&sim, CANARY), 0);
    assert_eq!(replicas(&sim, STABLE), 10);
    // Under the mark it carries, the same write goes through.
    let done = warroom::kube::run(&client, "erp-production", &op, ("2-0000beef", Lang::En))
        .await
        .unwrap();
    assert_eq!(
        done,
        "erp-backend-canary scaled to 1, erp-backend scaled to 9"
    );
    assert_eq!(replicas(&sim, CANARY), 1);
    sim.shutdown().await;
}
