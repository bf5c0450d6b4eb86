//! The real `kubectl` against `warroom sim`: proof that the simulated cluster speaks
//! Kubernetes the way kubectl expects, not only the way our own client does.
//!
//! Each test starts the built binary with a fast scenario (pods start at once and are
//! ready a second later, controllers tick every 50 ms), reads the addresses it prints,
//! and runs kubectl with the kubeconfig it wrote and a fresh discovery cache. Without a
//! kubectl on the machine every test says so and returns.
//!
//! The scenario reports Kubernetes minor 32, so a kubectl that picks its build by the
//! server's version runs 1.32.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_warroom");
const NS: &str = "shop";

fn kubectl_path() -> Option<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    std::iter::once(PathBuf::from("/usr/bin"))
        .chain(candidates)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
}

/// A healthy version: starts at once, ready a second later.
const HEALTHY: &str = "{error_rate: 0.001, latency_p50_ms: 100, latency_p95_ms: 300, cpu: 0.3, memory: 0.5, start: 0s, ready: 1s}";

/// A scenario with four stable replicas of `web:v1`, an empty canary, and versions for
/// every case the tests need. `progress_deadline` is `spec.progressDeadlineSeconds`.
fn scenario(progress_deadline: &str, extra: &str) -> String {
    format!(
        "name: kubectl tests
namespace: {NS}
app: web
kube_minor: \"32\"
stable: {{name: web, image: registry.local/web:v1, replicas: 4, track: stable}}
canary: {{name: web-canary, image: registry.local/web:v2, replicas: 0, track: canary}}
versions:
  v1: {HEALTHY}
  v2: {HEALTHY}
  v3: {HEALTHY}
  never-ready: {{error_rate: 0, latency_p50_ms: 100, latency_p95_ms: 300, cpu: 0.3, memory: 0.5, start: 0s, never_ready: true}}
  crash: {{error_rate: 0, latency_p50_ms: 100, latency_p95_ms: 300, cpu: 0.3, memory: 0.5, start: 0s, crash_loop: true}}
traffic: {{rps: 100, orders_per_min: 10, active_users: 10}}
timing: {{tick_ms: 50, terminate: 1s, progress_deadline: {progress_deadline}}}
{extra}"
    )
}

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl From<Output> for Out {
    fn from(o: Output) -> Self {
        Out {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// `warroom sim` running in the background; killed when dropped.
struct Sim {
    child: Child,
    kubectl: PathBuf,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    kube_url: String,
    /// The rest of the simulator's stdout, line by line.
    lines: mpsc::Receiver<String>,
}

impl Sim {
    /// Starts the simulator, or returns None (and says why) without a kubectl.
    fn start(scenario: &str, extra_args: &[&str]) -> Option<Sim> {
        let Some(kubectl) = kubectl_path() else {
            eprintln!("skipped: no kubectl on this machine");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let scenario_file = dir.path().join("scenario.yaml");
        std::fs::write(&scenario_file, scenario).unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let mut child = Command::new(BIN)
            .arg("sim")
            .arg("--scenario")
            .arg(&scenario_file)
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .args(["--kube-port", "0", "--prom-port", "0"])
            .args(extra_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        let mut sim = Sim {
            child,
            kubectl,
            dir,
            kubeconfig,
            kube_url: String::new(),
            lines,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match sim.lines.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => {
                    let mut err = String::new();
                    if let Some(mut e) = sim.child.stderr.take() {
                        let _ = sim.child.kill();
                        let _ = e.read_to_string(&mut err);
                    }
                    panic!("the simulator did not start: {err}");
                }
            };
            if let Some(url) = line.strip_prefix("Kubernetes API: ") {
                sim.kube_url = url.trim().to_string();
            }
            if let Some(path) = line.strip_prefix("kubeconfig: ") {
                assert_eq!(Path::new(path.trim()), sim.kubeconfig);
                break;
            }
        }
        assert!(
            sim.kube_url.starts_with("http://127.0.0.1:"),
            "{}",
            sim.kube_url
        );
        Some(sim)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.kubectl);
        c.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null());
        c
    }

    fn kubectl(&self, args: &[&str]) -> Out {
        self.command(args).output().unwrap().into()
    }

    /// Runs kubectl and insists on exit 0; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert_eq!(out.code, Some(0), "kubectl {args:?}: {out:?}");
        out.stdout
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let text = self.ok(&all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    fn deploy(&self, name: &str) -> Value {
        self.json(&["get", "deploy", name])
    }

    /// Polls until `f` holds for the Deployment, or fails after 30 s.
    fn wait_deploy(&self, name: &str, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let d = self.deploy(name);
            if f(&d) {
                return d;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {d:#}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The stable Deployment's ReplicaSet of this revision.
    fn rs_of_revision(&self, rev: &str) -> Value {
        let list = self.json(&["get", "rs", "-l", "track=stable"]);
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|rs| revision(rs) == rev)
            .cloned()
            .unwrap_or_else(|| panic!("no ReplicaSet of revision {rev}: {list:#}"))
    }

    /// `pod-template-hash=…` of the stable Deployment's ReplicaSet of this revision.
    fn pods_of_revision(&self, rev: &str) -> String {
        let rs = self.rs_of_revision(rev);
        format!(
            "pod-template-hash={}",
            str_at(&rs, "/metadata/labels/pod-template-hash")
        )
    }

    fn write_file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn int(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// kubectl's own test for a finished rollout (`rollout status`), on a Deployment.
fn complete_by_kubectl_rules(d: &Value) -> bool {
    let spec = int(d, "/spec/replicas");
    int(d, "/metadata/generation") <= int(d, "/status/observedGeneration")
        && int(d, "/status/updatedReplicas") >= spec
        && int(d, "/status/replicas") <= int(d, "/status/updatedReplicas")
        && int(d, "/status/availableReplicas") >= int(d, "/status/updatedReplicas")
}

fn condition<'a>(d: &'a Value, ty: &str) -> Option<&'a Value> {
    d.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == ty)
}

fn revision(o: &Value) -> &str {
    str_at(
        o,
        "/metadata/annotations/deployment.kubernetes.io~1revision",
    )
}

/// The data rows of kubectl's table output, split on whitespace.
fn rows(table: &str) -> Vec<Vec<&str>> {
    table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect()
}

fn header(table: &str) -> Vec<&str> {
    table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect()
}

#[test]
fn get_deployments_replicasets_and_pods_in_every_output_format() {
    let Some(sim) = Sim::start(&scenario("600s", ""), &[]) else {
        return;
    };
    let deploys = sim.ok(&["get", "deploy"]);
    assert_eq!(
        header(&deploys),
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "{deploys}"
    );
    let r = rows(&deploys);
    assert_eq!(r.len(), 2, "{deploys}");
    assert_eq!(&r[0][..4], ["web", "4/4", "4", "4"], "{deploys}");
    assert_eq!(&r[1][..4], ["web-canary", "0/0", "0", "0"], "{deploys}");

    let wide = sim.ok(&["get", "deploy", "-o", "wide"]);
    assert_eq!(
        header(&wide)[5..],
        ["CONTAINERS", "IMAGES", "SELECTOR"],
        "{wide}"
    );
    assert!(wide.contains("registry.local/web:v1"), "{wide}");
    assert!(wide.contains("app=web,track=stable"), "{wide}");

    let rs = sim.ok(&["get", "rs"]);
    assert_eq!(
        header(&rs),
        ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        "{rs}"
    );
    let rs_rows = rows(&rs);
    let stable_rs = rs_rows
        .iter()
        .find(|r| r[0].starts_with("web-") && !r[0].starts_with("web-canary"))
        .unwrap_or_else(|| panic!("no stable ReplicaSet: {rs}"));
    assert_eq!(&stable_rs[1..4], ["4", "4", "4"], "{rs}");
    let hash = stable_rs[0].strip_prefix("web-").unwrap().to_string();
    let rs_wide = sim.ok(&["get", "rs", "-o", "wide"]);
    assert!(
        rs_wide.contains(&format!("app=web,pod-template-hash={hash},track=stable")),
        "{rs_wide}"
    );

    let pods = sim.ok(&["get", "pods"]);
    assert_eq!(
        header(&pods),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{pods}"
    );
    let pod_rows = rows(&pods);
    assert_eq!(pod_rows.len(), 4, "{pods}");
    for p in &pod_rows {
        assert!(p[0].starts_with(&format!("web-{hash}-")), "{pods}");
        assert_eq!(&p[1..4], ["1/1", "Running", "0"], "{pods}");
    }
    let pods_wide = sim.ok(&["get", "pods", "-o", "wide"]);
    assert_eq!(
        header(&pods_wide)[5..],
        ["IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"],
        "{pods_wide}"
    );
    let labels = sim.ok(&["get", "pods", "--show-labels"]);
    assert_eq!(header(&labels).last(), Some(&"LABELS"), "{labels}");
    assert!(
        labels.contains(&format!("app=web,pod-template-hash={hash},track=stable")),
        "{labels}"
    );

    let all = sim.ok(&["get", "pods", "-A"]);
    assert_eq!(header(&all)[0], "NAMESPACE", "{all}");
    assert!(rows(&all).iter().all(|r| r[0] == NS), "{all}");
    assert_eq!(rows(&all).len(), 4, "{all}");
    let all_deploys = sim.ok(&["get", "deploy", "-A"]);
    assert_eq!(rows(&all_deploys).len(), 2, "{all_deploys}");

    // Structured output: the objects themselves.
    let list = sim.json(&["get", "deploy"]);
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["kind"], "Deployment");
    assert_eq!(items[0]["apiVersion"], "apps/v1");
    let d = sim.deploy("web");
    assert_eq!(revision(&d), "1");
    assert_eq!(int(&d, "/metadata/generation"), 1);
    assert_eq!(int(&d, "/status/observedGeneration"), 1);
    assert_eq!(
        str_at(condition(&d, "Available").unwrap(), "/reason"),
        "MinimumReplicasAvailable"
    );
    assert_eq!(
        str_at(condition(&d, "Progressing").unwrap(), "/reason"),
        "NewReplicaSetAvailable"
    );
    let rs = sim.json(&["get", "rs", &format!("web-{hash}")]);
    assert_eq!(
        rs["metadata"]["ownerReferences"][0]["uid"],
        d["metadata"]["uid"]
    );
    assert_eq!(rs["metadata"]["ownerReferences"][0]["controller"], true);
    let pod_list = sim.json(&["get", "pods", "-l", "track=stable"]);
    assert_eq!(pod_list["items"].as_array().unwrap().len(), 4);
    assert_eq!(
        sim.json(&["get", "pods", "-l", "track=canary"])["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    let yaml = sim.ok(&["get", "deploy", "web", "-o", "yaml"]);
    assert!(
        yaml.starts_with("apiVersion: apps/v1\nkind: Deployment\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains("deployment.kubernetes.io/revision: \"1\""),
        "{yaml}"
    );
    assert!(yaml.contains("      maxSurge: 25%"), "{yaml}");

    let missing = sim.kubectl(&["get", "deploy", "nope"]);
    assert_eq!(missing.code, Some(1), "{missing:?}");
    assert!(
        missing
            .stderr
            .contains("Error from server (NotFound): deployments.apps \"nope\" not found"),
        "{missing:?}"
    );
}

#[test]
fn set_image_rolls_out_a_new_replicaset_and_rollout_status_waits_for_it() {
    let Some(sim) = Sim::start(&scenario("600s", ""), &[]) else {
        return;
    };
    let before = sim.deploy("web");
    let out = sim.ok(&["set", "image", "deploy/web", "web=registry.local/web:v2"]);
    assert_eq!(out.trim(), "deployment.apps/web image updated");
    let status = sim.kubectl(&["rollout", "status", "deploy/web", "--timeout=60s"]);
    // Read the Deployment as soon as kubectl says it is done.
    let d = sim.deploy("web");
    assert_eq!(status.code, Some(0), "{status:?}");
    let lines: Vec<&str> = status.stdout.lines().collect();
    assert_eq!(
        lines.last().copied(),
        Some("deployment \"web\" successfully rolled out"),
        "{status:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Waiting for deployment \"web\" rollout to finish:")),
        "rollout status reported success without waiting: {status:?}"
    );
    assert!(complete_by_kubectl_rules(&d), "{d:#}");
    assert_eq!(int(&d, "/status/availableReplicas"), 4, "{d:#}");
    assert_eq!(int(&d, "/metadata/generation"), 2);
    assert_eq!(revision(&d), "2");
    assert_eq!(
        str_at(condition(&d, "Progressing").unwrap(), "/reason"),
        "NewReplicaSetAvailable"
    );

    // A new ReplicaSet with a new pod-template-hash carries the new template; the old
    // one is scaled to zero and keeps revision 1.
    let rss = sim.json(&["get", "rs", "-l", "track=stable"]);
    let rss = rss["items"].as_array().unwrap();
    assert_eq!(rss.len(), 2, "{rss:#?}");
    let hash = |rs: &Value| str_at(rs, "/metadata/labels/pod-template-hash").to_string();
    let new = rss.iter().find(|r| revision(r) == "2").unwrap();
    let old = rss.iter().find(|r| revision(r) == "1").unwrap();
    assert_ne!(hash(new), hash(old));
    assert_eq!(
        str_at(new, "/spec/template/spec/containers/0/image"),
        "registry.local/web:v2"
    );
    assert_eq!(int(new, "/status/readyReplicas"), 4);
    assert_eq!(int(old, "/spec/replicas"), 0);
    assert_eq!(
        str_at(&before, "/metadata/uid"),
        str_at(new, "/metadata/ownerReferences/0/uid")
    );
    let pods = sim.ok(&["get", "pods", "-l", "track=stable"]);
    let live: Vec<_> = rows(&pods)
        .into_iter()
        .filter(|r| r[2] != "Terminating")
        .collect();
    assert_eq!(live.len(), 4, "{pods}");
    assert!(
        live.iter()
            .all(|r| r[0].starts_with(&format!("web-{}-", hash(new)))),
        "{pods}"
    );
}

#[test]
fn a_rollout_that_never_gets_ready_times_out_and_is_rolled_back() {
    let Some(sim) = Sim::start(&scenario("600s", ""), &[]) else {
        return;
    };
    sim.ok(&[
        "set",
        "image",
        "deploy/web",
        "web=registry.local/web:never-ready",
    ]);
    let t = Instant::now();
    let status = sim.kubectl(&["rollout", "status", "deploy/web", "--timeout=3s"]);
    assert_eq!(status.code, Some(1), "{status:?}");
    assert!(t.elapsed() >= Duration::from_secs(3), "{status:?}");
    assert!(
        status
            .stderr
            .contains("error: timed out waiting for the condition"),
        "{status:?}"
    );
    assert!(
        status.stdout.contains("Waiting for deployment \"web\" rollout to finish: 2 out of 4 new replicas have been updated..."),
        "maxSurge and maxUnavailable 25% of 4 let two new pods start: {status:?}"
    );
    // maxUnavailable 25%: three old pods keep serving, the new ones are not ready.
    let d = sim.deploy("web");
    assert_eq!(int(&d, "/status/availableReplicas"), 3, "{d:#}");
    assert_eq!(int(&d, "/status/updatedReplicas"), 2, "{d:#}");
    assert_eq!(int(&d, "/status/unavailableReplicas"), 2, "{d:#}");
    let pods = sim.ok(&["get", "pods", "-l", &sim.pods_of_revision("2")]);
    assert_eq!(rows(&pods).len(), 2, "{pods}");
    for r in rows(&pods) {
        assert_eq!(&r[1..3], ["0/1", "Running"], "{pods}");
    }

    let undo = sim.ok(&["rollout", "undo", "deploy/web"]);
    assert_eq!(undo.trim(), "deployment.apps/web rolled back");
    sim.ok(&["rollout", "status", "deploy/web", "--timeout=30s"]);
    let d = sim.deploy("web");
    assert_eq!(revision(&d), "3");
    assert_eq!(
        str_at(&d, "/spec/template/spec/containers/0/image"),
        "registry.local/web:v1"
    );
    assert!(complete_by_kubectl_rules(&d));
}

#[test]
fn a_crash_looping_rollout_exceeds_its_progress_deadline() {
    let Some(sim) = Sim::start(&scenario("3s", ""), &[]) else {
        return;
    };
    assert_eq!(int(&sim.deploy("web"), "/spec/progressDeadlineSeconds"), 3);
    sim.ok(&["set", "image", "deploy/web", "web=registry.local/web:crash"]);
    let status = sim.kubectl(&["rollout", "status", "deploy/web", "--timeout=30s"]);
    assert_eq!(status.code, Some(1), "{status:?}");
    assert!(
        status
            .stderr
            .contains("error: deployment \"web\" exceeded its progress deadline"),
        "{status:?}"
    );
    let d = sim.deploy("web");
    let progressing = condition(&d, "Progressing").unwrap();
    assert_eq!(progressing["status"], "False");
    assert_eq!(progressing["reason"], "ProgressDeadlineExceeded");
    assert!(
        str_at(progressing, "/message").ends_with("has timed out progressing."),
        "{progressing}"
    );
    // The crashing pods restart and back off.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pods = sim.ok(&["get", "pods", "-l", &sim.pods_of_revision("2")]);
        let r = rows(&pods);
        if r.iter()
            .any(|r| r[2] == "CrashLoopBackOff" || r[2] == "Error" || r[3] != "0")
        {
            break;
        }
        assert!(Instant::now() < deadline, "no crash loop: {pods}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn rollout_history_and_undo_to_any_revision() {
    let Some(sim) = Sim::start(&scenario("600s", ""), &[]) else {
        return;
    };
    let rolled =
        |rev: &'static str| move |d: &Value| revision(d) == rev && complete_by_kubectl_rules(d);
    for (image, cause, rev) in [("v2", "ship v2", "2"), ("v3", "ship v3", "3")] {
        sim.ok(&[
            "set",
            "image",
            "deploy/web",
            &format!("web=registry.local/web:{image}"),
        ]);
        sim.ok(&[
            "annotate",
            "deploy/web",
            &format!("kubernetes.io/change-cause={cause}"),
            "--overwrite",
        ]);
        sim.wait_deploy("web", "the rollout", rolled(rev));
    }
    let history = sim.ok(&["rollout", "history", "deploy/web"]);
    let expected = "deployment.apps/web \n\
                    REVISION  CHANGE-CAUSE\n\
                    1         initial deploy of registry.local/web:v1\n\
                    2         ship v2\n\
                    3         ship v3\n\n";
    assert_eq!(history, expected);
    let rev2 = sim.ok(&["rollout", "history", "deploy/web", "--revision=2"]);
    assert!(
        rev2.starts_with("deployment.apps/web with revision #2\n"),
        "{rev2}"
    );
    assert!(rev2.contains("Image:\tregistry.local/web:v2"), "{rev2}");
    assert!(
        rev2.contains("kubernetes.io/change-cause: ship v2"),
        "{rev2}"
    );
    let none = sim.kubectl(&["rollout", "history", "deploy/web", "--revision=9"]);
    assert_eq!(none.code, Some(1), "{none:?}");
    assert!(
        none.stderr
            .contains("unable to find the specified revision"),
        "{none:?}"
    );

    // No rollback while paused.
    sim.ok(&["rollout", "pause", "deploy/web"]);
    let paused = sim.kubectl(&["rollout", "undo", "deploy/web"]);
    assert_eq!(paused.code, Some(1), "{paused:?}");
    assert!(
        paused.stderr.contains(
            "error: you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again"
        ),
        "{paused:?}"
    );
    sim.ok(&["rollout", "resume", "deploy/web"]);

    // Undo goes back one: revision 2's ReplicaSet becomes revision 4.
    assert_eq!(
        sim.ok(&["rollout", "undo", "deploy/web"]).trim(),
        "deployment.apps/web rolled back"
    );
    let d = sim.wait_deploy("web", "the undo", rolled("4"));
    assert_eq!(
        str_at(&d, "/spec/template/spec/containers/0/image"),
        "registry.local/web:v2"
    );
    assert_eq!(
        str_at(&d, "/metadata/annotations/kubernetes.io~1change-cause"),
        "ship v2"
    );
    let history = sim.ok(&["rollout", "history", "deploy/web"]);
    let revs: Vec<&str> = history
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(revs, ["1", "3", "4"], "{history}");
    let rs4 = sim.rs_of_revision("4");
    assert_eq!(
        str_at(&rs4, "/spec/template/spec/containers/0/image"),
        "registry.local/web:v2"
    );
    assert_eq!(
        str_at(
            &rs4,
            "/metadata/annotations/deployment.kubernetes.io~1revision-history"
        ),
        "2"
    );

    // Undoing to the revision already running changes nothing.
    let skip = sim.ok(&["rollout", "undo", "deploy/web", "--to-revision=4"]);
    assert_eq!(
        skip.trim(),
        "deployment.apps/web skipped rollback (current template already matches revision 4)"
    );
    assert_eq!(revision(&sim.deploy("web")), "4");

    let to1 = sim.ok(&["rollout", "undo", "deploy/web", "--to-revision=1"]);
    assert_eq!(to1.trim(), "deployment.apps/web rolled back");
    let d = sim.wait_deploy("web", "the undo to 1", rolled("5"));
    assert_eq!(
        str_at(&d, "/spec/template/spec/containers/0/image"),
        "registry.local/web:v1"
    );
    let missing = sim.kubectl(&["rollout", "undo", "deploy/web", "--to-revision=42"]);
    assert_eq!(missing.code, Some(1), "{missing:?}");
    assert!(
        missing
            .stderr
            .contains("unable to find specified revision 42 in history"),
        "{missing:?}"
    );
}

#[test]
fn pause_and_resume_with_their_errors() {
    let Some(sim) = Sim::start(&scenario("600s", ""), &[]) else {
        return;
    };
    assert_eq!(
        sim.ok(&["rollout", "pause", "deploy/web"]).trim(),
        "deployment.apps/web paused"
    );
    let again = sim.kubectl(&["rollout", "pause", "deploy/web"]);
    assert_eq!(again.code, Some(1), "{again:?}");
    assert!(
        again
            .stderr
            .contains("error: deployments.apps \"web\" is already paused"),
        "{again:?}"
    );
    // A paused Deployment takes the new template but does not roll it out.
    sim.ok(&["set", "image", "deploy/web", "web=registry.local/web:v2"]);
    let d = sim.wait_deploy("web", "the paused condition", |d| {
        int(d, "/status/observedGeneration") == int(d, "/metadata/generation")
            && condition(d, "Progressing").is_some_and(|c| c["reason"] == "DeploymentPaused")
    });
    assert_eq!(d["spec"]["paused"], true);
    assert_eq!(
        str_at(condition(&d, "Progressing").unwrap(), "/status"),
        "Unknown"
    );
    std::thread::sleep(Duration::from_millis(500));
    let rss = sim.json(&["get", "rs", "-l", "track=stable"]);
    assert_eq!(
        rss["items"].as_array().unwrap().len(),
        1,
        "a paused rollout made a ReplicaSet"
    );
    let pods = sim.ok(&["get", "pods", "-l", "track=stable"]);
    assert!(
        rows(&pods).iter().all(|r| r[2] == "Running"),
        "a paused rollout touched pods: {pods}"
    );
    // With one revision there is nothing to go back to, paused or not.
    let undo = sim.kubectl(&["rollout", "undo", "deploy/web"]);
    assert_eq!(undo.code, Some(1), "{undo:?}");
    assert!(
        undo.stderr
            .contains("error: no rollout history found for deployment \"web\""),
        "{undo:?}"
    );

    assert_eq!(
        sim.ok(&["rollout", "resume", "deploy/web"]).trim(),
        "deployment.apps/web resumed"
    );
    assert!(sim.deploy("web")["spec"].get("paused").is_none());
    let again = sim.kubectl(&["rollout", "resume", "deploy/web"]);
    assert_eq!(again.code, Some(1), "{again:?}");
    assert!(
        again
            .stderr
            .contains("error: deployments.apps \"web\" is not paused"),
        "{again:?}"
    );
    let status = sim.ok(&["rollout", "status", "deploy/web", "--timeout=30s"]);
    assert!(
        status.ends_with("deployment \"web\" successfully rolled out\n"),
        "{status}"
    );
    assert_eq!(revision(&sim.deploy("web")), "2");
}

#[test]
fn scale_with_and_without_a_precondition() {
    let Some(sim) = Sim::start(&scenario("600s", ""), &[]) else {
        return;
    };
    assert_eq!(
        sim.ok(&["scale", "deploy/web", "--replicas=6"]).trim(),
        "deployment.apps/web scaled"
    );
    let d = sim.wait_deploy("web", "six ready replicas", |d| {
        int(d, "/status/readyReplicas") == 6 && complete_by_kubectl_rules(d)
    });
    assert_eq!(int(&d, "/spec/replicas"), 6);
    let wrong = sim.kubectl(&[
        "scale",
        "deploy/web",
        "--current-replicas=4",
        "--replicas=2",
    ]);
    assert_eq!(wrong.code, Some(1), "{wrong:?}");
    assert!(
        wrong.stderr.contains("Expected replicas to be 4, was 6"),
        "{wrong:?}"
    );
    assert_eq!(int(&sim.deploy("web"), "/spec/replicas"), 6);
    assert_eq!(
        sim.ok(&[
            "scale",
            "deploy/web",
            "--current-replicas=6",
            "--replicas=2"
        ])
        .trim(),
        "deployment.apps/web scaled"
    );
    sim.wait_deploy("web", "two replicas", |d| {
        int(d, "/status/replicas") == 2 && complete_by_kubectl_rules(d)
    });
    let canary = sim.ok(&["scale", "deploy/web-canary", "--replicas=1"]);
    assert_eq!(canary.trim(), "deployment.apps/web-canary scaled");
    sim.wait_deploy("web-canary", "the canary pod", |d| {
        int(d, "/status/availableReplicas") == 1
    });
}

/// Reads lines from a child's stdout for `wait`, or until `done` says enough.
fn read_for(child: &mut Child, wait: Duration, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + wait;
    let mut lines = Vec::new();
    while let Ok(l) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        lines.push(l);
        if done(&lines) {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines
}

#[test]
fn get_pods_watch_shows_rows_appear_change_and_go() {
    let Some(sim) = Sim::start(&scenario("600s", ""), &[]) else {
        return;
    };
    let mut watch = sim
        .command(&["get", "pods", "-w", "--output-watch-events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Let the watch list first, then roll.
    std::thread::sleep(Duration::from_millis(1500));
    sim.ok(&["set", "image", "deploy/web", "web=registry.local/web:v2"]);
    let lines = read_for(&mut watch, Duration::from_secs(30), |lines| {
        lines.iter().filter(|l| l.starts_with("DELETED")).count() >= 4
    });
    let text = lines.join("\n");
    assert!(
        lines[0]
            .split_whitespace()
            .eq(["EVENT", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]),
        "{text}"
    );
    let initial: Vec<&String> = lines.iter().filter(|l| l.starts_with("ADDED")).collect();
    assert!(
        initial.len() >= 8,
        "4 listed pods and 4 new ones are ADDED: {text}"
    );
    let new_rs = sim.rs_of_revision("2");
    let hash = str_at(&new_rs, "/metadata/labels/pod-template-hash");
    let new_pod = format!("web-{hash}-");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ADDED") && l.contains(&new_pod)),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f[0] == "MODIFIED" && f[1].starts_with(&new_pod) && f[2] == "1/1" && f[3] == "Running"
        }),
        "a new pod becomes ready: {text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("MODIFIED") && l.contains("Terminating")),
        "old pods show Terminating first: {text}"
    );
    let deleted: Vec<&String> = lines.iter().filter(|l| l.starts_with("DELETED")).collect();
    assert!(deleted.len() >= 4, "{text}");
    assert!(deleted.iter().all(|l| !l.contains(&new_pod)), "{text}");

    // --watch-only prints no initial rows, just the changes.
    let mut only = sim
        .command(&["get", "pods", "--watch-only", "-l", "track=canary"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    sim.ok(&["scale", "deploy/web-canary", "--replicas=1"]);
    let lines = read_for(&mut only, Duration::from_secs(20), |lines| {
        lines.iter().any(|l| l.contains("1/1"))
    });
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("web-canary-") || l.starts_with("NAME")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("1/1") && l.contains("Running")),
        "{lines:#?}"
    );
}

#[test]
fn sigterm_stops_the_simulator_cleanly() {
    let Some(mut sim) = Sim::start(&scenario("600s", ""), &[]) else {
        return;
    };
    sim.ok(&["get", "deploy"]);
    let pid = sim.child.id().to_string();
    let kill = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = sim.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the simulator ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let rest: Vec<String> = sim.lines.try_iter().collect();
    assert_eq!(rest, ["simulator stopped"]);
    let after = sim.kubectl(&["get", "deploy", "--request-timeout=2s"]);
    assert_eq!(after.code, Some(1), "the API still answers: {after:?}");
}

#[test]
fn describe_shows_the_events_written_about_a_deployment_and_leases_list() {
    let Some(sim) = Sim::start(&scenario("600s", ""), &[]) else {
        return;
    };
    let d = sim.deploy("web");
    let uid = str_at(&d, "/metadata/uid");
    // What the console writes: a core/v1 Event about the Deployment.
    let event = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web.warroom-1", "namespace": NS},
        "involvedObject": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": NS, "uid": uid},
        "reason": "CanaryPromoted",
        "message": "canary promoted to 10% by alice",
        "type": "Normal",
        "source": {"component": "warroom"},
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
        "count": 1,
        "reportingComponent": "warroom",
        "reportingInstance": "console",
    });
    // An event about another object with the same name must not show.
    let mut other = event.clone();
    other["metadata"]["name"] = "web.other".into();
    other["involvedObject"]["kind"] = "Service".into();
    other["involvedObject"]["apiVersion"] = "v1".into();
    other["involvedObject"]["uid"] = "0000".into();
    other["reason"] = "NotAboutTheDeployment".into();
    for (n, e) in [("e1.json", &event), ("e2.json", &other)] {
        let f = sim.write_file(n, &e.to_string());
        let out = sim.ok(&["create", "--validate=false", "-f", f.to_str().unwrap()]);
        assert!(out.starts_with("event/"), "{out}");
    }
    sim.ok(&["set", "image", "deploy/web", "web=registry.local/web:v2"]);
    sim.wait_deploy("web", "the rollout", complete_by_kubectl_rules);
    let describe = sim.ok(&["describe", "deployment", "web"]);
    let events = describe
        .split_once("\nEvents:\n")
        .unwrap_or_else(|| panic!("no Events section: {describe}"))
        .1;
    let ours = events
        .lines()
        .find(|l| l.contains("CanaryPromoted"))
        .unwrap_or_else(|| panic!("the console's event is missing: {events}"));
    let f: Vec<&str> = ours.split_whitespace().collect();
    assert_eq!(f[0], "Normal", "{ours}");
    assert_eq!(f[3], "warroom", "{ours}");
    assert!(ours.ends_with("canary promoted to 10% by alice"), "{ours}");
    assert!(
        events.contains("ScalingReplicaSet") && events.contains("deployment-controller"),
        "the controller's own events: {events}"
    );
    assert!(!events.contains("NotAboutTheDeployment"), "{events}");

    let all = sim.ok(&["get", "events"]);
    assert!(all.contains("CanaryPromoted"), "{all}");
    assert!(all.contains("deployment/web"), "{all}");
    let warnings = sim.ok(&["get", "events", "--field-selector", "type=Warning"]);
    assert!(!warnings.contains("CanaryPromoted"), "{warnings}");

    let lease = serde_json::json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "warroom-web", "namespace": NS},
        "spec": {"holderIdentity": "alice@console", "leaseDurationSeconds": 30},
    });
    let f = sim.write_file("lease.json", &lease.to_string());
    sim.ok(&["create", "--validate=false", "-f", f.to_str().unwrap()]);
    let leases = sim.ok(&["get", "lease", "-n", NS]);
    assert_eq!(header(&leases), ["NAME", "HOLDER", "AGE"], "{leases}");
    assert_eq!(
        &rows(&leases)[0][..2],
        ["warroom-web", "alice@console"],
        "{leases}"
    );
}

#[test]
fn an_enforced_role_shows_as_forbidden_in_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    let role = dir.path().join("rbac.yaml");
    std::fs::write(
        &role,
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: warroom, namespace: {NS}}}
rules:
- apiGroups: [apps]
  resources: [deployments, replicasets]
  verbs: [get, list, watch]
- apiGroups: [apps]
  resources: [deployments/scale]
  resourceNames: [web-canary]
  verbs: [get, patch]
"
        ),
    )
    .unwrap();
    let Some(sim) = Sim::start(&scenario("600s", ""), &["--rbac", role.to_str().unwrap()]) else {
        return;
    };
    assert_eq!(rows(&sim.ok(&["get", "deploy"])).len(), 2);
    sim.ok(&["rollout", "history", "deploy/web"]);
    assert_eq!(
        sim.ok(&["scale", "deploy/web-canary", "--replicas=1"])
            .trim(),
        "deployment.apps/web-canary scaled"
    );
    let scale = sim.kubectl(&["scale", "deploy/web", "--replicas=1"]);
    assert_eq!(scale.code, Some(1), "{scale:?}");
    assert_eq!(
        scale.stderr.trim(),
        format!(
            "Error from server (Forbidden): deployments.apps \"web\" is forbidden: User \"warroom\" cannot patch resource \"deployments/scale\" in API group \"apps\" in the namespace \"{NS}\""
        )
    );
    let image = sim.kubectl(&["set", "image", "deploy/web", "web=registry.local/web:v2"]);
    assert_eq!(image.code, Some(1), "{image:?}");
    assert!(
        image
            .stderr
            .contains("cannot patch resource \"deployments\" in API group \"apps\""),
        "{image:?}"
    );
    let pods = sim.kubectl(&["get", "pods"]);
    assert_eq!(pods.code, Some(1), "{pods:?}");
    assert!(
        pods.stderr.contains(&format!(
            "Error from server (Forbidden): pods is forbidden: User \"warroom\" cannot list resource \"pods\" in API group \"\" in the namespace \"{NS}\""
        )),
        "{pods:?}"
    );
    let all = sim.kubectl(&["get", "deploy", "-A"]);
    assert_eq!(all.code, Some(1), "{all:?}");
    assert!(all.stderr.contains("at the cluster scope"), "{all:?}");
    assert_eq!(
        str_at(&sim.deploy("web"), "/spec/template/spec/containers/0/image"),
        "registry.local/web:v1"
    );
}

#[test]
fn gateway_services_and_route_weights_through_kubectl() {
    let Some(sim) = Sim::start(
        &scenario("600s", "").replace("traffic: {rps: 100", "traffic: {split: gateway, rps: 100"),
        &[],
    ) else {
        return;
    };
    let svcs = sim.ok(&["get", "svc", "-o", "wide"]);
    assert_eq!(
        header(&svcs),
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE",
            "SELECTOR"
        ],
        "{svcs}"
    );
    let r = rows(&svcs);
    assert_eq!(r.len(), 2, "{svcs}");
    assert_eq!(
        (r[0][0], r[0][1], r[0][4]),
        ("web", "ClusterIP", "80/TCP"),
        "{svcs}"
    );
    assert_eq!(r[0][6], "app=web,track=stable", "{svcs}");
    assert_eq!(r[1][6], "app=web,track=canary", "{svcs}");

    let routes = sim.ok(&["get", "httproutes"]);
    assert_eq!(rows(&routes)[0][0], "web", "{routes}");
    let weights = |sim: &Sim| -> Vec<i64> {
        let route = sim.json(&["get", "httproute", "web"]);
        route["spec"]["rules"][0]["backendRefs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["weight"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(weights(&sim), [100, 0]);
    let patched = sim.ok(&[
        "patch",
        "httproute",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"rules":[{"backendRefs":[{"name":"web","port":80,"weight":90},{"name":"web-canary","port":80,"weight":10}]}]}}"#,
    ]);
    assert_eq!(
        patched.trim(),
        "httproute.gateway.networking.k8s.io/web patched"
    );
    assert_eq!(weights(&sim), [90, 10]);
    sim.ok(&[
        "patch",
        "httproute",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/rules/0/backendRefs/1/weight","value":50}]"#,
    ]);
    assert_eq!(weights(&sim), [90, 50]);
    let bad = sim.kubectl(&[
        "patch",
        "httproute",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/rules/3/backendRefs/0/weight","value":1}]"#,
    ]);
    assert_eq!(bad.code, Some(1), "{bad:?}");
    assert!(bad.stderr.contains("is invalid"), "{bad:?}");
    assert_eq!(weights(&sim), [90, 50]);
}

/// Istio: the VirtualService as kubectl shows it (by its plural and its short name), and
/// its destinations' weights patched as an operator would.
#[test]
fn istio_virtualservice_weights_through_kubectl() {
    let Some(sim) = Sim::start(
        &scenario("600s", "").replace("traffic: {rps: 100", "traffic: {split: istio, rps: 100"),
        &[],
    ) else {
        return;
    };
    let svcs = sim.ok(&["get", "svc"]);
    assert_eq!(rows(&svcs).len(), 2, "{svcs}");
    let list = sim.ok(&["get", "virtualservices"]);
    assert_eq!(
        header(&list),
        ["NAME", "GATEWAYS", "HOSTS", "AGE"],
        "{list}"
    );
    assert_eq!(rows(&list)[0][..2], ["web", "[\"web\"]"], "{list}");
    assert_eq!(
        sim.ok(&["get", "vs", "-o", "name"]).trim(),
        "virtualservice.networking.istio.io/web"
    );
    let weights = |sim: &Sim| -> Vec<i64> {
        let vs = sim.json(&["get", "virtualservice", "web"]);
        vs["spec"]["http"][0]["route"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["weight"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(weights(&sim), [100, 0]);
    let patched = sim.ok(&[
        "patch",
        "virtualservice",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/http/0/route/0/weight","value":90},{"op":"replace","path":"/spec/http/0/route/1/weight","value":10}]"#,
    ]);
    assert_eq!(
        patched.trim(),
        "virtualservice.networking.istio.io/web patched"
    );
    assert_eq!(weights(&sim), [90, 10]);
}

/// What the verifications read, as kubectl reads it: the nodes with their allocatable
/// capacity, a Secret's metadata (`-o name` and the table), the server's version.
#[test]
fn nodes_secrets_and_the_version_through_kubectl() {
    let Some(sim) = Sim::start(
        &scenario(
            "600s",
            "nodes: {count: 2, cpu: 7910m, memory: 30Gi}\nsecrets: [web-tls]\n",
        ),
        &[],
    ) else {
        return;
    };
    let nodes = sim.ok(&["get", "nodes"]);
    assert_eq!(
        header(&nodes),
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        "{nodes}"
    );
    let r = rows(&nodes);
    assert_eq!(r.len(), 2, "{nodes}");
    assert_eq!(&r[0][..3], ["sim-node-1", "Ready", "<none>"], "{nodes}");
    assert_eq!(r[0][4], "v1.32.0", "{nodes}");
    let cpu = sim.ok(&[
        "get",
        "node",
        "sim-node-2",
        "-o",
        "jsonpath={.status.allocatable.cpu} {.status.allocatable.memory}",
    ]);
    assert_eq!(cpu.trim(), "7910m 30Gi");
    let secrets = sim.ok(&["get", "secrets", "-n", NS]);
    assert_eq!(
        header(&secrets),
        ["NAME", "TYPE", "DATA", "AGE"],
        "{secrets}"
    );
    assert_eq!(
        &rows(&secrets)[0][..3],
        ["web-tls", "Opaque", "1"],
        "{secrets}"
    );
    let name = sim.ok(&["get", "secret", "web-tls", "-n", NS, "-o", "name"]);
    assert_eq!(name.trim(), "secret/web-tls");
    let v = sim.ok(&["version", "-o", "json"]);
    let v: Value = serde_json::from_str(&v).unwrap();
    assert_eq!(str_at(&v, "/serverVersion/gitVersion"), "v1.32.0");
}

/// `kubectl logs` reads a pod's log from the simulator: the whole of it, its tail, and,
/// for a container that never started, the kubelet's refusal.
#[test]
fn logs_of_a_running_pod_and_of_one_that_never_started() {
    let Some(sim) = Sim::start(&scenario("600s", ""), &[]) else {
        return;
    };
    sim.wait_deploy("web", "the stable rollout", complete_by_kubectl_rules);
    let pods = sim.json(&["get", "pods", "-l", "track=stable"]);
    let name = str_at(&pods, "/items/0/metadata/name").to_string();
    let all = sim.ok(&["logs", &name]);
    let first = all.lines().next().unwrap_or_default();
    assert!(
        first.ends_with(&format!("INFO web v1 starting (pod {name})")),
        "{all}"
    );
    // Requests follow, one every two seconds once it runs.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !sim.ok(&["logs", &name]).contains("GET /api/orders 200") {
        assert!(Instant::now() < deadline, "no request logged");
        std::thread::sleep(Duration::from_millis(200));
    }
    let tail = sim.ok(&["logs", &name, "--tail", "2"]);
    assert_eq!(tail.lines().count(), 2, "{tail}");
    assert!(
        tail.lines().all(|l| l.contains(" /api/orders ")),
        "the last lines are the latest requests: {tail}"
    );
    // An image that cannot be pulled: the container never started, and has no log.
    sim.ok(&[
        "set",
        "image",
        "deploy/web-canary",
        "web=registry.local/web:nope",
    ]);
    sim.ok(&["scale", "deploy/web-canary", "--replicas=1"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let canary = loop {
        let pods = sim.json(&["get", "pods", "-l", "track=canary"]);
        if let Some(n) = pods["items"][0]["metadata"]["name"].as_str() {
            break n.to_string();
        }
        assert!(Instant::now() < deadline, "no canary pod");
        std::thread::sleep(Duration::from_millis(200));
    };
    let out = sim.kubectl(&["logs", &canary]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "container \"web\" in pod \"{canary}\" is waiting to start:"
        )),
        "{}",
        out.stderr
    );
}

/// The built-in release scenario of three services (erp-backend, erp-frontend, and the
/// worker erp-worker), as it ships.
#[test]
fn a_release_of_three_services_through_kubectl() {
    let Some(sim) = Sim::start(include_str!("../assets/scenarios/erp-release.yaml"), &[]) else {
        return;
    };
    let deploys = sim.ok(&["get", "deploy"]);
    let mut ready: Vec<(&str, &str)> = rows(&deploys).iter().map(|r| (r[0], r[1])).collect();
    ready.sort();
    assert_eq!(
        ready,
        [
            ("erp-backend", "10/10"),
            ("erp-backend-canary", "0/0"),
            ("erp-frontend", "6/6"),
            ("erp-frontend-canary", "0/0"),
            ("erp-worker", "4/4"),
            ("erp-worker-canary", "0/0"),
        ],
        "{deploys}"
    );
    let wide = sim.ok(&["get", "deploy", "-o", "wide"]);
    let row = rows(&wide)
        .into_iter()
        .find(|r| r[0] == "erp-frontend-canary")
        .unwrap_or_else(|| panic!("{wide}"));
    assert_eq!(
        row[5..],
        [
            "erp-frontend",
            "registry.local/erp-frontend:v2.4.0",
            "app=erp-frontend,track=canary"
        ],
        "{wide}"
    );

    // The front end's canary: scaled, rolled out, its pod running the new build.
    let out = sim.ok(&["scale", "deploy/erp-frontend-canary", "--replicas=1"]);
    assert_eq!(out.trim(), "deployment.apps/erp-frontend-canary scaled");
    let status = sim.kubectl(&[
        "rollout",
        "status",
        "deploy/erp-frontend-canary",
        "--timeout=120s",
    ]);
    assert_eq!(status.code, Some(0), "{status:?}");
    assert!(
        status
            .stdout
            .contains("deployment \"erp-frontend-canary\" successfully rolled out"),
        "{status:?}"
    );
    let canary = sim.ok(&["get", "deploy", "erp-frontend-canary"]);
    assert_eq!(
        &rows(&canary)[0][..2],
        ["erp-frontend-canary", "1/1"],
        "{canary}"
    );
    let canary_pods = sim.json(&["get", "pods", "-l", "app=erp-frontend,track=canary"]);
    let items = canary_pods["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{canary_pods:#}");
    assert_eq!(
        str_at(&items[0], "/spec/containers/0/image"),
        "registry.local/erp-frontend:v2.4.0"
    );
    assert_eq!(str_at(&items[0], "/status/phase"), "Running");

    // A label selects one service's pods alone.
    let workers = sim.ok(&["get", "pods", "-l", "app=erp-worker"]);
    let worker_rows = rows(&workers);
    assert_eq!(worker_rows.len(), 4, "{workers}");
    for r in &worker_rows {
        assert!(
            r[0].starts_with("erp-worker-") && !r[0].starts_with("erp-worker-canary"),
            "{workers}"
        );
        assert_eq!(&r[1..3], ["1/1", "Running"], "{workers}");
    }
    let labels = sim.ok(&["get", "pods", "-l", "app=erp-worker", "--show-labels"]);
    assert!(
        rows(&labels)
            .iter()
            .all(|r| r.last().unwrap().starts_with("app=erp-worker,")),
        "{labels}"
    );
    let all = sim.ok(&["get", "pods"]);
    assert_eq!(rows(&all).len(), 10 + 6 + 1 + 4, "{all}");

    // A worker's log is its jobs, not requests.
    let log = sim.ok(&["logs", worker_rows[0][0]]);
    assert!(log.contains("erp-worker v0.9.3 starting"), "{log}");
    assert!(log.contains("taking jobs from the queue"), "{log}");
}
