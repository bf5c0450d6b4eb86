//! The console on a cluster it shares: one driver at a time through the release's Lease,
//! read-only consoles that write nothing, and what the cluster records of each action.
//! The simulator serves the Kubernetes API; the console talks to it with the real client.

mod common;

use std::time::Duration;

use common::{demo_app, key, settle, until};
use warroom::state::Driver;

async fn sim() -> (warroom::sim::SimHandle, kube::Client, tempfile::TempDir) {
    warroom::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let scenario =
        warroom::runbook::parse_scenario(include_str!("../assets/scenarios/steady.yaml")).unwrap();
    let sim = warroom::sim::start(scenario, 0, 0).await.unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let client = warroom::kube::connect(Some(&kc), None).await.unwrap();
    (sim, client, dir)
}

fn lease_of(app: &warroom::app::App) -> String {
    let rb = &app.state.rb;
    warroom::kube::lease::lease_name(&rb.release.name, &rb.release.version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_console_starts_read_only_and_names_the_driver() {
    let (sim, client, dir) = sim().await;
    let (mut first, mut rx1) = demo_app(dir.path(), "lin");
    let (mut second, mut rx2) = demo_app(dir.path(), "wang");
    let ns = first.state.rb.namespace().to_string();
    let name = lease_of(&first);

    let l1 = warroom::kube::lease::spawn(
        client.clone(),
        &ns,
        &name,
        first.identity.clone(),
        false,
        warroom::kube::lease::Marked::of(&first.state.rb.targets),
        warroom::runbook::Lang::En,
        first.sender(),
    );
    until(&mut first, &mut rx1, "the first console driving", |a| {
        matches!(a.state.driver, Driver::Driving { .. })
    })
    .await;

    let l2 = warroom::kube::lease::spawn(
        client.clone(),
        &ns,
        &name,
        second.identity.clone(),
        false,
        warroom::kube::lease::Marked::of(&second.state.rb.targets),
        warroom::runbook::Lang::En,
        second.sender(),
    );
    until(&mut second, &mut rx2, "the second console read-only", |a| {
        matches!(a.state.driver, Driver::ReadOnly { .. })
    })
    .await;
    let Driver::ReadOnly { holder, why } = &second.state.driver else {
        unreachable!()
    };
    assert_eq!(holder.as_deref(), Some(first.identity.as_str()));
    assert!(why.contains("lin@"), "{why}");
    // It follows the driver (from the mirror in the cluster), and the header names it.
    assert!(second.state.follow.as_ref().is_some_and(|f| f.from_cluster));
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 48)).unwrap();
    second.state.ui.dirty = true;
    second.draw(&mut term).unwrap();
    let screen = format!("{:?}", term.backend().buffer());
    assert!(screen.contains("FOLLOWING  lin@"), "{screen}");
    let buf = term.backend().buffer();
    let bar: String = (0..buf.area.width)
        .map(|x| buf[(x, buf.area.height - 1)].symbol().to_string())
        .collect();
    assert!(bar.contains("FOLLOWING"), "the key bar says so: {bar}");
    assert!(
        !bar.contains("advance") && !bar.contains("ROLLBACK"),
        "the key bar offers no action it would refuse: {bar}"
    );

    // The first console keeps renewing: still the holder after a renewal period.
    settle(
        &mut first,
        &mut rx1,
        warroom::kube::lease::RENEW + Duration::from_secs(1),
    )
    .await;
    assert!(matches!(first.state.driver, Driver::Driving { .. }));
    let lease: k8s_openapi::api::coordination::v1::Lease =
        kube::Api::namespaced(client.clone(), &ns)
            .get(&name)
            .await
            .unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some(first.identity.as_str())
    );
    assert!(spec.renew_time.unwrap().0 > spec.acquire_time.unwrap().0);

    // Once the driver quits, the watcher says so (within a renewal period), and a new
    // console drives at once.
    l1.release(Duration::from_secs(5)).await;
    until(&mut second, &mut rx2, "the watcher seeing no driver", |a| {
        matches!(&a.state.driver, Driver::Free { why }
            if why.starts_with("no console drives this release now"))
    })
    .await;
    l2.release(Duration::from_secs(5)).await;
    drop(second);
    let (mut third, mut rx3) = demo_app(dir.path(), "wang");
    let _l3 = warroom::kube::lease::spawn(
        client.clone(),
        &ns,
        &name,
        third.identity.clone(),
        false,
        warroom::kube::lease::Marked::of(&third.state.rb.targets),
        warroom::runbook::Lang::En,
        third.sender(),
    );
    until(&mut third, &mut rx3, "the next console driving", |a| {
        matches!(a.state.driver, Driver::Driving { .. })
    })
    .await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_sends_no_write_to_the_api() {
    let common::Rig {
        sim,
        mut app,
        mut rx,
        tasks,
        lease: _lease,
        ..
    } = common::rig(
        include_str!("../assets/scenarios/steady.yaml"),
        "demo.yaml",
        warroom::builtin::DEMO_RUNBOOK,
        true,
    )
    .await;
    let k = app.state.rb.targets[0].clone();
    until(&mut app, &mut rx, "read-only and the cluster seen", |a| {
        matches!(a.state.driver, Driver::ReadOnly { .. })
            && a.state.cluster.deployment(&k.stable).is_some()
    })
    .await;
    // Every gate ticked, so only read-only mode stands in the way.
    common::tick_gates(&mut app, "canary-10");
    for c in ['a', 'R', 'p'] {
        key(&mut app, c);
        assert!(
            app.state
                .ui
                .flash
                .as_deref()
                .is_some_and(|f| f.contains("read-only") && f.contains("nothing was done")),
            "{c}: {:?}",
            app.state.ui.flash
        );
        key(&mut app, 'y');
    }
    settle(&mut app, &mut rx, Duration::from_secs(2)).await;
    let writes: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|(m, _)| m != "GET")
        .collect();
    assert!(writes.is_empty(), "the API saw writes: {writes:?}");
    assert!(
        sim.requests()
            .iter()
            .any(|(_, p)| p.contains("/deployments")),
        "the console did talk to the API (it watches)"
    );
    for t in tasks {
        t.abort();
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_outage_keeps_the_last_data_marked_stale_then_resumes() {
    let (sim, direct, dir) = sim().await;
    // The console reaches the API through a relay that the test can cut.
    let target = sim.kube_url.trim_start_matches("http://").parse().unwrap();
    let mut relay = common::Relay::start(target).await;
    let kc = dir.path().join("relayed.kubeconfig");
    let text = std::fs::read_to_string(dir.path().join("kubeconfig"))
        .unwrap()
        .replace(&sim.kube_url, &format!("http://127.0.0.1:{}", relay.port));
    std::fs::write(&kc, text).unwrap();
    let client = warroom::kube::connect(Some(&kc), None).await.unwrap();
    let (mut app, mut rx) = demo_app(dir.path(), "lin");
    let k = app.state.rb.targets[0].clone();
    let watch = warroom::kube::spawn_watch(
        client.clone(),
        &k.namespace,
        vec![k.stable.clone(), k.canary.clone()],
        Vec::new(),
        app.sender(),
    );
    until(&mut app, &mut rx, "the stable pods ready", |a| {
        a.state
            .cluster
            .deployment(&k.stable)
            .is_some_and(|d| d.ready == 10)
    })
    .await;
    relay.cut();
    until(&mut app, &mut rx, "the outage noticed", |a| {
        matches!(
            a.state.cluster.link,
            warroom::state::cluster::Link::Lost { .. }
        )
    })
    .await;
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 48)).unwrap();
    app.state.ui.dirty = true;
    app.draw(&mut term).unwrap();
    let screen = format!("{:?}", term.backend().buffer());
    assert!(screen.contains("DISCONNECTED since"), "{screen}");
    assert!(screen.contains("STALE, API lost since"), "{screen}");
    // the last data is still there, not blanked and not guessed
    assert!(
        screen.contains("10/10"),
        "replica counts still shown: {screen}"
    );
    assert!(
        app.state.comms.iter().any(|c| c
            .text
            .starts_with("Kubernetes API unreachable: cannot reach the API server")),
        "{}",
        common::log(&app)
    );

    // Meanwhile someone scales the canary (the API server is fine; only this console's
    // link is cut).
    kube::Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(direct.clone(), &k.namespace)
        .patch(
            &k.canary,
            &Default::default(),
            &kube::api::Patch::Merge(serde_json::json!({"spec": {"replicas": 2}})),
        )
        .await
        .unwrap();
    // The network comes back: the console says so only with the cluster as it is now,
    // never the old data marked live again.
    relay.restore().await;
    until(&mut app, &mut rx, "the API back", |a| {
        a.state.cluster.link == warroom::state::cluster::Link::Live
    })
    .await;
    assert_eq!(
        app.state.cluster.deployment(&k.canary).map(|d| d.desired),
        Some(2),
        "the first live picture after the outage is the cluster's now"
    );
    assert!(
        app.state
            .comms
            .iter()
            .any(|c| c.text.starts_with("Kubernetes API reachable again")),
        "{}",
        common::log(&app)
    );
    // and the watches resumed: a change made now shows up
    let deps: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(direct, &k.namespace);
    deps.patch(
        &k.canary,
        &Default::default(),
        &kube::api::Patch::Merge(serde_json::json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    until(
        &mut app,
        &mut rx,
        "the canary scaled, seen through the watch",
        |a| {
            a.state
                .cluster
                .deployment(&k.canary)
                .is_some_and(|d| d.desired == 1)
        },
    )
    .await;
    watch.abort();
    sim.shutdown().await;
}

/// The console reads only the release's pods and ReplicaSets: its watches ask the API for
/// the labels the release's Deployments select on, so a crowded namespace costs it
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_reads_only_the_releases_pods_and_replicasets() {
    let common::Rig {
        sim,
        mut app,
        mut rx,
        tasks,
        lease: _lease,
        ..
    } = common::rig(
        include_str!("../assets/scenarios/steady.yaml"),
        "demo.yaml",
        warroom::builtin::DEMO_RUNBOOK,
        true,
    )
    .await;
    until(&mut app, &mut rx, "the cluster seen", |a| {
        a.state.cluster.updated.is_some()
    })
    .await;
    let reads: Vec<String> = sim
        .requests()
        .into_iter()
        .filter(|(m, p)| m == "GET" && (p.contains("/pods") || p.contains("/replicasets")))
        .map(|(_, p)| p)
        .collect();
    assert!(!reads.is_empty());
    for p in &reads {
        assert!(
            p.contains("labelSelector=app%3Derp-backend")
                || p.contains("labelSelector=app=erp-backend"),
            "a read of every pod or ReplicaSet in the namespace: {p}"
        );
    }
    for t in tasks {
        t.abort();
    }
    sim.shutdown().await;
}

/// The API server comes back with a state of its own (restarted, restored): the console
/// shows that state, not the last one it saw before the outage, even though it resumes
/// its watches from a resourceVersion the new server has already gone past.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_api_server_comes_back_the_rollout_pane_shows_what_it_now_has() {
    let (sim, direct, dir) = sim().await;
    let mut relay =
        common::Relay::start(sim.kube_url.trim_start_matches("http://").parse().unwrap()).await;
    let kc = dir.path().join("relayed.kubeconfig");
    std::fs::write(
        &kc,
        std::fs::read_to_string(dir.path().join("kubeconfig"))
            .unwrap()
            .replace(&sim.kube_url, &format!("http://127.0.0.1:{}", relay.port)),
    )
    .unwrap();
    let client = warroom::kube::connect(Some(&kc), None).await.unwrap();
    let (mut app, mut rx) = demo_app(dir.path(), "lin");
    let k = app.state.rb.targets[0].clone();
    let _watch = warroom::kube::spawn_watch(
        client,
        &k.namespace,
        vec![k.stable.clone(), k.canary.clone()],
        Vec::new(),
        app.sender(),
    );
    until(&mut app, &mut rx, "the stable pods ready", |a| {
        a.state
            .cluster
            .deployment(&k.stable)
            .is_some_and(|d| d.ready == 10)
    })
    .await;
    // The canary scaled to 1 on the first server, and seen.
    let scale = |c: kube::Client, n: i32| {
        let deps: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
            kube::Api::namespaced(c, "erp-production");
        async move {
            deps.patch(
                "erp-backend-canary",
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(serde_json::json!({"spec": {"replicas": n}})),
            )
            .await
            .unwrap()
        }
    };
    let seen = scale(direct, 1).await;
    let old_rv: u64 = seen.metadata.resource_version.unwrap().parse().unwrap();
    until(&mut app, &mut rx, "the canary at 1", |a| {
        a.state
            .cluster
            .deployment(&k.canary)
            .is_some_and(|d| d.desired == 1)
    })
    .await;
    relay.cut();
    sim.shutdown().await;
    // A new server, its canary at 0, whose history has already gone past the old server's
    // versions by changes to objects the console does not watch.
    let scenario =
        warroom::runbook::parse_scenario(include_str!("../assets/scenarios/steady.yaml")).unwrap();
    let again = warroom::sim::start(scenario, 0, 0).await.unwrap();
    let kc2 = dir.path().join("again.kubeconfig");
    again.write_kubeconfig(&kc2).unwrap();
    let admin = warroom::kube::connect(Some(&kc2), None).await.unwrap();
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(admin);
    for n in 0.. {
        let ns = namespaces
            .patch(
                "default",
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(
                    serde_json::json!({"metadata": {"labels": {"n": n.to_string()}}}),
                ),
            )
            .await
            .unwrap();
        if ns
            .metadata
            .resource_version
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > old_rv
        {
            break;
        }
    }
    relay.target = again
        .kube_url
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    relay.restore().await;
    until(
        &mut app,
        &mut rx,
        "the canary at 0, as the new server has it",
        |a| {
            a.state
                .cluster
                .deployment(&k.canary)
                .is_some_and(|d| d.desired == 0)
        },
    )
    .await;
    again.shutdown().await;
}

/// A pod that cannot start says why, as the kubelet does: its waiting reason and message
/// reach the rollout pane's pod view from the watch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_that_cannot_pull_its_image_says_so_in_the_kubelets_words() {
    let (sim, client, _dir) = sim().await;
    let ns = "erp-production";
    let api: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(client.clone(), ns);
    let patch = serde_json::json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
        {"name": "erp-backend", "image": "registry.local/erp-backend:v9.9.9"}
    ]}}}});
    api.patch(
        "erp-backend-canary",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Strategic(&patch),
    )
    .await
    .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watch = warroom::kube::spawn_watch(
        client.clone(),
        ns,
        vec!["erp-backend".into(), "erp-backend-canary".into()],
        Vec::new(),
        tx,
    );
    let limit = tokio::time::Instant::now() + Duration::from_secs(90);
    let seen = loop {
        match tokio::time::timeout_at(limit, rx.recv()).await {
            Ok(Some(warroom::event::Event::Cluster(snap))) => {
                if let Some(p) = snap
                    .pods
                    .iter()
                    .find(|p| p.name.starts_with("erp-backend-canary-") && p.message.is_some())
                {
                    break p.clone();
                }
            }
            Ok(Some(_)) => {}
            other => panic!("no waiting pod seen: {other:?}"),
        }
    };
    assert!(
        seen.status == "ErrImagePull" || seen.status == "ImagePullBackOff",
        "{seen:?}"
    );
    let m = seen.message.unwrap();
    assert!(
        m.contains("registry.local/erp-backend:v9.9.9"),
        "the kubelet's words name the image: {m}"
    );
    // The kubelet's Event about it, as the pane reads the pods' Events.
    let (etx, mut erx) = tokio::sync::mpsc::unbounded_channel();
    let events = warroom::kube::spawn_pod_events(client.clone(), ns, etx);
    let failed = loop {
        match tokio::time::timeout_at(limit, erx.recv()).await {
            Ok(Some(warroom::event::Event::PodEvents(map))) => {
                if let Some(e) = map.get(&seen.name).filter(|e| e.kind == "Warning") {
                    break e.clone();
                }
            }
            Ok(Some(_)) => {}
            other => panic!("no Warning Event about {}: {other:?}", seen.name),
        }
    };
    assert_eq!(failed.reason, "Failed");
    assert_eq!(
        failed.message,
        "Failed to pull image \"registry.local/erp-backend:v9.9.9\": not found"
    );
    events.abort();
    watch.abort();
    sim.shutdown().await;
}

/// `o` on a pod selected in the rollout pane shows its last log lines, read from the
/// cluster; Esc closes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn o_shows_the_selected_pods_last_log_lines() {
    let (sim, client, dir) = sim().await;
    let (mut app, mut rx) = demo_app(dir.path(), "lin");
    app.set_kube(client.clone());
    let ns = app.state.rb.namespace().to_string();
    let (deployments, route) = warroom::canary::objects(&app.state.rb.targets);
    let watch = warroom::kube::spawn_watch(client.clone(), &ns, deployments, route, app.sender());
    until(
        &mut app,
        &mut rx,
        "the stable pods in the rollout pane",
        |a| a.state.cluster.snap.pods.len() == 10,
    )
    .await;
    // Not from another pane: it says where to pick a pod.
    key(&mut app, 'o');
    assert!(
        app.state
            .ui
            .flash
            .as_deref()
            .is_some_and(|f| f.starts_with("select a pod in the rollout pane first")),
        "{:?}",
        app.state.ui.flash
    );
    app.state.ui.focus = warroom::layout::Pane::Rollout;
    key(&mut app, 'j');
    key(&mut app, 'j');
    let pods = warroom::canary::pods_in_order(&app.state.rb.targets, &app.state.cluster);
    let third = pods[2].1.name.clone();
    key(&mut app, 'o');
    until(&mut app, &mut rx, "the log read", |a| {
        matches!(
            &a.state.ui.mode,
            warroom::state::Mode::PodLog { log: Some(_), .. }
        )
    })
    .await;
    let warroom::state::Mode::PodLog { pod, log } = &app.state.ui.mode else {
        unreachable!()
    };
    assert_eq!(pod, &third);
    let text = log.clone().unwrap().unwrap();
    assert!(text.lines().count() >= 2, "one line per line: {text}");
    assert!(!text.contains('\u{fffd}'), "{text}");
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.contains(&format!("starting (pod {third})")))
            || text.contains(" /api/orders "),
        "{text}"
    );
    let screen = common::screen(&app);
    assert!(screen.contains(&format!("Log of {third}")), "{screen}");
    app.handle(warroom::event::Event::Key(
        ratatui::crossterm::event::KeyEvent::from(ratatui::crossterm::event::KeyCode::Esc),
    ));
    assert_eq!(app.state.ui.mode, warroom::state::Mode::Normal);
    watch.abort();
    sim.shutdown().await;
}
