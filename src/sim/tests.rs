//! End-to-end tests of the simulator over HTTP, with reqwest and with kube-rs (the client
//! the console uses).

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use super::store::{now, parse_time};
use super::{SimHandle, start};
use crate::runbook::{Dur, Scenario, parse_scenario};

const NS: &str = "erp-production";
const DEPLOYS: &str = "/apis/apps/v1/namespaces/erp-production/deployments";
const PODS: &str = "/api/v1/namespaces/erp-production/pods";
const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/// The default scenario with a fast clock: pods start and get ready in 100 ms each.
fn fast_scenario() -> Scenario {
    let mut s = parse_scenario(include_str!("../../assets/scenarios/default.yaml")).unwrap();
    s.timing.tick_ms = 20;
    s.timing.terminate = Dur(Duration::from_millis(100));
    for b in s.versions.values_mut() {
        b.start = Dur(Duration::from_millis(100));
        b.ready = Dur(Duration::from_millis(100));
    }
    s
}

async fn fast_sim() -> SimHandle {
    start(fast_scenario(), 0, 0).await.unwrap()
}

struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    fn new(sim: &SimHandle) -> Http {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Http {
            client: reqwest::Client::new(),
            base: sim.kube_url.clone(),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = req.send().await.unwrap();
        let code = resp.status().as_u16();
        let body = resp.bytes().await.unwrap();
        (code, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    async fn patch(&self, path: &str, content_type: &str, body: Value) -> (u16, Value) {
        let req = self
            .client
            .patch(format!("{}{path}", self.base))
            .header("Content-Type", content_type)
            .body(body.to_string());
        self.send(req).await
    }

    /// Opens a watch; events come from `Watch::next`.
    async fn watch(&self, path: &str, accept: &str) -> Watch {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .header("Accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        Watch {
            content_type: resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
            resp,
            buf: Vec::new(),
        }
    }
}

struct Watch {
    resp: reqwest::Response,
    buf: Vec<u8>,
    content_type: String,
}

impl Watch {
    /// The next event, or None when the server ended the stream.
    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Some(serde_json::from_slice(&line).unwrap());
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.resp.chunk())
                .await
                .expect("a watch event within 20s")
                .unwrap()?;
            self.buf.extend_from_slice(&chunk);
        }
    }
}

fn rv_of(v: &Value) -> &str {
    v["metadata"]["resourceVersion"].as_str().unwrap()
}

/// The stable Deployment's pods (the canary's names share its prefix; the label does not).
fn stable_pods(pods: &[Value]) -> Vec<&Value> {
    pods.iter()
        .filter(|p| p["metadata"]["labels"]["track"] == "stable")
        .collect()
}

fn is_ready(p: &Value) -> bool {
    p["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

fn terminating(p: &Value) -> bool {
    p["metadata"].get("deletionTimestamp").is_some()
}

fn revision(o: &Value) -> &str {
    o["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        .as_str()
        .unwrap_or("")
}

/// `kubectl rollout status`'s verdict: done when every replica is updated and available.
fn rolled_out(d: &Value) -> bool {
    let n = |p: &str| d.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    n("/metadata/generation") <= n("/status/observedGeneration")
        && n("/status/updatedReplicas") == n("/spec/replicas")
        && n("/status/replicas") == n("/status/updatedReplicas")
        && n("/status/availableReplicas") == n("/status/updatedReplicas")
}

async fn wait_until(sim: &SimHandle, what: &str, mut f: impl FnMut(&SimHandle) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !f(sim) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_deployments_with_selectors_and_errors() {
    let sim = fast_sim().await;
    let http = Http::new(&sim);

    let (code, list) = http.get(DEPLOYS).await;
    assert_eq!(code, 200);
    assert_eq!(list["kind"], "DeploymentList");
    assert_eq!(list["apiVersion"], "apps/v1");
    assert!(rv_of(&list).parse::<u64>().unwrap() > 0);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let stable = &items[0];
    assert_eq!(stable["kind"], "Deployment");
    assert_eq!(stable["metadata"]["name"], "erp-backend");
    assert_eq!(
        stable["status"]["readyReplicas"], 10,
        "the demo starts healthy"
    );
    assert_eq!(revision(stable), "1");
    assert!(rolled_out(stable));
    let age =
        now() - parse_time(stable["metadata"]["creationTimestamp"].as_str().unwrap()).unwrap();
    assert!(age > 60.0, "created minutes ago, not now");

    let (_, all) = http.get("/apis/apps/v1/deployments").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let (_, canary) = http
        .get(&format!("{DEPLOYS}?labelSelector=track%3Dcanary"))
        .await;
    assert_eq!(canary["items"][0]["metadata"]["name"], "erp-backend-canary");
    let (_, one) = http
        .get(&format!(
            "{DEPLOYS}?fieldSelector=metadata.name%3Derp-backend"
        ))
        .await;
    assert_eq!(one["items"].as_array().unwrap().len(), 1);
    let (_, none) = http
        .get(&format!(
            "{DEPLOYS}?labelSelector=track+notin+(stable,canary)"
        ))
        .await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0);

    let (code, status) = http.get(&format!("{DEPLOYS}/nope")).await;
    assert_eq!(code, 404);
    assert_eq!(
        status,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "deployments.apps \"nope\" not found", "reason": "NotFound",
               "details": {"name": "nope", "group": "apps", "kind": "deployments"}, "code": 404})
    );
    let (code, _) = http
        .get("/apis/apps/v1/namespaces/erp-production/statefulsets")
        .await;
    assert_eq!(code, 404);

    let (_, pods) = http.get(PODS).await;
    let pods = pods["items"].as_array().unwrap();
    assert_eq!(pods.len(), 10);
    assert!(pods.iter().all(is_ready));
    assert!(pods.iter().all(|p| p["status"]["phase"] == "Running"));

    let (_, version) = http.get("/version").await;
    assert_eq!(version["minor"], "32");
    let (_, apps) = http.get("/apis/apps/v1").await;
    let names: Vec<&str> = apps["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"deployments/scale"));
    assert!(names.contains(&"replicasets"));

    assert!(sim.requests().iter().all(|(m, _)| m == "GET"), "reads only");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_patch_of_replicas_is_seen_by_a_watch() {
    let sim = fast_sim().await;
    let http = Http::new(&sim);
    let (_, list) = http
        .get(&format!(
            "{DEPLOYS}?fieldSelector=metadata.name%3Derp-backend"
        ))
        .await;
    let rv = rv_of(&list).to_string();
    let mut watch = http
        .watch(
            &format!("{DEPLOYS}?watch=1&fieldSelector=metadata.name%3Derp-backend&resourceVersion={rv}&allowWatchBookmarks=true"),
            "application/json",
        )
        .await;
    assert_eq!(watch.content_type, "application/json");

    let (code, d) = http
        .patch(
            &format!("{DEPLOYS}/erp-backend"),
            "application/merge-patch+json",
            json!({"spec": {"replicas": 4}}),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(d["spec"]["replicas"], 4);
    assert_eq!(d["metadata"]["generation"], 2);

    loop {
        let ev = watch.next().await.expect("the watch stays open");
        if ev["type"] == "BOOKMARK" {
            continue;
        }
        assert_eq!(ev["type"], "MODIFIED");
        assert_eq!(
            ev["object"]["metadata"]["name"], "erp-backend",
            "filtered by field selector"
        );
        let o = &ev["object"];
        if o["status"]["replicas"] == 4 && rolled_out(o) {
            break;
        }
    }
    wait_until(&sim, "terminated pods to go", |s| {
        stable_pods(&s.pods()).len() == 4
    })
    .await;
    let rss = sim.replicasets();
    let rs = rss
        .iter()
        .find(|r| r["metadata"]["labels"]["track"] == "stable")
        .unwrap();
    assert_eq!(rs["spec"]["replicas"], 4);
    assert_eq!(revision(rs), "1", "scaling is not a new revision");

    // The scale subresource does the same, and a stale resourceVersion is a conflict.
    let (code, scale) = http
        .patch(
            &format!("{DEPLOYS}/erp-backend/scale"),
            "application/merge-patch+json",
            json!({"spec": {"replicas": 6}}),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 6);
    assert_eq!(scale["status"]["selector"], "app=erp-backend,track=stable");
    let (code, conflict) = http
        .patch(
            &format!("{DEPLOYS}/erp-backend"),
            "application/merge-patch+json",
            json!({"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 2}}),
        )
        .await;
    assert_eq!(code, 409);
    assert_eq!(conflict["reason"], "Conflict");
    let (code, dry) = http
        .patch(
            &format!("{DEPLOYS}/erp-backend?dryRun=All"),
            "application/merge-patch+json",
            json!({"spec": {"replicas": 1}}),
        )
        .await;
    assert_eq!((code, &dry["spec"]["replicas"]), (200, &json!(1)));
    assert_eq!(
        sim.deployment("erp-backend").unwrap()["spec"]["replicas"],
        6,
        "a dry run stores nothing"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_image_rolls_within_max_unavailable_and_undo_restores_revision_one() {
    let sim = fast_sim().await;
    let http = Http::new(&sim);
    let set_image = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "erp-backend"}],
        "containers": [{"image": "registry.local/erp-backend:v1.0.0", "name": "erp-backend"}]}}}});
    let (code, d) = http
        .patch(
            &format!("{DEPLOYS}/erp-backend?fieldManager=kubectl-set"),
            "application/strategic-merge-patch+json",
            set_image,
        )
        .await;
    assert_eq!(code, 200, "{d}");
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "registry.local/erp-backend:v1.0.0");
    assert_eq!(
        c["readinessProbe"]["httpGet"]["path"], "/healthz",
        "strategic merge keeps the rest"
    );

    // Sample every tick: never fewer than 10 - 2 ready pods, never more than 10 + 3 pods.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut saw_surge = false;
    loop {
        let pods = sim.pods();
        let live: Vec<&Value> = stable_pods(&pods)
            .into_iter()
            .filter(|p| !terminating(p))
            .collect();
        let ready = live.iter().filter(|p| is_ready(p)).count();
        assert!(ready >= 8, "only {ready} ready pods during the rollout");
        assert!(live.len() <= 13, "{} pods exceed maxSurge", live.len());
        saw_surge |= live.len() > 10;
        let d = sim.deployment("erp-backend").unwrap();
        if rolled_out(&d) && revision(&d) == "2" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rollout did not finish"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(saw_surge, "the rollout surged");
    let rss = sim.replicasets();
    let stable: Vec<&Value> = rss
        .iter()
        .filter(|r| r["metadata"]["labels"]["track"] == "stable")
        .collect();
    assert_eq!(stable.len(), 2);
    let old = stable.iter().find(|r| revision(r) == "1").unwrap();
    let new = stable.iter().find(|r| revision(r) == "2").unwrap();
    assert_eq!(old["spec"]["replicas"], 0);
    assert_eq!(new["spec"]["replicas"], 10);
    assert_eq!(
        new["metadata"]["annotations"]["kubernetes.io/change-cause"],
        "initial deploy of registry.local/erp-backend:v0.9.3",
        "deployment annotations are copied"
    );
    let d = sim.deployment("erp-backend").unwrap();
    let progressing = d["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Progressing")
        .unwrap();
    assert_eq!(progressing["reason"], "NewReplicaSetAvailable");

    // `kubectl rollout undo`: the old template, hash label removed, and its annotations.
    let mut template = old["spec"]["template"].clone();
    template["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("pod-template-hash");
    // kubectl's Go types serialize the empty timestamp as null.
    template["metadata"]["creationTimestamp"] = Value::Null;
    let mut annotations = old["metadata"]["annotations"].as_object().unwrap().clone();
    for k in [
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
    ] {
        annotations.remove(k);
    }
    annotations.insert("deployment.kubernetes.io/revision".into(), json!("2"));
    let undo = json!([
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]);
    let (code, d) = http
        .patch(
            &format!("{DEPLOYS}/erp-backend"),
            "application/json-patch+json",
            undo,
        )
        .await;
    assert_eq!(code, 200, "{d}");
    wait_until(&sim, "the undo to roll out", |s| {
        let d = s.deployment("erp-backend").unwrap();
        rolled_out(&d) && revision(&d) == "3"
    })
    .await;
    let rss = sim.replicasets();
    let back = rss
        .iter()
        .find(|r| r["metadata"]["name"] == old["metadata"]["name"])
        .unwrap();
    assert_eq!(revision(back), "3");
    assert_eq!(
        back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"],
        "1"
    );
    assert_eq!(back["spec"]["replicas"], 10);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_resource_version_gets_410_and_initial_events_end_with_a_bookmark() {
    let sim = fast_sim().await;
    let http = Http::new(&sim);
    sim.sim().write(|c| c.store.set_history_limit(3));
    for n in [3, 4, 5, 6] {
        http.patch(
            &format!("{DEPLOYS}/erp-backend"),
            "application/merge-patch+json",
            json!({"spec": {"replicas": n}}),
        )
        .await;
    }
    let mut w = http
        .watch(
            &format!("{DEPLOYS}?watch=true&resourceVersion=1"),
            "application/json",
        )
        .await;
    let ev = w.next().await.unwrap();
    assert_eq!(ev["type"], "ERROR");
    assert_eq!(ev["object"]["code"], 410);
    assert_eq!(ev["object"]["reason"], "Expired");
    assert!(w.next().await.is_none(), "the stream ends after the error");

    let mut w = http
        .watch(&format!("{DEPLOYS}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"), "application/json")
        .await;
    let a = w.next().await.unwrap();
    let b = w.next().await.unwrap();
    assert_eq!(
        (a["type"].as_str(), b["type"].as_str()),
        (Some("ADDED"), Some("ADDED"))
    );
    let end = w.next().await.unwrap();
    assert_eq!(end["type"], "BOOKMARK");
    assert_eq!(
        end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert_eq!(end["object"]["kind"], "Deployment");

    let mut w = http
        .watch(
            &format!("{DEPLOYS}?watch=true&timeoutSeconds=1"),
            "application/json",
        )
        .await;
    assert_eq!(w.next().await.unwrap()["type"], "ADDED");
    assert_eq!(w.next().await.unwrap()["type"], "ADDED");
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while w.next().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "timeoutSeconds ends the watch");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_as_tables_for_get_and_watch() {
    let sim = fast_sim().await;
    let http = Http::new(&sim);
    let resp = http
        .client
        .get(format!("{}{PODS}?limit=500", http.base))
        .header("Accept", TABLE)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["content-type"],
        "application/json;as=Table;v=v1;g=meta.k8s.io"
    );
    let t: Value = resp.json().await.unwrap();
    assert_eq!(t["kind"], "Table");
    let columns: Vec<(&str, i64)> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["priority"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        columns,
        [
            ("Name", 0),
            ("Ready", 0),
            ("Status", 0),
            ("Restarts", 0),
            ("Age", 0),
            ("IP", 1),
            ("Node", 1),
            ("Nominated Node", 1),
            ("Readiness Gates", 1)
        ]
    );
    let rows = t["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    let cells = &rows[0]["cells"];
    assert_eq!(cells[1], "1/1");
    assert_eq!(cells[2], "Running");
    assert_eq!(cells[3], "0");
    assert!(
        cells[4].as_str().unwrap().starts_with('5'),
        "about 5m old: {}",
        cells[4]
    );
    assert!(cells[5].as_str().unwrap().starts_with("10.0."));
    assert!(cells[6].as_str().unwrap().starts_with("sim-node-"));
    assert_eq!(rows[0]["object"]["kind"], "PartialObjectMetadata");
    let rv = rv_of(&t).to_string();

    let mut w = http
        .watch(&format!("{PODS}?watch=1&resourceVersion={rv}"), TABLE)
        .await;
    http.patch(
        &format!("{DEPLOYS}/erp-backend"),
        "application/merge-patch+json",
        json!({"spec": {"replicas": 11}}),
    )
    .await;
    let first = w.next().await.unwrap();
    assert_eq!(first["type"], "ADDED");
    assert_eq!(first["object"]["kind"], "Table");
    assert_eq!(
        first["object"]["columnDefinitions"]
            .as_array()
            .unwrap()
            .len(),
        9
    );
    assert_eq!(first["object"]["rows"].as_array().unwrap().len(), 1);
    assert_eq!(
        first["object"]["rows"][0]["cells"][2], "Pending",
        "not scheduled yet"
    );
    let second = w.next().await.unwrap();
    assert_eq!(
        second["object"]["columnDefinitions"],
        json!([]),
        "columns are sent once"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_watchers_and_patches_work() {
    use k8s_openapi::api::apps::v1::Deployment;
    use kube::api::{Api, Patch, PatchParams};
    use kube::runtime::watcher::{self, Event};

    let sim = fast_sim().await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&path).unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    assert_eq!(config.default_namespace, NS);
    let client = kube::Client::try_from(config).unwrap();
    let api: Api<Deployment> = Api::default_namespaced(client);

    for config in [
        watcher::Config::default(),
        watcher::Config::default().streaming_lists(),
    ] {
        let mut events =
            watcher::watcher(api.clone(), config.fields("metadata.name=erp-backend")).boxed();
        let mut initial = Vec::new();
        loop {
            match events.next().await.unwrap().unwrap() {
                Event::Init => {}
                Event::InitApply(d) => initial.push(d),
                Event::InitDone => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(initial.len(), 1);
        let replicas = initial[0].spec.as_ref().unwrap().replicas.unwrap() + 1;
        api.patch_scale(
            "erp-backend",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": replicas}})),
        )
        .await
        .unwrap();
        loop {
            match tokio::time::timeout(Duration::from_secs(20), events.next())
                .await
                .unwrap()
            {
                Some(Ok(Event::Apply(d))) => {
                    let status = d.status.unwrap_or_default();
                    if status.ready_replicas == Some(replicas) && status.replicas == Some(replicas)
                    {
                        break;
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    let d = api
        .patch(
            "erp-backend",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"paused": true}})),
        )
        .await
        .unwrap();
    assert_eq!(d.spec.unwrap().paused, Some(true));

    // kube-rs's event recorder creates an events.k8s.io Event, then merge-patches its series.
    use kube::Resource as _;
    use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
    let recorder = Recorder::new(
        api.clone().into_client(),
        Reporter {
            controller: "warroom".into(),
            instance: None,
        },
    );
    let reference = api.get("erp-backend").await.unwrap().object_ref(&());
    let ev = KubeEvent {
        type_: EventType::Normal,
        reason: "StageStarted".into(),
        note: Some("canary at 10%".into()),
        action: "Promote".into(),
        secondary: None,
    };
    recorder.publish(&ev, &reference).await.unwrap();
    recorder.publish(&ev, &reference).await.unwrap();
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(api.into_client(), NS);
    let list = events.list(&Default::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].series.as_ref().unwrap().count, 2);
    wait_until(&sim, "the paused condition", |s| {
        let d = s.deployment("erp-backend").unwrap();
        d["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["reason"] == "DeploymentPaused")
    })
    .await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_can_be_written_and_listed_and_pods_deleted() {
    let sim = fast_sim().await;
    let http = Http::new(&sim);
    let event = json!({
        "metadata": {"name": "warroom.1", "namespace": NS},
        "involvedObject": {"kind": "Deployment", "name": "erp-backend", "namespace": NS},
        "reason": "StageStarted", "message": "canary 10%", "type": "Normal",
        "source": {"component": "warroom"},
    });
    let resp = http
        .client
        .post(format!("{}/api/v1/namespaces/{NS}/events", http.base))
        .header("Content-Type", "application/json")
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let (_, list) = http
        .get(&format!("/api/v1/namespaces/{NS}/events?fieldSelector=involvedObject.name%3Derp-backend,reason%3DStageStarted"))
        .await;
    assert_eq!(list["kind"], "EventList");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["message"], "canary 10%");

    let name = sim.pods()[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = http
        .client
        .delete(format!("{}{PODS}/{name}", http.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let pod: Value = resp.json().await.unwrap();
    assert!(terminating(&pod));
    wait_until(&sim, "the pod to be replaced and removed", |s| {
        let pods = s.pods();
        pods.len() == 10
            && pods.iter().all(|p| p["metadata"]["name"] != name.as_str())
            && pods.iter().all(is_ready)
    })
    .await;
    sim.shutdown().await;
}

impl Http {
    async fn send_json(&self, method: reqwest::Method, path: &str, body: &Value) -> (u16, Value) {
        let req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .body(body.to_string());
        self.send(req).await
    }
}

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/erp-production/leases";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_take_optimistic_concurrency_like_the_api_server() {
    let sim = fast_sim().await;
    let http = Http::new(&sim);
    let (code, missing) = http.get(&format!("{LEASES}/warroom-erp")).await;
    assert_eq!(code, 404);
    assert_eq!(
        missing,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "leases.coordination.k8s.io \"warroom-erp\" not found", "reason": "NotFound",
               "details": {"name": "warroom-erp", "group": "coordination.k8s.io", "kind": "leases"}, "code": 404})
    );
    let lease = json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "warroom-erp", "namespace": NS},
        "spec": {"holderIdentity": "alice", "leaseDurationSeconds": 30, "acquireTime": "2026-01-01T00:00:00.000000Z"},
    });
    let (code, created) = http.send_json(reqwest::Method::POST, LEASES, &lease).await;
    assert_eq!(code, 201, "{created}");
    let rv1 = rv_of(&created).to_string();
    let (code, again) = http.send_json(reqwest::Method::POST, LEASES, &lease).await;
    assert_eq!(
        (code, again["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );

    // Renew with the current resourceVersion: accepted, and the version moves.
    let mut renew = created.clone();
    renew["spec"]["renewTime"] = json!("2026-01-01T00:00:10.000000Z");
    let (code, renewed) = http
        .send_json(
            reqwest::Method::PUT,
            &format!("{LEASES}/warroom-erp"),
            &renew,
        )
        .await;
    assert_eq!(code, 200, "{renewed}");
    let rv2 = rv_of(&renewed).to_string();
    assert_ne!(rv1, rv2);
    assert_eq!(renewed["spec"]["renewTime"], "2026-01-01T00:00:10.000000Z");

    // A second console writing from the stale version loses.
    let mut steal = created.clone();
    steal["spec"]["holderIdentity"] = json!("bob");
    let (code, conflict) = http
        .send_json(
            reqwest::Method::PUT,
            &format!("{LEASES}/warroom-erp"),
            &steal,
        )
        .await;
    assert_eq!(code, 409);
    assert_eq!(
        conflict,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "Operation cannot be fulfilled on leases.coordination.k8s.io \"warroom-erp\": the object has been modified; please apply your changes to the latest version and try again",
               "reason": "Conflict",
               "details": {"name": "warroom-erp", "group": "coordination.k8s.io", "kind": "leases"}, "code": 409})
    );
    let (_, now_stored) = http.get(&format!("{LEASES}/warroom-erp")).await;
    assert_eq!(now_stored["spec"]["holderIdentity"], "alice");
    assert_eq!(rv_of(&now_stored), rv2);
    let (_, list) = http.get(LEASES).await;
    assert_eq!(list["kind"], "LeaseList");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_lets_granted_requests_through_and_forbids_the_rest() {
    let rules = crate::runbook::scenario::parse_role_rules(
        "kind: Role
metadata: {name: warroom, namespace: erp-production}
rules:
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch]
- apiGroups: [apps]
  resources: [deployments/scale]
  resourceNames: [erp-backend-canary]
  verbs: [get, patch]
",
    )
    .unwrap();
    let sim = super::start_with(
        fast_scenario(),
        super::Options {
            rbac: Some(rules),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let http = Http::new(&sim);
    assert_eq!(http.get("/apis").await.0, 200, "discovery stays open");
    assert_eq!(http.get("/apis/apps/v1").await.0, 200);
    assert_eq!(http.get("/version").await.0, 200);
    let (code, list) = http.get(DEPLOYS).await;
    assert_eq!(code, 200, "{list}");
    let (code, _) = http
        .patch(
            &format!("{DEPLOYS}/erp-backend-canary/scale"),
            "application/merge-patch+json",
            json!({"spec": {"replicas": 1}}),
        )
        .await;
    assert_eq!(code, 200);

    let (code, denied) = http
        .patch(
            &format!("{DEPLOYS}/erp-backend"),
            "application/merge-patch+json",
            json!({"spec": {"replicas": 1}}),
        )
        .await;
    assert_eq!(code, 403);
    assert_eq!(
        denied,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \"erp-backend\" is forbidden: User \"warroom\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"erp-production\"","reason":"Forbidden","details":{"name":"erp-backend","group":"apps","kind":"deployments"},"code":403})
    );
    let (code, scale) = http
        .patch(
            &format!("{DEPLOYS}/erp-backend/scale"),
            "application/merge-patch+json",
            json!({"spec": {"replicas": 1}}),
        )
        .await;
    assert_eq!(code, 403);
    assert!(
        scale["message"]
            .as_str()
            .unwrap()
            .contains("cannot patch resource \"deployments/scale\""),
        "{scale}"
    );
    let (code, pods) = http.get(PODS).await;
    assert_eq!(code, 403);
    assert_eq!(
        pods["message"],
        "pods is forbidden: User \"warroom\" cannot list resource \"pods\" in API group \"\" in the namespace \"erp-production\""
    );
    // Nothing that was denied changed anything.
    assert_eq!(
        sim.deployment("erp-backend").unwrap()["spec"]["replicas"],
        10
    );

    let decisions = sim.decisions();
    let decided = |method: &str, path: &str| {
        decisions
            .iter()
            .find(|(m, p, _)| m == method && p == path)
            .map(|d| d.2)
    };
    assert_eq!(decided("GET", DEPLOYS), Some(true));
    assert_eq!(
        decided("PATCH", &format!("{DEPLOYS}/erp-backend")),
        Some(false)
    );
    assert_eq!(decided("GET", PODS), Some(false));
    assert_eq!(decided("GET", "/apis"), Some(true));
    sim.shutdown().await;
}

/// The gateway scenario with the fast clock of `fast_scenario`.
fn fast_gateway_scenario() -> Scenario {
    let mut s = parse_scenario(include_str!("../../assets/scenarios/gateway.yaml")).unwrap();
    let fast = fast_scenario();
    s.timing = fast.timing;
    s.versions = fast.versions;
    s
}

const ROUTES: &str = "/apis/gateway.networking.k8s.io/v1/namespaces/erp-production/httproutes";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_scenario_routes_by_httproute_weights_and_takes_patches() {
    use crate::runbook::scenario::TrafficSplit;
    let scenario = fast_gateway_scenario();
    assert_eq!(scenario.traffic.split, TrafficSplit::Gateway);
    let sim = start(scenario, 0, 0).await.unwrap();
    let http = Http::new(&sim);

    for (name, track) in [("erp-backend", "stable"), ("erp-backend-canary", "canary")] {
        let svc = sim.service(name).unwrap();
        assert_eq!(svc["apiVersion"], "v1");
        assert_eq!(
            svc["spec"]["selector"],
            json!({"app": "erp-backend", "track": track})
        );
        assert_eq!(svc["spec"]["ports"][0]["port"], 80);
    }
    let (code, svcs) = http.get("/api/v1/namespaces/erp-production/services").await;
    assert_eq!((code, svcs["kind"].as_str()), (200, Some("ServiceList")));
    assert_eq!(svcs["items"].as_array().unwrap().len(), 2);

    let route = sim.httproute("erp-backend").unwrap();
    assert_eq!(
        route["spec"]["rules"][0]["backendRefs"],
        json!([
            {"group": "", "kind": "Service", "name": "erp-backend", "port": 80, "weight": 100},
            {"group": "", "kind": "Service", "name": "erp-backend-canary", "port": 80, "weight": 0},
        ])
    );
    // The canary is up from the start: weight, not replicas, carries its traffic.
    let canary = sim.deployment("erp-backend-canary").unwrap();
    assert_eq!(canary["spec"]["replicas"], 2);
    assert_eq!(canary["status"]["readyReplicas"], 2);
    let split = |sim: &SimHandle| sim.sim().read(|c| c.traffic_split());
    let w = split(&sim).unwrap();
    assert_eq!((w["stable"], w["canary"]), (100.0, 0.0));

    // What kube-rs sends to shift weight: a merge patch of the rules.
    let (code, patched) = http
        .patch(
            &format!("{ROUTES}/erp-backend"),
            "application/merge-patch+json",
            json!({"spec": {"rules": [{"backendRefs": [
                {"name": "erp-backend", "port": 80, "weight": 90},
                {"name": "erp-backend-canary", "port": 80, "weight": 10},
            ]}]}}),
        )
        .await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["metadata"]["generation"], 2);
    let w = split(&sim).unwrap();
    assert_eq!((w["stable"], w["canary"]), (90.0, 10.0));
    let (code, patched) = http
        .patch(
            &format!("{ROUTES}/erp-backend"),
            "application/json-patch+json",
            json!([
                {"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 50},
                {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": 50},
            ]),
        )
        .await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(
        sim.httproute("erp-backend").unwrap()["spec"]["rules"][0]["backendRefs"][1]["weight"],
        50
    );
    let w = split(&sim).unwrap();
    assert_eq!((w["stable"], w["canary"]), (50.0, 50.0));

    // GET, LIST and WATCH of routes.
    let (code, got) = http.get(&format!("{ROUTES}/erp-backend")).await;
    assert_eq!((code, got["kind"].as_str()), (200, Some("HTTPRoute")));
    let (_, list) = http.get(ROUTES).await;
    assert_eq!(list["kind"], "HTTPRouteList");
    let mut watch = http
        .watch(
            &format!("{ROUTES}?watch=true&resourceVersion={}", rv_of(&got)),
            "application/json",
        )
        .await;
    http.patch(
        &format!("{ROUTES}/erp-backend"),
        "application/merge-patch+json",
        json!({"metadata": {"labels": {"shifted": "yes"}}}),
    )
    .await;
    let ev = watch.next().await.unwrap();
    assert_eq!(ev["type"], "MODIFIED");
    assert_eq!(ev["object"]["metadata"]["labels"]["shifted"], "yes");

    // Without the route, traffic follows ready pods again.
    let resp = http
        .client
        .delete(format!("{}{ROUTES}/erp-backend", http.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(split(&sim), None);
    sim.shutdown().await;
}

/// Requests per track (and code) over `secs` one-second steps from fresh counters.
fn requests_by(
    pods: &[super::metrics::PodSample],
    split: Option<&std::collections::BTreeMap<String, f64>>,
    secs: u32,
) -> std::collections::BTreeMap<(String, String), f64> {
    let mut s = fast_gateway_scenario();
    s.noise = 0.0;
    let mut m = super::metrics::MetricsSim::new(&s);
    for t in 1..=secs {
        m.step_split(1_700_000_000.0 + f64::from(t), 1.0, pods, split);
    }
    let mut by = std::collections::BTreeMap::new();
    for line in m.exposition().lines() {
        let Some(rest) = line.strip_prefix("http_requests_total{") else {
            continue;
        };
        let (labels, value) = rest.rsplit_once("} ").unwrap();
        let label = |k: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{k}=\"")))
                .map(|v| v.trim_end_matches('"').to_string())
                .unwrap_or_default()
        };
        *by.entry((label("track"), label("code"))).or_insert(0.0) += value.parse::<f64>().unwrap();
    }
    by
}

#[test]
fn traffic_share_follows_the_route_weights_not_the_replicas() {
    use super::metrics::PodSample;
    let pod = |name: &str, track: &str, ready: bool| PodSample {
        name: name.into(),
        app: "erp-backend".into(),
        track: track.into(),
        version: if track == "stable" {
            "v0.9.3"
        } else {
            "v1.0.0"
        }
        .into(),
        ready,
        restarts: 0,
    };
    // Ten stable pods, two canary pods: by replicas the canary would get 1/6.
    let mut pods: Vec<PodSample> = (0..10)
        .map(|i| pod(&format!("s{i}"), "stable", true))
        .collect();
    pods.push(pod("c0", "canary", true));
    pods.push(pod("c1", "canary", true));
    let weights = |s: f64, c: f64| {
        std::collections::BTreeMap::from([("stable".to_string(), s), ("canary".to_string(), c)])
    };
    let total = |by: &std::collections::BTreeMap<(String, String), f64>, track: &str| {
        by.iter()
            .filter(|((t, _), _)| t == track)
            .map(|(_, v)| v)
            .sum::<f64>()
    };
    let share = |by: &std::collections::BTreeMap<(String, String), f64>| {
        total(by, "canary") / (total(by, "canary") + total(by, "stable"))
    };
    let by_replicas = requests_by(&pods, None, 10);
    assert!(
        (share(&by_replicas) - 2.0 / 12.0).abs() < 1e-6,
        "{by_replicas:?}"
    );
    let w0 = requests_by(&pods, Some(&weights(100.0, 0.0)), 10);
    assert_eq!(total(&w0, "canary"), 0.0, "{w0:?}");
    assert!(
        (total(&w0, "stable") - 4000.0).abs() < 1e-3,
        "400 rps for 10 s: {w0:?}"
    );
    let w10 = requests_by(&pods, Some(&weights(90.0, 10.0)), 10);
    assert!((share(&w10) - 0.1).abs() < 1e-6, "{w10:?}");
    let w50 = requests_by(&pods, Some(&weights(1.0, 1.0)), 10);
    assert!((share(&w50) - 0.5).abs() < 1e-6, "{w50:?}");

    // A weighted track without ready pods: its share comes back as 503s.
    for p in pods.iter_mut().filter(|p| p.track == "canary") {
        p.ready = false;
    }
    let down = requests_by(&pods, Some(&weights(75.0, 25.0)), 10);
    let failed = down[&("canary".to_string(), "503".to_string())];
    assert!((failed - 1000.0).abs() < 1e-3, "{down:?}");
    assert!((total(&down, "stable") - 3000.0).abs() < 1e-3, "{down:?}");
}

/// The release scenario of three services with the fast clock of `fast_scenario`.
fn fast_release_scenario() -> Scenario {
    let mut s = parse_scenario(include_str!("../../assets/scenarios/erp-release.yaml")).unwrap();
    s.timing = fast_scenario().timing;
    let fast =
        |versions: &mut std::collections::BTreeMap<String, crate::runbook::scenario::Behavior>| {
            for b in versions.values_mut() {
                b.start = Dur(Duration::from_millis(100));
                b.ready = Dur(Duration::from_millis(100));
            }
        };
    fast(&mut s.versions);
    for svc in &mut s.services {
        fast(&mut svc.versions);
    }
    s
}

/// The value of an instant query with one result, from the simulator's Prometheus API;
/// None while it has no result yet.
async fn prom_value(sim: &SimHandle, q: &str) -> Option<f64> {
    let resp: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/query", sim.prom_url))
        .query(&[("query", q)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resp["status"], "success", "{q}: {resp}");
    let result = resp["data"]["result"].as_array().unwrap();
    match result.as_slice() {
        [] => None,
        [one] => one["value"][1].as_str().unwrap().parse().ok(),
        more => panic!("{q}: {} series: {resp}", more.len()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_release_scenario_serves_three_services_each_judged_by_its_own_version() {
    let sim = start(fast_release_scenario(), 0, 0).await.unwrap();
    let http = Http::new(&sim);
    let (code, list) = http.get(DEPLOYS).await;
    assert_eq!(code, 200);
    let ready: Vec<(String, i64)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["metadata"]["name"].as_str().unwrap().to_string(),
                d["status"]["readyReplicas"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    let want: Vec<(String, i64)> = [
        ("erp-backend", 10),
        ("erp-backend-canary", 0),
        ("erp-frontend", 6),
        ("erp-frontend-canary", 0),
        ("erp-worker", 4),
        ("erp-worker-canary", 0),
    ]
    .into_iter()
    .map(|(n, r)| (n.to_string(), r))
    .collect();
    assert_eq!(ready, want);

    // One canary pod each for the backend and the front end.
    for name in ["erp-backend-canary", "erp-frontend-canary"] {
        let (code, body) = http
            .patch(
                &format!("{DEPLOYS}/{name}/scale"),
                "application/merge-patch+json",
                json!({"spec": {"replicas": 1}}),
            )
            .await;
        assert_eq!(code, 200, "{body}");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let both = ["erp-backend-canary", "erp-frontend-canary"]
            .iter()
            .all(|n| sim.deployment(n).unwrap()["status"]["readyReplicas"] == 1);
        if both {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "canaries not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // What a canary gauge reads once the canary pods have a few seconds of history.
    let canary_errors = |job: &str| {
        format!(
            r#"sum(rate(http_requests_total{{job="{job}",track="canary",code=~"5.."}}[1m])) / sum(rate(http_requests_total{{job="{job}",track="canary"}}[1m]))"#
        )
    };
    let served = |job: &str| {
        format!(r#"sum(increase(http_requests_total{{job="{job}",track="canary"}}[1m]))"#)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let mut enough = true;
        for job in ["erp-backend", "erp-frontend"] {
            enough &= prom_value(&sim, &served(job)).await.unwrap_or(0.0) > 50.0;
        }
        if enough {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no canary traffic");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let frontend = prom_value(&sim, &canary_errors("erp-frontend"))
        .await
        .unwrap();
    assert!((0.07..0.09).contains(&frontend), "{frontend}");
    let backend = prom_value(&sim, &canary_errors("erp-backend"))
        .await
        .unwrap();
    assert!(backend < 0.005, "{backend}");
    let p95 = r#"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="erp-frontend",track="canary"}[1m])))"#;
    let p95 = prom_value(&sim, p95).await.unwrap();
    assert!(p95 > 2.0, "{p95}");

    // The worker counts jobs, not requests, under its own job.
    assert_eq!(
        prom_value(&sim, r#"count(http_requests_total{job="erp-worker"})"#).await,
        None
    );
    let jobs = prom_value(
        &sim,
        r#"sum(rate(worker_jobs_total{job="erp-worker"}[1m]))"#,
    )
    .await
    .unwrap();
    assert!((19.0..21.0).contains(&jobs), "{jobs}");
    let exposition = reqwest::get(format!("{}/metrics/erp-worker", sim.prom_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        exposition.contains("worker_jobs_total{namespace=\"erp-production\",outcome=\"ok\""),
        "{exposition}"
    );
    sim.shutdown().await;
}
