//! Take-over after a crash: a console restarted on this host after its predecessor died
//! drives again at once; when a remote driver dies, a console offers to take over, and of
//! consoles taking at once exactly one wins. Real kube client, simulated API server.

use std::path::Path;

mod common;

use common::until;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};
use tokio::sync::mpsc;
use warroom::app::{App, start_sources};
use warroom::kube::lease::{Claim, lease_name, try_take};
use warroom::layout;
use warroom::runbook::parse_runbook;
use warroom::state::Driver;

const NS: &str = "erp-production";

async fn sim() -> (warroom::sim::SimHandle, kube::Client, tempfile::TempDir) {
    warroom::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let sc = warroom::runbook::parse_scenario(warroom::builtin::DEFAULT_SCENARIO).unwrap();
    let sim = warroom::sim::start(sc, 0, 0).await.unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let client = warroom::kube::connect(Some(&kc), None).await.unwrap();
    (sim, client, dir)
}

fn open(journal: &Path, operator: &str) -> (App, mpsc::UnboundedReceiver<warroom::event::Event>) {
    let rb = parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK).unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let app = App::open(
        rb,
        "demo",
        journal,
        operator,
        layout::builtin("war-room"),
        warroom::format::Zone::Local,
        tx,
    )
    .unwrap();
    (app, rx)
}

fn lease() -> String {
    lease_name("ERP backend (demo)", "v1.0.0")
}

fn this_host(identity: &str) -> String {
    identity
        .rsplit_once('@')
        .unwrap()
        .1
        .rsplit_once(" (pid")
        .unwrap()
        .0
        .to_string()
}

fn micro(
    t: chrono::DateTime<chrono::Utc>,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
        k8s_openapi::jiff::Timestamp::new(t.timestamp(), t.timestamp_subsec_nanos() as i32)
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_restarted_after_its_predecessor_died_drives_again_at_once() {
    let (sim, client, dir) = sim().await;
    let journal = dir.path().join("release.jsonl");
    // The first console: its identity names a process of this host that no longer
    // exists, as after kill -9.
    let (mut first, mut rx1) = open(&journal, "lin");
    let host = this_host(&first.identity);
    first.identity = format!("lin@{host} (pid 4194305)");
    let sources = start_sources(&mut first, client.clone(), &Default::default(), false).unwrap();
    until(&mut first, &mut rx1, "the first console drives", |a| {
        matches!(a.state.driver, Driver::Driving { .. })
    })
    .await;
    // It dies: nothing handed back, the journal's lock freed with the process.
    sources.lease.handle.abort();
    for t in sources.tasks {
        t.abort();
    }
    drop(first);
    let leases: Api<Lease> = Api::namespaced(client.clone(), NS);
    let before = leases.get(&lease()).await.unwrap();
    let spec = before.spec.clone().unwrap();
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some(format!("lin@{host} (pid 4194305)").as_str())
    );
    let renewed = spec.renew_time.unwrap().0;
    let expires = renewed
        .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(
            spec.lease_duration_seconds.unwrap() as i64,
        ))
        .unwrap();

    // Restarted on the same journal: it takes the Lease without waiting for it to expire.
    let (mut second, mut rx2) = open(&journal, "lin");
    let _sources = start_sources(&mut second, client.clone(), &Default::default(), false).unwrap();
    until(&mut second, &mut rx2, "the restarted console drives", |a| {
        matches!(a.state.driver, Driver::Driving { .. })
    })
    .await;
    let now = k8s_openapi::jiff::Timestamp::now();
    assert!(
        now < expires,
        "took over before the dead console's Lease ran out ({now} < {expires})"
    );
    let after = leases.get(&lease()).await.unwrap().spec.unwrap();
    assert_eq!(
        after.holder_identity.as_deref(),
        Some(second.identity.as_str())
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_consoles_taking_a_free_lease_at_once_exactly_one_wins_20_times_out_of_20() {
    let (sim, client, _dir) = sim().await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), NS);
    for round in 0..20 {
        let name = format!("warroom-race-{round}");
        // A Lease whose holder died elsewhere and ran out.
        let dead = Lease {
            metadata: kube::api::ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            spec: Some(k8s_openapi::api::coordination::v1::LeaseSpec {
                holder_identity: Some("kim@bastion-2 (pid 77)".into()),
                lease_duration_seconds: Some(30),
                renew_time: Some(micro(chrono::Utc::now() - chrono::Duration::seconds(60))),
                ..Default::default()
            }),
        };
        leases.create(&PostParams::default(), &dead).await.unwrap();
        let a = try_take(client.clone(), NS, &name, "lin@bastion-1 (pid 10)");
        let b = try_take(client.clone(), NS, &name, "ana@bastion-3 (pid 20)");
        let (a, b) = tokio::join!(a, b);
        let won = [&a, &b]
            .iter()
            .filter(|r| matches!(r, Ok(Claim::Ours { .. })))
            .count();
        assert_eq!(won, 1, "round {round}: exactly one console drives");
        let holder = leases
            .get(&name)
            .await
            .unwrap()
            .spec
            .unwrap()
            .holder_identity
            .unwrap();
        let loser = if matches!(a, Ok(Claim::Ours { .. })) {
            &b
        } else {
            &a
        };
        assert!(
            matches!(loser, Ok(Claim::Theirs { holder: h }) if *h == holder),
            "round {round}: the other names the winner"
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_a_remote_driver_dies_the_console_offers_to_take_over_and_does() {
    let (sim, client, dir) = sim().await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), NS);
    // A driver on another bastion, renewing with a short Lease, then gone.
    let remote = Lease {
        metadata: kube::api::ObjectMeta {
            name: Some(lease()),
            ..Default::default()
        },
        spec: Some(k8s_openapi::api::coordination::v1::LeaseSpec {
            holder_identity: Some("kim@bastion-2 (pid 77)".into()),
            lease_duration_seconds: Some(3),
            renew_time: Some(micro(chrono::Utc::now())),
            ..Default::default()
        }),
    };
    leases
        .create(&PostParams::default(), &remote)
        .await
        .unwrap();
    let (mut app, mut rx) = open(&dir.path().join("j.jsonl"), "lin");
    let _sources = start_sources(&mut app, client.clone(), &Default::default(), false).unwrap();
    until(&mut app, &mut rx, "read-only, naming the remote driver", |a| {
        matches!(&a.state.driver, Driver::ReadOnly { holder: Some(h), .. } if h.starts_with("kim@"))
    })
    .await;
    common::key(&mut app, 'T');
    assert!(
        matches!(app.state.ui.mode, warroom::state::Mode::Normal),
        "no take-over while the driver's Lease runs"
    );
    until(
        &mut app,
        &mut rx,
        "the Lease free, a take-over offered",
        |a| matches!(a.state.driver, Driver::Free { .. }),
    )
    .await;
    // It follows the driver (whose mirror is empty here): the header and the key bar
    // offer the take-over.
    assert!(app.state.follow.is_some());
    let view = warroom::ui::View::new(warroom::layout::builtin("war-room"));
    let mut buf = ratatui::buffer::Buffer::empty(ratatui::layout::Rect::new(0, 0, 160, 48));
    warroom::ui::draw_into(&app.state, &view, &mut buf);
    let row = |y: u16| -> String { (0..160).map(|x| buf[(x, y)].symbol()).collect() };
    assert!(row(0).contains("NOBODY DRIVES  T takes over"), "{}", row(0));
    assert!(row(47).contains("T TAKE OVER"), "{}", row(47));
    common::key(&mut app, 'T');
    common::confirm(&mut app);
    until(&mut app, &mut rx, "driving", |a| {
        matches!(a.state.driver, Driver::Driving { .. })
    })
    .await;
    assert!(common::log(&app).contains("lin takes over driving the release"));
    let holder = leases
        .get(&lease())
        .await
        .unwrap()
        .spec
        .unwrap()
        .holder_identity;
    assert_eq!(holder.as_deref(), Some(app.identity.as_str()));
    sim.shutdown().await;
}
