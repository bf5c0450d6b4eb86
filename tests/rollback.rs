//! The console's rollback is kubectl's: after full promotion, the console's undo on one
//! simulated cluster and the real `kubectl rollout undo` on another, from the same
//! starting state, leave the same Deployment and the same revisions. On the way, the
//! console's rollout verdict is compared with `kubectl rollout status` word for word.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use serde_json::Value;
use warroom::effect::KubeOp;
use warroom::event::Event;
use warroom::runbook::Lang;
use warroom::sim::SimHandle;
use warroom::state::cluster::{RolloutStatus, rollout_status};

/// The mark of the console that drives both clusters here.
const FENCE: &str = "1-0000abcd";
const STABLE: &str = "erp-backend";
const CANARY: &str = "erp-backend-canary";

fn kubectl() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("kubectl"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        eprintln!("skipped: kubectl is not installed, so there is nothing to compare with");
    }
    found
}

struct Cluster {
    sim: SimHandle,
    client: kube::Client,
    kubeconfig: PathBuf,
    cache: tempfile::TempDir,
    ns: String,
}

async fn cluster(dir: &Path, name: &str) -> Cluster {
    let scenario =
        warroom::runbook::parse_scenario(include_str!("../assets/scenarios/steady.yaml")).unwrap();
    let ns = scenario.namespace.clone();
    let sim = warroom::sim::start(scenario, 0, 0).await.unwrap();
    let kubeconfig = dir.join(format!("{name}.kubeconfig"));
    sim.write_kubeconfig(&kubeconfig).unwrap();
    let client = warroom::kube::connect(Some(&kubeconfig), None)
        .await
        .unwrap();
    Cluster {
        sim,
        client,
        kubeconfig,
        cache: tempfile::tempdir().unwrap(),
        ns,
    }
}

impl Cluster {
    fn kubectl(&self, kubectl: &Path, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.cache.path())
            .arg("-n")
            .arg(&self.ns)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn deployment(&self) -> Value {
        self.sim.deployment(STABLE).unwrap()
    }

    /// The console's verdict and kubectl's, on the same resourceVersion of the Deployment.
    fn verdicts(&self, kubectl: &Path) -> (String, String) {
        loop {
            let before = self.deployment();
            let (code, out, err) = self.kubectl(
                kubectl,
                &[
                    "rollout",
                    "status",
                    "--watch=false",
                    &format!("deployment/{STABLE}"),
                ],
            );
            let after = self.deployment();
            if before["metadata"]["resourceVersion"] != after["metadata"]["resourceVersion"] {
                continue; // it moved while kubectl looked: ask again
            }
            let d: Deployment = serde_json::from_value(before).unwrap();
            let ours = kubectl_words(&rollout_status(&warroom::kube::deploy_view(&d)), STABLE);
            let theirs = if code == 0 {
                out.trim().to_string()
            } else {
                err.trim().to_string()
            };
            return (ours, theirs);
        }
    }

    /// Wait for the rollout to complete, comparing verdicts at every step on the way.
    async fn settle(&self, kubectl: &Path) {
        let limit = tokio::time::Instant::now() + Duration::from_secs(90);
        let mut seen = Vec::new();
        loop {
            let (ours, theirs) = self.verdicts(kubectl);
            assert_eq!(ours, theirs, "the console and kubectl disagree");
            if !seen.contains(&ours) {
                seen.push(ours.clone());
            }
            if ours.ends_with("successfully rolled out") {
                break;
            }
            assert!(
                tokio::time::Instant::now() < limit,
                "no completion; verdicts on the way: {seen:#?}"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Mark the release's Deployments as a driving console does when it takes the Lease.
    async fn mark(&self) {
        let marked = warroom::kube::lease::Marked {
            deployments: vec![STABLE.into(), CANARY.into()],
            routes: Vec::new(),
        };
        warroom::kube::lease::mark(&self.client, &self.ns, &marked, FENCE)
            .await
            .unwrap();
    }

    /// Revision number → (image, change-cause) of each ReplicaSet the Deployment owns.
    fn revisions(&self) -> Vec<(String, String, String)> {
        let mut r: Vec<_> = self
            .sim
            .replicasets()
            .into_iter()
            .filter(|rs| {
                rs["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{STABLE}-"))
            })
            .filter(|rs| !rs["metadata"]["name"].as_str().unwrap().starts_with(CANARY))
            .map(|rs| {
                let a = &rs["metadata"]["annotations"];
                (
                    a["deployment.kubernetes.io/revision"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    rs["spec"]["template"]["spec"]["containers"][0]["image"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    a["kubernetes.io/change-cause"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                )
            })
            .collect();
        r.sort();
        r
    }
}

/// Undo with the console on `a` and with `kubectl rollout undo` on `b`, and wait for both
/// rollouts to finish; what the console said it did.
async fn undo_both(a: &Cluster, b: &Cluster, kubectl: &Path) -> String {
    let said = warroom::kube::run(
        &a.client,
        &a.ns,
        &KubeOp::Undo {
            deployment: STABLE.into(),
        },
        (FENCE, Lang::En),
    )
    .await
    .unwrap();
    let (code, out, err) = b.kubectl(
        kubectl,
        &["rollout", "undo", &format!("deployment/{STABLE}")],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("deployment.apps/{STABLE} rolled back"));
    a.settle(kubectl).await;
    b.settle(kubectl).await;
    said
}

/// What `kubectl rollout status --watch=false` prints for a verdict.
fn kubectl_words(s: &RolloutStatus, name: &str) -> String {
    match s {
        RolloutStatus::Complete => format!("deployment \"{name}\" successfully rolled out"),
        RolloutStatus::Failed(why) => format!("error: {why}"),
        RolloutStatus::Waiting(why) if why.starts_with("waiting for deployment spec update") => {
            "Waiting for deployment spec update to be observed...".into()
        }
        RolloutStatus::Waiting(why) => {
            format!("Waiting for deployment \"{name}\" rollout to finish: {why}...")
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_undo_equals_kubectl_rollout_undo() {
    let Some(kubectl) = kubectl() else { return };
    warroom::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let a = cluster(dir.path(), "console").await;
    let b = cluster(dir.path(), "kubectl").await;

    // The same start on both: the 100% stage, done by the console, to completion.
    for c in [&a, &b] {
        c.settle(&kubectl).await;
        c.mark().await;
        let done = warroom::kube::run(
            &c.client,
            &c.ns,
            &KubeOp::Promote {
                stable: STABLE.into(),
                canary: CANARY.into(),
                replicas: 10,
                cause: "lin: advance to full (100%)".into(),
            },
            (FENCE, Lang::En),
        )
        .await
        .unwrap();
        assert!(done.contains("v1.0.0"), "{done}");
        c.settle(&kubectl).await;
    }
    assert_eq!(a.revisions(), b.revisions());
    assert_eq!(a.revisions().len(), 2, "{:?}", a.revisions());

    // Roll back: the console on one, kubectl on the other.
    let said = undo_both(&a, &b, &kubectl).await;
    assert!(said.contains("rolled back to revision 1"), "{said}");

    let (da, db) = (a.deployment(), b.deployment());
    assert_eq!(da["spec"]["template"], db["spec"]["template"]);
    assert_eq!(da["metadata"]["annotations"], db["metadata"]["annotations"]);
    assert_eq!(
        da["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
    assert!(
        da["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap()
            .ends_with(":v0.9.3")
    );
    assert_eq!(da["spec"]["replicas"], db["spec"]["replicas"]);
    // The same revisions, as rollout history lists them: 1 became 3.
    assert_eq!(a.revisions(), b.revisions());
    let (_, ha, _) = a.kubectl(
        &kubectl,
        &["rollout", "history", &format!("deployment/{STABLE}")],
    );
    let (_, hb, _) = b.kubectl(
        &kubectl,
        &["rollout", "history", &format!("deployment/{STABLE}")],
    );
    assert_eq!(ha, hb);
    assert!(ha.contains("lin: advance to full (100%)"), "{ha}");

    // Undo again on both: back to the new version, still the same.
    let said = undo_both(&a, &b, &kubectl).await;
    assert!(said.contains("rolled back to revision 2"), "{said}");
    let (da, db) = (a.deployment(), b.deployment());
    assert_eq!(da["spec"]["template"], db["spec"]["template"]);
    assert_eq!(da["metadata"]["annotations"], db["metadata"]["annotations"]);
    assert_eq!(a.revisions(), b.revisions());

    a.sim.shutdown().await;
    b.sim.shutdown().await;
}

mod common;

/// `kubectl describe` and `kubectl rollout history` tell the same story as the comms log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_describe_and_history_tell_the_story_of_the_comms_log() {
    let Some(kubectl) = kubectl() else { return };
    warroom::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let c = cluster(dir.path(), "story").await;
    let (mut app, mut rx) = common::demo_app(dir.path(), "lin");
    app.set_kube(c.client.clone());
    let k = app.state.rb.targets[0].clone();
    let _watch = warroom::kube::spawn_watch(
        c.client.clone(),
        &c.ns,
        vec![k.stable.clone(), k.canary.clone()],
        Vec::new(),
        app.sender(),
    );
    let _lease = warroom::kube::lease::spawn(
        c.client.clone(),
        &c.ns,
        "warroom-erp",
        app.identity.clone(),
        false,
        warroom::kube::lease::Marked::of(std::slice::from_ref(&k)),
        warroom::runbook::Lang::En,
        app.sender(),
    );
    common::until(&mut app, &mut rx, "driving, stable ready", |a| {
        matches!(a.state.driver, warroom::state::Driver::Driving { .. })
            && a.state
                .cluster
                .deployment(STABLE)
                .is_some_and(|d| d.ready == 10)
    })
    .await;

    // 10%
    common::tick_gates(&mut app, "canary-10");
    common::key(&mut app, 'a');
    common::confirm(&mut app);
    common::until(&mut app, &mut rx, "the canary at 1 ready", |a| {
        a.state.stages.current == Some(0)
            && a.state
                .cluster
                .deployment(CANARY)
                .is_some_and(|d| d.ready == 1)
            && common::pods_ready(a, &a.state.rb.targets[0].canary, 1)
    })
    .await;
    // 100%, once the hold has passed
    let later = chrono::Utc::now() + chrono::Duration::minutes(2);
    app.handle(Event::Tick(later));
    // Two minutes on, the Lease task would have renewed the Lease meanwhile.
    app.handle(Event::LeaseHeld {
        until: later + chrono::Duration::seconds(30),
    });
    common::tick_gates(&mut app, "full");
    common::key(&mut app, 'a');
    common::confirm(&mut app);
    common::until(&mut app, &mut rx, "promoted", |a| a.state.stages.promoted).await;
    c.settle(&kubectl).await;
    common::until(
        &mut app,
        &mut rx,
        "both revisions in the rollout pane",
        |a| warroom::canary::previous_revision(&a.state.cluster, STABLE).is_some(),
    )
    .await;
    // and back
    common::key(&mut app, 'R');
    if let warroom::state::Mode::Confirm(c) = &app.state.ui.mode {
        assert!(c.blockers.is_empty(), "{:?}", c.blockers);
    } else {
        panic!("no confirmation: {:?}", app.state.ui.flash);
    }
    common::confirm(&mut app);
    common::until(&mut app, &mut rx, "rolled back", |a| {
        a.state.stages.rolled_back.is_some()
    })
    .await;
    c.settle(&kubectl).await;
    // Events are written after the outcome: give them a moment.
    let events = || c.kubectl(&kubectl, &["describe", "deployment", STABLE]).1;
    for _ in 0..50 {
        if events().contains("WarroomRollback") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let describe = events();
    let log = common::log(&app);
    for (reason, said) in [
        (
            "WarroomAdvance",
            "lin advanced ERP backend (demo) v1.0.0 to Canary 10% (10%): Shift traffic to 10%: scale erp-backend-canary to 1 and erp-backend to 9",
        ),
        (
            "WarroomAdvance",
            "lin advanced ERP backend (demo) v1.0.0 to Full rollout 100% (100%): Promote to 100%",
        ),
        (
            "WarroomRollback",
            "manual: Manual rollback: business functions failing or performance severely degraded — lin: “test rollback”",
        ),
    ] {
        let line = describe
            .lines()
            .find(|l| l.contains(reason) && l.contains(said))
            .unwrap_or_else(|| panic!("no {reason} event saying {said:?} in:\n{describe}"));
        assert!(line.trim_start().starts_with("Normal"), "{line}");
        assert!(
            line.contains("warroom"),
            "the source is the console: {line}"
        );
    }
    // The comms log says the same things.
    assert!(
        log.contains("Shift traffic to 10%: scale erp-backend-canary to 1 and erp-backend to 9"),
        "{log}"
    );
    assert!(log.contains("Promote to 100%"), "{log}");
    // rollout history: the promotion's change-cause names who and what, and the undo
    // restored revision 1's template as revision 3, exactly as kubectl would.
    let (code, history, err) = c.kubectl(
        &kubectl,
        &["rollout", "history", &format!("deployment/{STABLE}")],
    );
    assert_eq!(code, 0, "{err}");
    let rows: Vec<&str> = history
        .lines()
        .skip(2)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(rows.len(), 2, "{history}");
    assert!(
        rows[0].starts_with('2') && rows[0].contains("lin: advance to full (100%)"),
        "{history}"
    );
    assert!(rows[1].starts_with('3'), "{history}");
    c.sim.shutdown().await;
}
