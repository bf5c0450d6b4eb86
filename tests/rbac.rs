//! Least privilege: the Role in assets/rbac.yaml is exactly what the console needs. The
//! simulator enforces it as the real authorizer does; every request the console makes
//! (watches, the Lease, every action, its Events) must be allowed, and a request outside
//! it is refused with 403 and shown in plain words.

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use tokio::sync::mpsc;
use warroom::cluster::RouteKind;
use warroom::effect::{Audit, KubeOp};
use warroom::event::Event;
use warroom::kube::lease::Marked;
use warroom::runbook::Lang;
use warroom::runbook::scenario::parse_role_rules;
use warroom::sim::{Options, SimHandle};

const STABLE: &str = "erp-backend";
const CANARY: &str = "erp-backend-canary";

fn role() -> Vec<k8s_openapi::api::rbac::v1::PolicyRule> {
    parse_role_rules(&std::fs::read_to_string("assets/rbac.yaml").unwrap()).unwrap()
}

/// The ClusterRole's rules (the nodes a capacity check reads).
fn cluster_role() -> Vec<k8s_openapi::api::rbac::v1::PolicyRule> {
    warroom::runbook::scenario::parse_cluster_role_rules(
        &std::fs::read_to_string("assets/rbac.yaml").unwrap(),
    )
    .unwrap()
    .expect("assets/rbac.yaml has a ClusterRole")
}

/// The Role without its rule for `resource`.
fn role_without(resource: &str) -> Vec<k8s_openapi::api::rbac::v1::PolicyRule> {
    role()
        .into_iter()
        .filter(|r| {
            !r.resources
                .as_ref()
                .is_some_and(|x| x.iter().any(|x| x == resource))
        })
        .collect()
}

async fn enforced(scenario: &str, dir: &Path) -> (SimHandle, kube::Client, String) {
    enforced_with(scenario, role(), dir).await
}

/// A simulated cluster that enforces `rules` as the console's Role.
async fn enforced_with(
    scenario: &str,
    rules: Vec<k8s_openapi::api::rbac::v1::PolicyRule>,
    dir: &Path,
) -> (SimHandle, kube::Client, String) {
    warroom::install_crypto();
    let sc = warroom::runbook::parse_scenario(scenario).unwrap();
    let ns = sc.namespace.clone();
    let sim = warroom::sim::start_with(
        sc,
        Options {
            rbac: Some(rules),
            cluster_rbac: Some(cluster_role()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let kc = dir.join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let client = warroom::kube::connect(Some(&kc), None).await.unwrap();
    (sim, client, ns)
}

/// Run an action as the console does, under its mark: the change, then its Events.
async fn act(client: &kube::Client, ns: &str, fence: &str, op: KubeOp) -> String {
    let r = warroom::kube::run(client, ns, &op, (fence, Lang::En)).await;
    let audit = Audit {
        reason: "WarroomTest".into(),
        message: "lin: test".into(),
    };
    warroom::kube::record_events(client, ns, &op, &audit, "lin@test (pid 1)", &r).await;
    r.unwrap_or_else(|e| panic!("{op:?} failed: {e}"))
}

async fn wait_ready(sim: &SimHandle, name: &str, n: i64) {
    for _ in 0..600 {
        let d = sim.deployment(name).unwrap();
        if d["status"]["readyReplicas"].as_i64().unwrap_or(0) == n
            && d["status"]["updatedReplicas"].as_i64().unwrap_or(0) == n
            && d["status"]["replicas"].as_i64().unwrap_or(0) == n
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} never had {n} ready replicas");
}

/// (verb, resource) of every resource request the simulator saw, as RBAC names them.
fn used(sim: &SimHandle) -> std::collections::BTreeSet<(String, String)> {
    sim.decisions()
        .into_iter()
        .filter_map(|(m, p, _)| {
            let (path, query) = p.split_once('?').unwrap_or((&p, ""));
            let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
            // /api/v1/namespaces/NS/RES[/NAME] or /apis/G/V/namespaces/NS/RES[/NAME]; at
            // the cluster scope /api/v1/RES[/NAME].
            let i = match segs.iter().position(|s| *s == "namespaces") {
                Some(i) => i,
                None if segs.len() >= 3 && segs[0] == "api" => 0,
                None => return None,
            };
            // A subresource is named with its resource: pods/log.
            let res = match segs.get(i + 4) {
                Some(sub) => format!("{}/{sub}", segs.get(i + 2)?),
                None => segs.get(i + 2)?.to_string(),
            };
            let named = segs.len() > i + 3;
            let verb = match (m.as_str(), named) {
                ("GET", true) => "get",
                ("GET", false) if query.contains("watch=true") || query.contains("watch=1") => {
                    "watch"
                }
                ("GET", false) => "list",
                ("POST", _) => "create",
                ("PUT", _) => "update",
                ("PATCH", _) => "patch",
                ("DELETE", _) => "delete",
                _ => return None,
            };
            Some((verb.to_string(), res))
        })
        .collect()
}

/// (verb, resource) pairs the Role and the ClusterRole grant.
fn granted() -> std::collections::BTreeSet<(String, String)> {
    let mut out = std::collections::BTreeSet::new();
    for r in role().into_iter().chain(cluster_role()) {
        for res in r.resources.unwrap_or_default() {
            for v in &r.verbs {
                out.insert((v.clone(), res.clone()));
            }
        }
    }
    out
}

fn denied(sim: &SimHandle) -> Vec<(String, String)> {
    sim.decisions()
        .into_iter()
        .filter(|(_, _, ok)| !ok)
        .map(|(m, p, _)| (m, p))
        .collect()
}

/// Watches, Lease, and every replica-ratio action, under the Role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_of_the_replica_ratio_console_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, client, ns) =
        enforced(include_str!("../assets/scenarios/steady.yaml"), dir.path()).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let watch = warroom::kube::spawn_watch(
        client.clone(),
        &ns,
        vec![STABLE.into(), CANARY.into()],
        Vec::new(),
        tx.clone(),
    );
    let lease = warroom::kube::lease::spawn(
        client.clone(),
        &ns,
        "warroom-erp-v1.0.0",
        "lin@test (pid 1)".into(),
        false,
        Marked {
            deployments: vec![STABLE.into(), CANARY.into()],
            routes: Vec::new(),
        },
        warroom::runbook::Lang::En,
        tx.clone(),
    );
    let mut driving = None;
    let mut snapshot = false;
    while !(driving.is_some() && snapshot) {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(Event::Lease(warroom::state::Driver::Driving { fence, .. }))) => {
                driving = Some(fence)
            }
            Ok(Some(Event::Cluster(_))) => snapshot = true,
            Ok(Some(Event::ClusterLost { error, .. })) => panic!("the watch failed: {error}"),
            // Each renewal says how long the Lease is surely ours.
            Ok(Some(Event::LeaseHeld { .. })) => {}
            Ok(Some(other)) => panic!("unexpected: {other:?}"),
            _ => panic!(
                "no Lease or snapshot within 30s; denied: {:?}",
                denied(&sim)
            ),
        }
    }
    let fence = driving.unwrap();

    act(
        &client,
        &ns,
        &fence,
        KubeOp::Scale {
            targets: vec![(CANARY.into(), 1), (STABLE.into(), 9)],
        },
    )
    .await;
    for paused in [true, false] {
        act(
            &client,
            &ns,
            &fence,
            KubeOp::Pause {
                deployments: vec![STABLE.into(), CANARY.into()],
                paused,
            },
        )
        .await;
    }
    wait_ready(&sim, CANARY, 1).await;
    act(
        &client,
        &ns,
        &fence,
        KubeOp::Promote {
            stable: STABLE.into(),
            canary: CANARY.into(),
            replicas: 10,
            cause: "lin: advance to full (100%)".into(),
        },
    )
    .await;
    wait_ready(&sim, STABLE, 10).await;
    let said = act(
        &client,
        &ns,
        &fence,
        KubeOp::Undo {
            deployment: STABLE.into(),
        },
    )
    .await;
    assert!(said.contains("rolled back to revision 1"), "{said}");
    // The pods' Events, as the rollout pane reads them.
    let (etx, mut erx) = mpsc::unbounded_channel();
    let events = warroom::kube::spawn_pod_events(client.clone(), &ns, etx);
    let _ = tokio::time::timeout(Duration::from_secs(5), erx.recv()).await;
    events.abort();
    // A pod's last log lines (`o` in the rollout pane).
    let pod = sim.pods()[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let log = warroom::kube::pod_log(&client, &ns, &pod, 5).await;
    assert!(log.is_ok(), "{log:?}; denied: {:?}", denied(&sim));
    // The verifications' one-off reads: a named Secret by its metadata, the nodes.
    let probes = warroom::probe::Probes {
        kube: Some(client.clone()),
        namespace: ns.clone(),
        ..Default::default()
    };
    use warroom::runbook::verify::{Exists, KubeCheck, Nodes, ObjectKind};
    for (check, want) in [
        (
            KubeCheck::Exists(Exists {
                kind: ObjectKind::Secret,
                name: "erp-backend-tls".into(),
            }),
            "Secret erp-production/erp-backend-tls exists",
        ),
        (
            KubeCheck::Nodes(Nodes {
                cpu: Some(8.0),
                memory: None,
            }),
            "3 Ready nodes of 3",
        ),
    ] {
        let o = probes
            .run(&warroom::runbook::Verify {
                kube: Some(check),
                ..Default::default()
            })
            .await;
        assert_eq!(o.verdict, warroom::journal::Verdict::Pass, "{o:?}");
        assert!(o.evidence.contains(want), "{o:?}");
    }
    // The journal's mirror: the driver writes it (the whole journal, then each record),
    // a console on another host reads it.
    let (ptx, prx) = mpsc::unbounded_channel();
    let writer = warroom::kube::mirror::spawn_writer(
        client.clone(),
        &ns,
        "warroom-erp-v1.0.0",
        prx,
        tx.clone(),
    );
    let at = chrono::Utc::now();
    let record = |seq: u64| warroom::journal::Record {
        seq,
        at,
        who: "lin".into(),
        entry: warroom::journal::Entry::Note {
            text: format!("note {seq}"),
        },
    };
    ptx.send(warroom::kube::mirror::Publish::All {
        records: vec![record(1)],
        fence: fence.clone(),
    })
    .unwrap();
    let (ftx, mut frx) = mpsc::unbounded_channel();
    let reader =
        warroom::kube::mirror::spawn_reader(client.clone(), &ns, "warroom-erp-v1.0.0", ftx);
    let mut seen = Vec::new();
    for n in [1, 2] {
        if n == 2 {
            ptx.send(warroom::kube::mirror::Publish::One {
                record: record(2),
                fence: fence.clone(),
            })
            .unwrap();
        }
        while seen.len() < n {
            match tokio::time::timeout(Duration::from_secs(30), frx.recv()).await {
                Ok(Some(Event::Follow(warroom::event::Followed::More(rs)))) => seen.extend(rs),
                Ok(Some(Event::Follow(warroom::event::Followed::Reset(rs)))) => seen = rs,
                other => panic!(
                    "the mirror was not read back: {other:?}; denied: {:?}",
                    denied(&sim)
                ),
            }
        }
    }
    assert_eq!(seen, vec![record(1), record(2)]);
    writer.abort();
    reader.abort();
    lease.release(Duration::from_secs(5)).await;
    watch.abort();

    assert_eq!(
        denied(&sim),
        vec![],
        "requests refused under assets/rbac.yaml"
    );
    // Exactly what the console uses: every grant but the routes' is exercised here.
    let unused: Vec<_> = granted()
        .into_iter()
        .filter(|(_, r)| r != "httproutes" && r != "virtualservices")
        .filter(|g| !used(&sim).contains(g))
        .collect();
    assert_eq!(
        unused,
        vec![],
        "the Role grants what the console never uses"
    );
    let verbs: Vec<String> = sim
        .decisions()
        .iter()
        .map(|(m, p, _)| format!("{m} {}", p.split('?').next().unwrap()))
        .collect();
    // The Role is used, not merely permissive: each kind of write happened.
    for expected in [
        format!("PATCH /apis/apps/v1/namespaces/{ns}/deployments/{STABLE}"),
        format!("POST /api/v1/namespaces/{ns}/events"),
        format!("POST /apis/coordination.k8s.io/v1/namespaces/{ns}/leases"),
        format!("PUT /apis/coordination.k8s.io/v1/namespaces/{ns}/leases/warroom-erp-v1.0.0"),
    ] {
        assert!(
            verbs.contains(&expected),
            "{expected} not seen in {verbs:#?}"
        );
    }

    // Outside the Role: refused with 403, and the console says so in plain words.
    let secrets: kube::Api<Secret> = kube::Api::namespaced(client.clone(), &ns);
    let err = secrets.list(&Default::default()).await.unwrap_err();
    let text = warroom::kube::plain_error(&err);
    assert!(text.starts_with("forbidden (403)"), "{text}");
    assert!(
        text.contains("User \"warroom\" cannot list resource \"secrets\""),
        "{text}"
    );
    assert_eq!(denied(&sim).len(), 1);
    sim.shutdown().await;
}

/// The Gateway API strategy's requests: the route's watch and its weights.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_of_the_gateway_console_is_allowed() {
    every_route_request_is_allowed(
        include_str!("../assets/scenarios/gateway.yaml"),
        RouteKind::HttpRoute,
        "httproutes",
        SimHandle::httproute,
        "/spec/rules/0/backendRefs",
    )
    .await;
}

/// The Istio strategy's requests: the VirtualService's watch and its weights.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_of_the_istio_console_is_allowed() {
    every_route_request_is_allowed(
        include_str!("../assets/scenarios/istio.yaml"),
        RouteKind::VirtualService,
        "virtualservices",
        SimHandle::virtualservice,
        "/spec/http/0/route",
    )
    .await;
}

/// A console that splits traffic by a route of `kind`: the Lease marks the route, the
/// watch reads its weights, an advance sets them and records an Event on it, all under
/// assets/rbac.yaml, and the route's rule grants nothing it does not use.
async fn every_route_request_is_allowed(
    scenario: &str,
    kind: RouteKind,
    plural: &str,
    stored: fn(&SimHandle, &str) -> Option<serde_json::Value>,
    backends: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    let (sim, client, ns) = enforced(scenario, dir.path()).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let watch = warroom::kube::spawn_watch(
        client.clone(),
        &ns,
        vec![STABLE.into(), CANARY.into()],
        vec![(kind, STABLE.into())],
        tx,
    );
    let (ltx, mut lrx) = mpsc::unbounded_channel();
    let lease = warroom::kube::lease::spawn(
        client.clone(),
        &ns,
        "warroom-erp-v1.0.0",
        "lin@test (pid 1)".into(),
        false,
        Marked {
            deployments: vec![STABLE.into(), CANARY.into()],
            routes: vec![(kind, STABLE.into())],
        },
        warroom::runbook::Lang::En,
        ltx,
    );
    let fence = loop {
        match tokio::time::timeout(Duration::from_secs(30), lrx.recv()).await {
            Ok(Some(Event::Lease(warroom::state::Driver::Driving { fence, .. }))) => break fence,
            Ok(Some(Event::LeaseHeld { .. } | Event::Lease(_))) => {}
            other => panic!("no Lease: {other:?}; denied: {:?}", denied(&sim)),
        }
    };
    // The route carries the driver's mark too: its weights are written under it.
    assert_eq!(
        stored(&sim, STABLE).unwrap()["metadata"]["labels"]["warroom.io/driver"],
        fence.as_str()
    );
    let snap = loop {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(Event::Cluster(s))) if !s.routes.is_empty() => break s,
            Ok(Some(Event::ClusterLost { error, .. })) => panic!("the watch failed: {error}"),
            Ok(Some(_)) => {}
            _ => panic!("no snapshot; denied: {:?}", denied(&sim)),
        }
    };
    let name = kind.kind();
    assert_eq!(
        snap.routes[0].describe(),
        format!("{name} erp-backend weights erp-backend=100, erp-backend-canary=0")
    );
    let said = act(
        &client,
        &ns,
        &fence,
        KubeOp::Weights {
            kind,
            route: STABLE.into(),
            weights: vec![(STABLE.into(), 90), (CANARY.into(), 10)],
            canary: CANARY.into(),
            canary_replicas: Some(3),
            deployments: vec![CANARY.into(), STABLE.into()],
        },
    )
    .await;
    assert_eq!(
        said,
        format!(
            "erp-backend-canary scaled to 3; now {name} erp-backend weights erp-backend=90, erp-backend-canary=10"
        )
    );
    let route = stored(&sim, STABLE).unwrap();
    let weights: Vec<i64> = route
        .pointer(backends)
        .and_then(|b| b.as_array())
        .unwrap()
        .iter()
        .map(|b| b["weight"].as_i64().unwrap())
        .collect();
    assert_eq!(weights, [90, 10]);
    assert_eq!(sim.deployment(CANARY).unwrap()["spec"]["replicas"], 3);
    // The Event goes on the route that changed, too.
    let on_route: Vec<_> = sim
        .events()
        .into_iter()
        .filter(|e| e["involvedObject"]["kind"] == name)
        .collect();
    assert_eq!(
        on_route.len(),
        1,
        "{:#?}",
        sim.events()
            .iter()
            .map(|e| (e["involvedObject"]["kind"].clone(), e["reason"].clone()))
            .collect::<Vec<_>>()
    );
    assert_eq!(on_route[0]["involvedObject"]["name"], STABLE);
    assert_eq!(on_route[0]["reason"], "WarroomTest");
    lease.release(Duration::from_secs(5)).await;
    watch.abort();
    assert_eq!(
        denied(&sim),
        vec![],
        "requests refused under assets/rbac.yaml"
    );
    let unused: Vec<_> = granted()
        .into_iter()
        .filter(|(_, r)| r == plural)
        .filter(|g| !used(&sim).contains(g))
        .collect();
    assert_eq!(
        unused,
        vec![],
        "the route's rule grants what the console never uses"
    );
    sim.shutdown().await;
}

/// A console whose Role lacks a verb: the action fails with 403 in plain words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_verb_is_a_plain_403() {
    let dir = tempfile::tempdir().unwrap();
    let mut rules = role();
    for r in &mut rules {
        if let Some(v) = r.verbs.iter().position(|v| v == "patch")
            && r.resources
                .as_ref()
                .is_some_and(|x| x.iter().any(|x| x == "deployments"))
        {
            r.verbs.remove(v);
        }
    }
    let (sim, client, ns) = enforced_with(
        include_str!("../assets/scenarios/steady.yaml"),
        rules,
        dir.path(),
    )
    .await;
    let err = warroom::kube::run(
        &client,
        &ns,
        &KubeOp::Scale {
            targets: vec![(CANARY.into(), 1)],
        },
        ("1-0000abcd", Lang::En),
    )
    .await
    .unwrap_err();
    assert!(
        err.starts_with("scale erp-backend-canary to 1: forbidden (403): this user may not do that; check the Role bound to it (see assets/rbac.yaml)"),
        "{err}"
    );
    assert!(
        err.contains("cannot patch resource \"deployments\" in API group \"apps\""),
        "{err}"
    );
    assert_eq!(sim.deployment(CANARY).unwrap()["spec"]["replicas"], 0);
    // A console started under this Role learns it at once: it cannot mark the release's
    // Deployments as driven by it, so it hands the Lease back and watches read-only.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _lease = warroom::kube::lease::spawn(
        client.clone(),
        &ns,
        "warroom-erp",
        "lin@test (pid 1)".into(),
        false,
        Marked {
            deployments: vec![STABLE.into(), CANARY.into()],
            routes: Vec::new(),
        },
        warroom::runbook::Lang::En,
        tx,
    );
    let why = loop {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(Event::Lease(warroom::state::Driver::ReadOnly { why, .. }))) => break why,
            Ok(Some(Event::Lease(warroom::state::Driver::Driving { .. }))) => {
                panic!("drove without being able to mark its Deployments")
            }
            Ok(Some(_)) => {}
            other => panic!("no answer about the Lease: {other:?}"),
        }
    };
    assert!(
        why.starts_with(
            "cannot mark the release's Deployments as driven by this console: forbidden (403)"
        ),
        "{why}"
    );
    assert!(why.contains("needs patch on deployments"), "{why}");
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(client, &ns);
    let held = leases.get("warroom-erp").await.unwrap().spec.unwrap();
    assert_eq!(held.holder_identity, None, "the Lease was handed back");
    sim.shutdown().await;
}

/// A Role without the Lease: the console cannot make sure it is the only driver, so it
/// watches read-only and says why, rather than waiting forever or acting unguarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_lease_verbs_the_console_is_read_only_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let rules = role_without("leases");
    let (sim, client, ns) = enforced_with(
        include_str!("../assets/scenarios/steady.yaml"),
        rules,
        dir.path(),
    )
    .await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _lease = warroom::kube::lease::spawn(
        client,
        &ns,
        "warroom-erp",
        "lin@test (pid 1)".into(),
        false,
        Marked::default(),
        warroom::runbook::Lang::En,
        tx,
    );
    let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an answer about the Lease")
        .unwrap();
    let Event::Lease(warroom::state::Driver::ReadOnly { why, holder }) = ev else {
        panic!("{ev:?}")
    };
    assert_eq!(holder, None);
    assert!(
        why.starts_with(&format!(
            "cannot claim the release's Lease {ns}/warroom-erp: forbidden (403)"
        )),
        "{why}"
    );
    assert!(why.contains("get, create and update on leases"), "{why}");
    sim.shutdown().await;
}

/// A Role without the mirror's verbs: the console drives, and says in the log that
/// consoles on other hosts cannot see its decisions, rather than leaving them in the dark
/// silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_configmap_verbs_the_driver_says_other_hosts_cannot_follow() {
    let dir = tempfile::tempdir().unwrap();
    let rules = role_without("configmaps");
    let (sim, client, ns) = enforced_with(
        include_str!("../assets/scenarios/steady.yaml"),
        rules,
        dir.path(),
    )
    .await;
    let (ptx, prx) = mpsc::unbounded_channel();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _writer = warroom::kube::mirror::spawn_writer(client, &ns, "warroom-erp", prx, tx);
    ptx.send(warroom::kube::mirror::Publish::All {
        records: vec![warroom::journal::Record {
            seq: 1,
            at: chrono::Utc::now(),
            who: "lin".into(),
            entry: warroom::journal::Entry::Note { text: "n".into() },
        }],
        fence: "1-00000001".into(),
    })
    .unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("the mirror's trouble is said")
        .unwrap();
    let Event::Mirror(Err(why)) = ev else {
        panic!("{ev:?}")
    };
    assert!(why.contains("forbidden (403)"), "{why}");
    // And the console turns it into words for the room.
    let rb =
        warroom::runbook::parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK)
            .unwrap();
    let mut s = warroom::state::State::new(std::sync::Arc::new(rb), "lin", chrono::Utc::now());
    warroom::update::update(&mut s, Event::Mirror(Err(why)));
    let said = &s.comms.last().unwrap().text;
    assert!(
        said.starts_with("the journal cannot be mirrored into the cluster (")
            && said.contains("consoles on other hosts do not see this release's decisions"),
        "{said}"
    );
    sim.shutdown().await;
}

/// Without the ClusterRole (a Role cannot grant nodes), the capacity check cannot be
/// made: unknown, saying why, never a pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_cluster_role_the_capacity_check_is_unknown_and_says_why() {
    warroom::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let sc =
        warroom::runbook::parse_scenario(include_str!("../assets/scenarios/steady.yaml")).unwrap();
    let sim = warroom::sim::start_with(
        sc,
        Options {
            rbac: Some(role()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let client = warroom::kube::connect(Some(&kc), None).await.unwrap();
    let probes = warroom::probe::Probes {
        kube: Some(client),
        namespace: "erp-production".into(),
        ..Default::default()
    };
    let o = probes
        .run(&warroom::runbook::Verify {
            kube: Some(warroom::runbook::verify::KubeCheck::Nodes(
                warroom::runbook::verify::Nodes {
                    cpu: Some(8.0),
                    memory: None,
                },
            )),
            ..Default::default()
        })
        .await;
    assert_eq!(o.verdict, warroom::journal::Verdict::Unknown, "{o:?}");
    assert!(
        o.evidence
            .starts_with("cannot list the nodes: forbidden (403)"),
        "{o:?}"
    );
    assert!(
        o.evidence
            .contains("cannot list resource \"nodes\" in API group \"\" at the cluster scope"),
        "{o:?}"
    );
    sim.shutdown().await;
}

/// A release of three services under the same Role: one watch reads every target's
/// Deployments, ReplicaSets and pods (by `app in (…)`, nothing else in the namespace),
/// the Lease marks all six Deployments, and a stage's one action moves all three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_of_a_console_of_three_services_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, client, ns) = enforced(warroom::builtin::RELEASE_SCENARIO, dir.path()).await;
    let rb = warroom::runbook::parse_runbook(
        Path::new("demo-release.yaml"),
        warroom::builtin::DEMO_RELEASE_RUNBOOK,
    )
    .unwrap();
    let (deployments, routes) = warroom::canary::objects(&rb.targets);
    assert_eq!(deployments.len(), 6);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let watch = warroom::kube::spawn_watch(client.clone(), &ns, deployments, routes, tx.clone());
    let lease = warroom::kube::lease::spawn(
        client.clone(),
        &ns,
        "warroom-erp-release-v1.0.0",
        "lin@test (pid 1)".into(),
        false,
        Marked::of(&rb.targets),
        warroom::runbook::Lang::En,
        tx,
    );
    let mut fence = None;
    let mut snap = None;
    while fence.is_none() || snap.is_none() {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(Event::Lease(warroom::state::Driver::Driving { fence: f, .. }))) => {
                fence = Some(f)
            }
            Ok(Some(Event::Cluster(s))) if s.deployments.len() == 6 => snap = Some(s),
            Ok(Some(Event::ClusterLost { error, .. })) => panic!("the watch failed: {error}"),
            Ok(Some(_)) => {}
            _ => panic!("no Lease or snapshot; denied: {:?}", denied(&sim)),
        }
    }
    let (fence, snap) = (fence.unwrap(), snap.unwrap());
    // Every pod of the three apps, and nothing else.
    assert_eq!(snap.pods.len(), 10 + 6 + 4);
    for name in ["erp-backend", "erp-frontend-canary", "erp-worker"] {
        assert_eq!(
            sim.deployment(name).unwrap()["metadata"]["labels"]["warroom.io/driver"],
            fence.as_str(),
            "{name} carries the driver's mark"
        );
    }
    let cluster = warroom::cluster::Cluster {
        snap,
        ..Default::default()
    };
    let step = warroom::canary::stage_all(
        &rb.targets,
        (&[], &[]),
        &cluster,
        10,
        "lin: advance",
        warroom::runbook::Lang::En,
    );
    let said = act(&client, &ns, &fence, step.op).await;
    assert_eq!(
        said,
        "erp-backend-canary scaled to 1, erp-backend scaled to 9; erp-frontend-canary scaled to 1, erp-frontend scaled to 5; erp-worker-canary scaled to 1, erp-worker scaled to 3"
    );
    assert_eq!(
        sim.deployment("erp-worker-canary").unwrap()["spec"]["replicas"],
        1
    );
    lease.release(Duration::from_secs(5)).await;
    watch.abort();
    assert_eq!(
        denied(&sim),
        vec![],
        "requests refused under assets/rbac.yaml"
    );
    sim.shutdown().await;
}
