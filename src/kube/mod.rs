//! The Kubernetes side: connecting, watching the release's Deployments, ReplicaSets and
//! pods (watches with resume and backoff, never polling), and the actions the console
//! takes. Watchers own their I/O and send events; they never touch state.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config, Resource, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use crate::cluster::{DeployView, PodView, RouteKind, RouteView, RsView, Snapshot};
use crate::effect::{Audit, KubeOp};
use crate::event::Event;
use crate::i18n::{tr, trf};
use crate::runbook::Lang;
use crate::text::clean;

pub mod lease;
pub mod mirror;

const FIELD_MANAGER: &str = "warroom";

/// A client from a kubeconfig file, or the usual places: `KUBECONFIG`, `~/.kube/config`,
/// then the in-cluster service account.
pub async fn connect(kubeconfig: Option<&Path>, context: Option<&str>) -> anyhow::Result<Client> {
    let opts = KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = match (kubeconfig, context) {
        (None, None) => Config::infer().await.map_err(|e| {
            anyhow::anyhow!(
                "cannot find a cluster: no usable KUBECONFIG or ~/.kube/config, and not inside a pod ({e}); pass --kubeconfig FILE"
            )
        })?,
        _ => {
            let (kc, from) = match kubeconfig {
                Some(path) => (
                    Kubeconfig::read_from(path).map_err(|e| {
                        anyhow::anyhow!("{}: cannot read the kubeconfig: {e}", path.display())
                    })?,
                    path.display().to_string(),
                ),
                None => (
                    Kubeconfig::read().map_err(|e| {
                        anyhow::anyhow!("cannot read the kubeconfig (KUBECONFIG or ~/.kube/config): {e}")
                    })?,
                    "KUBECONFIG or ~/.kube/config".to_string(),
                ),
            };
            if let Some(name) = context
                && !kc.contexts.iter().any(|c| c.name == name)
            {
                let known: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
                anyhow::bail!(
                    "{from} has no context named `{name}`; it has: {}",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                );
            }
            Config::from_custom_kubeconfig(kc, &opts).await?
        }
    };
    Ok(Client::try_from(config)?)
}

/// Watch the namespace's Deployments, ReplicaSets and pods (and the route whose weights
/// split the traffic, when the strategy uses one); send a snapshot of the release's objects whenever they
/// change, and `ClusterLost` when the API fails.
pub fn spawn_watch(
    client: Client,
    ns: &str,
    deployments: Vec<String>,
    routes: Vec<(RouteKind, String)>,
    tx: UnboundedSender<Event>,
) -> tokio::task::JoinHandle<()> {
    let ns = ns.to_string();
    tokio::spawn(async move {
        let cfg = watcher::Config::default();
        // Pods and ReplicaSets by the labels the release's Deployments select on: what
        // the console reads is bounded by the release, not by how crowded the namespace is.
        let owned = match release_selector(&Api::namespaced(client.clone(), &ns), &deployments)
            .await
        {
            Some(sel) => cfg.clone().labels(&sel),
            None => {
                log::warn!(
                    "the Deployments' selectors share no label (or could not be read): watching every pod and ReplicaSet in {ns}"
                );
                cfg.clone()
            }
        };
        let probe = Api::<Deployment>::namespaced(client.clone(), &ns);
        // Watches (and their stores) are made anew once the API answers after an outage:
        // the old stores hold what was true before it, and a watch in backoff may take
        // minutes to list again; until every list is in again, nothing is shown as live.
        'watch: loop {
            let (deps, dw) = reflector::store::<Deployment>();
            let (rss, rw) = reflector::store::<ReplicaSet>();
            let (pods, pw) = reflector::store::<Pod>();
            let mut streams = vec![
                reflector::reflector(
                    dw,
                    watcher(
                        Api::<Deployment>::namespaced(client.clone(), &ns),
                        cfg.clone(),
                    ),
                )
                .default_backoff()
                .map_ok(|e| (0, matches!(e, watcher::Event::InitDone)))
                .boxed(),
                reflector::reflector(
                    rw,
                    watcher(
                        Api::<ReplicaSet>::namespaced(client.clone(), &ns),
                        owned.clone(),
                    ),
                )
                .default_backoff()
                .map_ok(|e| (1, matches!(e, watcher::Event::InitDone)))
                .boxed(),
                reflector::reflector(
                    pw,
                    watcher(Api::<Pod>::namespaced(client.clone(), &ns), owned.clone()),
                )
                .default_backoff()
                .map_ok(|e| (2, matches!(e, watcher::Event::InitDone)))
                .boxed(),
            ];
            // Each route by its name: one watch apiece (they may be of different kinds).
            let mut route_stores = Vec::new();
            for (i, (kind, name)) in routes.iter().enumerate() {
                let res = route_resource(*kind);
                let hw = reflector::store::Writer::<DynamicObject>::new(res.clone());
                route_stores.push((*kind, hw.as_reader()));
                let api = Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &res);
                streams.push(
                    reflector::reflector(
                        hw,
                        watcher(api, cfg.clone().fields(&format!("metadata.name={name}"))),
                    )
                    .default_backoff()
                    .map_ok(move |e| (3 + i, matches!(e, watcher::Event::InitDone)))
                    .boxed(),
                );
            }
            let mut all = futures::stream::select_all(streams);
            let mut last: Option<Snapshot> = None;
            let mut listed = vec![false; 3 + routes.len()];
            // While the API is lost, a cheap list says when it answers again: a watch in
            // backoff on a quiet namespace may stay silent for minutes.
            let mut lost = false;
            let mut probe_wait = Duration::from_secs(1);
            // When the changes read since the last snapshot are due to be sent: events
            // are coalesced for up to COALESCE, so a rollout of a thousand pods costs a
            // snapshot a frame, not one per pod's event.
            let mut due: Option<tokio::time::Instant> = None;
            loop {
                let item = if lost {
                    tokio::select! {
                        item = all.next() => item,
                        _ = tokio::time::sleep(probe_wait) => {
                            if probe.list_metadata(&ListParams::default().limit(1)).await.is_ok() {
                                // Back: read everything again rather than show the old
                                // stores as the cluster now.
                                continue 'watch;
                            } else {
                                probe_wait = (probe_wait * 2).min(Duration::from_secs(30));
                            }
                            continue;
                        }
                    }
                } else if let Some(at) = due {
                    tokio::select! {
                        item = all.next() => item,
                        _ = tokio::time::sleep_until(at) => {
                            due = None;
                            let snap = snapshot(&deps, &rss, &pods, &deployments, &route_stores, &routes);
                            if last.as_ref() != Some(&snap) {
                                last = Some(snap.clone());
                                if tx.send(Event::Cluster(snap)).is_err() {
                                    return;
                                }
                            }
                            continue;
                        }
                    }
                } else {
                    all.next().await
                };
                let Some(item) = item else {
                    return;
                };
                match item {
                    Ok((which, init_done)) => {
                        if lost {
                            // One watch is back: list everything again, every store at
                            // once, rather than mix fresh objects with ones from before.
                            continue 'watch;
                        }
                        // Until every list is in, a snapshot would show objects as missing
                        // that are merely not read yet.
                        listed[which] |= init_done;
                        if !listed.iter().all(|l| *l) {
                            continue;
                        }
                        due.get_or_insert_with(|| tokio::time::Instant::now() + COALESCE);
                    }
                    // "Too old resource version" (410 Gone) is the API answering: the
                    // watcher lists again by itself. The link is not lost (the API server
                    // restarted, or compacted its history).
                    Err(watcher::Error::WatchError(e)) if e.code == 410 => {
                        log::info!("watch expired, listing again: {}", e.message);
                    }
                    Err(e) => {
                        lost = true;
                        due = None;
                        probe_wait = Duration::from_secs(1);
                        log::warn!("watch failed, retrying with backoff: {e}");
                        if tx
                            .send(Event::ClusterLost {
                                at: Utc::now(),
                                error: plain_watch_error(&e),
                            })
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
        }
    })
}

/// The API resource of a route kind; k8s-openapi knows none of them: dynamic resources.
pub fn route_resource(kind: RouteKind) -> ApiResource {
    let (group, version, plural) = route_api(kind);
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind.kind()), plural)
}

/// (group, version, plural) of a route kind.
fn route_api(kind: RouteKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        RouteKind::HttpRoute => ("gateway.networking.k8s.io", "v1", "httproutes"),
        RouteKind::VirtualService => ("networking.istio.io", "v1", "virtualservices"),
    }
}

/// Where a route kind keeps its rules and each rule's backends under `spec`, and the
/// weight its API gives a backend beside others when none is written.
fn route_shape(kind: RouteKind) -> (&'static str, &'static str, u64) {
    match kind {
        RouteKind::HttpRoute => ("rules", "backendRefs", 1),
        RouteKind::VirtualService => ("http", "route", 0),
    }
}

/// A backend's name as a runbook names it: an HTTPRoute backendRef's Service; a
/// VirtualService destination's subset (stable and canary as subsets of one host), or
/// its host where it names no subset.
fn backend_name(kind: RouteKind, b: &Value) -> &str {
    match kind {
        RouteKind::HttpRoute => b["name"].as_str(),
        RouteKind::VirtualService => b["destination"]["subset"]
            .as_str()
            .or(b["destination"]["host"].as_str()),
    }
    .unwrap_or("")
}

/// Whether a rule's backends split by weight: more than one. A rule with one backend (a
/// header match that sends testers to the canary) routes by its match, and is left alone.
fn weighted(backends: &[Value]) -> bool {
    backends.len() > 1
}

/// The route's weighted backends, read the way the gateway or mesh reads them.
pub fn route_view(kind: RouteKind, r: &DynamicObject) -> RouteView {
    let (rules, list, default) = route_shape(kind);
    let backends = r.data["spec"][rules]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|rule| rule[list].as_array())
        .filter(|b| weighted(b))
        .flatten()
        .map(|b| {
            let name = clean(backend_name(kind, b)).into_owned();
            let weight = b["weight"].as_u64().unwrap_or(default).min(1_000_000) as u32;
            (name, weight)
        })
        .collect();
    RouteView {
        kind,
        name: clean(&r.name_any()).into_owned(),
        backends,
    }
}

fn plain_watch_error(e: &watcher::Error) -> String {
    match e {
        watcher::Error::InitialListFailed(err)
        | watcher::Error::WatchStartFailed(err)
        | watcher::Error::WatchFailed(err) => plain_error(err),
        other => clean(&other.to_string()).into_owned(),
    }
}

/// An API error in plain words, with what to do about it.
pub fn plain_error(e: &kube::Error) -> String {
    let s = match e {
        kube::Error::Api(status) => {
            let what = match status.code {
                401 => {
                    "not authenticated (401): the credentials in the kubeconfig were refused; log in again or refresh the token"
                }
                403 => {
                    "forbidden (403): this user may not do that; check the Role bound to it (see assets/rbac.yaml)"
                }
                404 => {
                    "not found (404): check the namespace and the Deployment names in the runbook"
                }
                409 => {
                    "conflict (409): the object changed underneath; look at the rollout pane and try again"
                }
                422 => "rejected as invalid (422)",
                429 => "throttled by the API server (429); it will be retried",
                500..=599 => "the API server failed (5xx); try again shortly",
                _ => "the API refused",
            };
            format!("{what}: {}", status.message)
        }
        kube::Error::HyperError(err) => format!("cannot reach the API server: {err}"),
        kube::Error::Service(err) => format!("cannot reach the API server: {err}"),
        other => other.to_string(),
    };
    clean(&s).into_owned()
}

/// The labels every pod and ReplicaSet of the release's Deployments carries: the
/// `matchLabels` their selectors share, as a label selector. None when a Deployment
/// cannot be read yet or they share none.
async fn release_selector(api: &Api<Deployment>, names: &[String]) -> Option<String> {
    let mut selectors = Vec::new();
    for name in names {
        let d = api.get_opt(name).await.ok()??;
        selectors.push(d.spec?.selector.match_labels.unwrap_or_default());
    }
    let first = selectors.first()?;
    // Keys every selector has: one value is `k=v`; several (one app per target) are
    // `k in (a,b)`, which still reads only the release's pods.
    let terms: Vec<String> = first
        .keys()
        .filter(|k| selectors.iter().all(|s| s.contains_key(*k)))
        .map(|k| {
            let values: std::collections::BTreeSet<&str> =
                selectors.iter().map(|s| s[k].as_str()).collect();
            if values.len() == 1 {
                format!("{k}={}", first[k])
            } else {
                format!(
                    "{k} in ({})",
                    values.into_iter().collect::<Vec<_>>().join(",")
                )
            }
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(","))
}

/// The longest a change seen by the watches waits before the snapshot that shows it is
/// sent: every other change within it goes out in the same snapshot.
const COALESCE: Duration = Duration::from_millis(100);

fn snapshot(
    deps: &Store<Deployment>,
    rss: &Store<ReplicaSet>,
    pods: &Store<Pod>,
    names: &[String],
    route_stores: &[(RouteKind, Store<DynamicObject>)],
    routes: &[(RouteKind, String)],
) -> Snapshot {
    let mut deployments: Vec<DeployView> = deps
        .state()
        .iter()
        .filter(|d| names.contains(&d.name_any()))
        .map(|d| deploy_view(d))
        .collect();
    deployments.sort_by_key(|d| names.iter().position(|n| *n == d.name));
    let mut replicasets: Vec<RsView> = rss
        .state()
        .iter()
        .filter_map(|r| rs_view(r))
        .filter(|r| names.contains(&r.owner))
        .collect();
    replicasets.sort_by(|a, b| {
        a.owner
            .cmp(&b.owner)
            .then(b.revision.len().cmp(&a.revision.len()))
            .then(b.revision.cmp(&a.revision))
    });
    let owners: std::collections::HashSet<&str> =
        replicasets.iter().map(|r| r.name.as_str()).collect();
    let mut pods: Vec<PodView> = pods
        .state()
        .iter()
        .map(|p| pod_view(p))
        .filter(|p| owners.contains(p.owner.as_str()))
        .collect();
    pods.sort_by(|a, b| a.name.cmp(&b.name));
    let routes = route_stores
        .iter()
        .zip(routes)
        .filter_map(|((kind, store), (_, name))| {
            store
                .state()
                .iter()
                .find(|r| r.name_any() == *name)
                .map(|r| route_view(*kind, r))
        })
        .collect();
    Snapshot {
        deployments,
        replicasets,
        pods,
        routes,
    }
}

fn first_image(spec: Option<&k8s_openapi::api::core::v1::PodTemplateSpec>) -> String {
    spec.and_then(|t| t.spec.as_ref())
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

fn ann(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, key: &str) -> String {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .cloned()
        .unwrap_or_default()
}

fn time(t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> Option<DateTime<Utc>> {
    t.as_ref()
        .and_then(|t| DateTime::from_timestamp(t.0.as_second(), t.0.subsec_nanosecond() as u32))
}

pub fn deploy_view(d: &Deployment) -> DeployView {
    let spec = d.spec.as_ref();
    let st = d.status.clone().unwrap_or_default();
    DeployView {
        name: clean(&d.name_any()).into_owned(),
        uid: d.metadata.uid.clone().unwrap_or_default(),
        desired: spec.and_then(|s| s.replicas).unwrap_or(1).max(0) as u32,
        replicas: st.replicas.unwrap_or(0).max(0) as u32,
        updated: st.updated_replicas.unwrap_or(0).max(0) as u32,
        ready: st.ready_replicas.unwrap_or(0).max(0) as u32,
        available: st.available_replicas.unwrap_or(0).max(0) as u32,
        generation: d.metadata.generation.unwrap_or(0),
        observed_generation: st.observed_generation.unwrap_or(0),
        paused: spec.and_then(|s| s.paused).unwrap_or(false),
        revision: ann(&d.metadata, "deployment.kubernetes.io/revision"),
        image: clean(&first_image(spec.map(|s| &s.template))).into_owned(),
        conditions: st
            .conditions
            .unwrap_or_default()
            .into_iter()
            .map(|c| {
                (
                    c.type_,
                    c.status,
                    c.reason.unwrap_or_default(),
                    clean(&c.message.unwrap_or_default()).into_owned(),
                )
            })
            .collect(),
    }
}

pub fn rs_view(r: &ReplicaSet) -> Option<RsView> {
    let owner = r
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true) && o.kind == "Deployment")?
        .name
        .clone();
    let st = r.status.clone().unwrap_or_default();
    Some(RsView {
        name: clean(&r.name_any()).into_owned(),
        owner: clean(&owner).into_owned(),
        revision: ann(&r.metadata, "deployment.kubernetes.io/revision"),
        image: clean(&first_image(
            r.spec.as_ref().and_then(|s| s.template.as_ref()),
        ))
        .into_owned(),
        desired: r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0).max(0) as u32,
        ready: st.ready_replicas.unwrap_or(0).max(0) as u32,
        created: time(&r.metadata.creation_timestamp),
    })
}

pub fn pod_view(p: &Pod) -> PodView {
    let owner = p
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| o.name.clone())
        .unwrap_or_default();
    let st = p.status.as_ref();
    let cs = st
        .and_then(|st| st.container_statuses.as_deref())
        .unwrap_or_default();
    let containers = p
        .spec
        .as_ref()
        .map(|s| s.containers.len())
        .unwrap_or(cs.len()) as u32;
    // What kubectl prints in STATUS: Terminating wins, then a waiting container's reason.
    let status = if p.metadata.deletion_timestamp.is_some() {
        "Terminating".to_string()
    } else if let Some(reason) = cs.iter().filter_map(|c| c.state.as_ref()).find_map(|s| {
        s.waiting
            .as_ref()
            .and_then(|w| w.reason.clone())
            .or_else(|| s.terminated.as_ref().and_then(|t| t.reason.clone()))
    }) {
        reason
    } else {
        st.and_then(|st| st.phase.clone())
            .unwrap_or_else(|| "Unknown".into())
    };
    // The kubelet's words for a waiting or stopped container.
    let message = cs
        .iter()
        .filter_map(|c| c.state.as_ref())
        .find_map(|s| {
            s.waiting
                .as_ref()
                .and_then(|w| w.message.clone())
                .or_else(|| s.terminated.as_ref().and_then(|t| t.message.clone()))
        })
        .filter(|m| !m.trim().is_empty())
        .map(|m| clean(&m).into_owned());
    PodView {
        message,
        name: clean(&p.name_any()).into_owned(),
        owner: clean(&owner).into_owned(),
        ready_containers: cs.iter().filter(|c| c.ready).count() as u32,
        containers,
        status: clean(&status).into_owned(),
        restarts: cs.iter().map(|c| c.restart_count.max(0) as u32).sum(),
        created: time(&p.metadata.creation_timestamp),
    }
}

/// The JSON pointer of the fencing label (`/` in a key is written `~1`).
const FENCE_PATH: &str = "/metadata/labels/warroom.io~1driver";

/// A JSON patch of `ops` that applies only while the object carries `fence`, this
/// console's mark (see `lease::FENCE_LABEL`).
fn fenced(fence: &str, ops: Vec<Value>) -> Result<json_patch::Patch, String> {
    let mut all = vec![json!({"op": "test", "path": FENCE_PATH, "value": fence})];
    all.extend(ops);
    serde_json::from_value(Value::Array(all)).map_err(|e| e.to_string())
}

/// Patch `name` with `ops` under this console's mark. When the API server refuses it, the
/// object is read again to tell a take-over (another console's mark) from other errors.
async fn patch_fenced<K>(
    api: &Api<K>,
    name: &str,
    fence: &str,
    ops: Vec<Value>,
    (what, lang): (&str, Lang),
) -> Result<K, String>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let pp = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    let patch = fenced(fence, ops)?;
    match api.patch(name, &pp, &Patch::<()>::Json(patch)).await {
        Ok(o) => Ok(o),
        Err(e) => {
            if matches!(&e, kube::Error::Api(s) if s.code == 422)
                && let Some(why) = fence_refusal(api, name, fence, lang).await
            {
                return Err(format!("{what}{}{why}", lang.colon()));
            }
            Err(format!("{what}{}{}", lang.colon(), plain_error(&e)))
        }
    }
}

/// Why a write under `fence` was refused, when the object no longer carries that mark.
async fn fence_refusal<K>(api: &Api<K>, name: &str, fence: &str, lang: Lang) -> Option<String>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let obj = api.get(name).await.ok()?;
    match obj.labels().get(lease::FENCE_LABEL) {
        Some(v) if v == fence => None,
        Some(v) => Some(trf(
            lang,
            "refused by the API server: another console has taken over this release ({} is marked {}={}, not this console's {}); nothing was changed",
            &[&name, &lease::FENCE_LABEL, &clean(v), &fence],
        )),
        None => Some(trf(
            lang,
            "refused by the API server: {} no longer carries this console's mark ({}={}), so it was replaced or relabelled after this console took the Lease; nothing was changed; restart the console to drive it again",
            &[&name, &lease::FENCE_LABEL, &fence],
        )),
    }
}

/// The JSON patch operations that do to `current` what the merge patch `patch` (RFC
/// 7386) would: maps merge, `null` removes, anything else replaces.
fn merge_ops(current: &Value, patch: &Value, path: &str, out: &mut Vec<Value>) {
    let Some(p) = patch.as_object() else {
        out.push(json!({"op": "add", "path": path, "value": patch}));
        return;
    };
    for (k, v) in p {
        let at = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
        let here = current.get(k);
        match (here, v) {
            (Some(_), Value::Null) => out.push(json!({"op": "remove", "path": at})),
            (None, Value::Null) => {}
            (Some(c), Value::Object(_)) if c.is_object() => merge_ops(c, v, &at, out),
            _ => {
                // What the merge patch would leave: the value, its nulls dropped.
                let mut fresh = Value::Null;
                json_patch::merge(&mut fresh, v);
                out.push(json!({"op": "add", "path": at, "value": fresh}));
            }
        }
    }
}

/// Carry out an action under this console's mark (`fence`). Ok is what was done, in a
/// sentence in `lang`; Err says what failed.
pub async fn run(
    client: &Client,
    ns: &str,
    op: &KubeOp,
    (fence, lang): (&str, Lang),
) -> Result<String, String> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let err = |what: &str| {
        let what = what.to_string();
        move |e: kube::Error| format!("{what}{}{}", lang.colon(), plain_error(&e))
    };
    let set_replicas = |n: u32| vec![json!({"op": "add", "path": "/spec/replicas", "value": n})];
    match op {
        KubeOp::Scale { targets, .. } => {
            let mut done = Vec::new();
            for (name, n) in targets {
                let what = trf(lang, "scale {} to {}", &[name, n]);
                patch_fenced(&api, name, fence, set_replicas(*n), (&what, lang)).await?;
                done.push(trf(lang, "{} scaled to {}", &[name, n]));
            }
            Ok(done.join(lang.list()))
        }
        KubeOp::Promote {
            stable,
            canary,
            replicas,
            cause,
        } => {
            let c = api
                .get(canary)
                .await
                .map_err(err(&trf(lang, "read {}", &[canary])))?;
            let s = api
                .get(stable)
                .await
                .map_err(err(&trf(lang, "read {}", &[stable])))?;
            let patch = promotion_patch(&s, &c, *replicas, cause)?;
            // Capacity first: the stable rollout may take down up to its maxUnavailable
            // pods at once, so the canary (the same new version) grows by that many, and
            // the stable Deployment changes only once they are ready. The canary goes to
            // zero later, when the stable rollout is complete (the console sees to it).
            let now = c.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0).max(0) as u32;
            let extra = max_unavailable(&s, *replicas);
            let want = now + extra;
            if extra > 0 {
                let what = trf(lang, "scale {} to {}", &[canary, &want]);
                patch_fenced(&api, canary, fence, set_replicas(want), (&what, lang)).await?;
                loop {
                    let d = api
                        .get(canary)
                        .await
                        .map_err(err(&trf(lang, "read {}", &[canary])))?;
                    let ready = d
                        .status
                        .as_ref()
                        .and_then(|s| s.ready_replicas)
                        .unwrap_or(0)
                        .max(0) as u32;
                    if ready >= want {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            let mut ops = Vec::new();
            merge_ops(
                &serde_json::to_value(&s).unwrap_or_default(),
                &patch,
                "",
                &mut ops,
            );
            let what = trf(lang, "update {}", &[stable]);
            patch_fenced(&api, stable, fence, ops, (&what, lang)).await?;
            Ok(trf(
                lang,
                "{} now rolls out {}; {} holds {} pods until that rollout is complete",
                &[
                    stable,
                    &first_image(c.spec.as_ref().map(|s| &s.template)),
                    canary,
                    &want,
                ],
            ))
        }
        KubeOp::Undo { deployment, .. } => undo(&api, client, ns, deployment, (fence, lang)).await,
        KubeOp::Weights {
            kind,
            route,
            weights,
            canary,
            canary_replicas,
            ..
        } => {
            let mut done = Vec::new();
            if let Some(n) = canary_replicas {
                let what = trf(lang, "scale {} to {}", &[canary, n]);
                patch_fenced(&api, canary, fence, set_replicas(*n), (&what, lang)).await?;
                done.push(trf(lang, "{} scaled to {}", &[canary, n]));
            }
            let routes: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), ns, &route_resource(*kind));
            let r = routes.get(route).await.map_err(err(&trf(
                lang,
                "read {} {}",
                &[&kind.kind(), route],
            )))?;
            let patch = weights_patch(*kind, &r, weights)?;
            let mut ops = Vec::new();
            merge_ops(
                &serde_json::to_value(&r).unwrap_or_default(),
                &patch,
                "",
                &mut ops,
            );
            let what = trf(lang, "set the weights of {} {}", &[&kind.kind(), route]);
            let r = patch_fenced(&routes, route, fence, ops, (&what, lang)).await?;
            done.push(trf(lang, "now {}", &[&route_view(*kind, &r).describe()]));
            Ok(done.join(lang.semicolon()))
        }
        KubeOp::Pause {
            deployments,
            paused,
            ..
        } => {
            // Resuming removes the field, as `kubectl rollout resume` does; adding it
            // first makes the removal valid whether or not it is there.
            let ops = if *paused {
                vec![json!({"op": "add", "path": "/spec/paused", "value": true})]
            } else {
                vec![
                    json!({"op": "add", "path": "/spec/paused", "value": false}),
                    json!({"op": "remove", "path": "/spec/paused"}),
                ]
            };
            for name in deployments {
                let what = if *paused {
                    trf(lang, "pause {}", &[name])
                } else {
                    trf(lang, "resume {}", &[name])
                };
                patch_fenced(&api, name, fence, ops.clone(), (&what, lang)).await?;
            }
            let names = deployments.join(tr(lang, " and "));
            Ok(if *paused {
                trf(lang, "{} paused", &[&names])
            } else {
                trf(lang, "{} resumed", &[&names])
            })
        }
        KubeOp::Steps(ops) => {
            let mut done = Vec::new();
            for o in ops {
                done.push(Box::pin(run(client, ns, o, (fence, lang))).await?);
            }
            Ok(done.join(lang.semicolon()))
        }
    }
}

/// A merge patch that sets the named backends' weights in every rule of the route. Rules
/// are a list, which a merge patch replaces whole, so the patch carries them all, and the
/// resourceVersion read makes it fail with a conflict if the route changed meanwhile.
/// (It is sent as the equivalent JSON patch, under the console's mark: see `merge_ops`.)
fn weights_patch(
    kind: RouteKind,
    route: &DynamicObject,
    weights: &[(String, u32)],
) -> Result<Value, String> {
    let (rules_key, list, _) = route_shape(kind);
    let mut rules = route.data["spec"][rules_key].clone();
    let mut found = vec![false; weights.len()];
    for rule in rules.as_array_mut().into_iter().flatten() {
        let Some(backends) = rule[list].as_array_mut().filter(|b| weighted(b)) else {
            continue;
        };
        for b in backends {
            if let Some(i) = weights.iter().position(|(n, _)| backend_name(kind, b) == n) {
                b["weight"] = json!(weights[i].1);
                found[i] = true;
            }
        }
    }
    if let Some(i) = found.iter().position(|f| !f) {
        return Err(format!(
            "{} {} has no weighted {} named {}: check traffic.stable_backend and traffic.canary_backend in the runbook",
            kind.kind(),
            route.name_any(),
            kind.backend(),
            weights[i].0
        ));
    }
    Ok(json!({
        "metadata": {"resourceVersion": route.metadata.resource_version},
        "spec": {rules_key: rules}
    }))
}

/// The stable Deployment takes the canary's containers (the new version) and the canary's
/// values for template labels outside the stable selector; its selector labels stay.
/// How many of `replicas` pods the Deployment's rolling update may take down at once:
/// maxUnavailable as a number, or a percentage rounded down (25% when unset), as the
/// deployment controller reads it; a Recreate Deployment takes them all down.
fn max_unavailable(d: &Deployment, replicas: u32) -> u32 {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let strategy = d.spec.as_ref().and_then(|s| s.strategy.as_ref());
    if strategy.and_then(|s| s.type_.as_deref()) == Some("Recreate") {
        return replicas;
    }
    match strategy
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.max_unavailable.as_ref())
    {
        Some(IntOrString::Int(n)) => (*n).max(0) as u32,
        Some(IntOrString::String(p)) => p
            .trim_end_matches('%')
            .parse::<u64>()
            .map(|p| (replicas as u64 * p / 100) as u32)
            .unwrap_or(replicas),
        None => replicas / 4,
    }
    .min(replicas)
}

fn promotion_patch(
    stable: &Deployment,
    canary: &Deployment,
    replicas: u32,
    cause: &str,
) -> Result<Value, String> {
    let ct = canary
        .spec
        .as_ref()
        .map(|s| &s.template)
        .ok_or("the canary Deployment has no spec")?;
    let sspec = stable
        .spec
        .as_ref()
        .ok_or("the stable Deployment has no spec")?;
    let selector: BTreeMap<String, String> =
        sspec.selector.match_labels.clone().unwrap_or_default();
    let mut labels = sspec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    for (k, v) in ct
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
    {
        if !selector.contains_key(&k) {
            labels.insert(k, v);
        }
    }
    let containers = serde_json::to_value(
        &ct.spec
            .as_ref()
            .ok_or("the canary's template has no pod spec")?
            .containers,
    )
    .map_err(|e| e.to_string())?;
    Ok(json!({
        "metadata": {"annotations": {"kubernetes.io/change-cause": cause}},
        "spec": {
            "replicas": replicas,
            "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}}
        }
    }))
}

/// Write a core/v1 Event on each Deployment the action touched: Normal when it was done,
/// Warning with the error when it failed. A failure here is logged, never fatal: the
/// action itself already happened (or not) and the journal has it.
pub async fn record_events(
    client: &Client,
    ns: &str,
    op: &KubeOp,
    audit: &Audit,
    instance: &str,
    result: &Result<String, String>,
) {
    use k8s_openapi::api::core::v1::{Event as KEvent, EventSource, ObjectReference};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    let deps: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let events: Api<KEvent> = Api::namespaced(client.clone(), ns);
    let now = Utc::now();
    let ts =
        k8s_openapi::jiff::Timestamp::new(now.timestamp(), now.timestamp_subsec_nanos() as i32)
            .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
    let (type_, message) = match result {
        Ok(done) => ("Normal", format!("{}; done: {done}", audit.message)),
        Err(e) => ("Warning", format!("{}; FAILED: {e}", audit.message)),
    };
    let message: String = message.chars().take(1000).collect();
    // The Deployments the action touched, and the route it changed, if any.
    let mut targets: Vec<(String, &str, String, Option<String>)> = Vec::new();
    for name in op.deployments() {
        match deps.get_opt(name).await {
            Ok(Some(d)) => {
                targets.push(("apps/v1".into(), "Deployment", name.clone(), d.metadata.uid))
            }
            Ok(None) => {}
            Err(e) => log::warn!("no Event recorded on {name}: {}", plain_error(&e)),
        }
    }
    if let Some((kind, route)) = op.route() {
        let res = route_resource(kind);
        let routes: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &res);
        match routes.get_opt(route).await {
            Ok(Some(r)) => {
                targets.push((res.api_version, kind.kind(), route.clone(), r.metadata.uid))
            }
            Ok(None) => {}
            Err(e) => log::warn!(
                "no Event recorded on {} {route}: {}",
                kind.kind(),
                plain_error(&e)
            ),
        }
    }
    for (i, (api_version, kind, name, uid)) in targets.into_iter().enumerate() {
        let ev = KEvent {
            metadata: ObjectMeta {
                // Unique per object and action, as the API's own recorders name them; a
                // route may share its name with a Deployment.
                name: Some(format!(
                    "{name}.{:x}",
                    now.timestamp_nanos_opt().unwrap_or(0) + i as i64
                )),
                namespace: Some(ns.to_string()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some(api_version),
                kind: Some(kind.into()),
                name: Some(name.clone()),
                namespace: Some(ns.to_string()),
                uid,
                ..Default::default()
            },
            reason: Some(audit.reason.clone()),
            message: Some(message.clone()),
            type_: Some(type_.into()),
            source: Some(EventSource {
                component: Some(FIELD_MANAGER.into()),
                host: None,
            }),
            first_timestamp: Some(Time(ts)),
            last_timestamp: Some(Time(ts)),
            count: Some(1),
            action: Some(audit.reason.trim_start_matches("Warroom").to_string()),
            reporting_component: Some(FIELD_MANAGER.into()),
            reporting_instance: Some(instance.chars().take(128).collect()),
            ..Default::default()
        };
        if let Err(e) = events.create(&Default::default(), &ev).await {
            log::warn!("no Event recorded on {name}: {}", plain_error(&e));
        }
    }
}

/// Annotations kubectl keeps from the Deployment rather than the ReplicaSet on undo.
const UNDO_SKIP: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

/// `kubectl rollout undo`, step for step, to the same object kubectl would write: the
/// change-cause is the restored revision's, as with kubectl. Who rolled back and why goes
/// into the Deployment's Events (see `record_event`).
async fn undo(
    api: &Api<Deployment>,
    client: &Client,
    ns: &str,
    name: &str,
    (fence, lang): (&str, Lang),
) -> Result<String, String> {
    let d = api.get(name).await.map_err(|e| {
        format!(
            "{}{}{}",
            trf(lang, "read {}", &[&name]),
            lang.colon(),
            plain_error(&e)
        )
    })?;
    if d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false) {
        return Err(trf(
            lang,
            "{} is paused: resume it before rolling back (kubectl refuses too)",
            &[&name],
        ));
    }
    let uid = d.meta().uid.clone().unwrap_or_default();
    let selector = d
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let rsapi: Api<ReplicaSet> = Api::namespaced(client.clone(), ns);
    let list = rsapi
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| {
            format!(
                "{}{}{}",
                trf(lang, "list ReplicaSets of {}", &[&name]),
                lang.colon(),
                plain_error(&e)
            )
        })?;
    let mut owned: Vec<(i64, ReplicaSet)> = list
        .items
        .into_iter()
        .filter(|r| {
            r.owner_references()
                .iter()
                .any(|o| o.controller == Some(true) && o.uid == uid)
        })
        .filter_map(|r| {
            ann(&r.metadata, "deployment.kubernetes.io/revision")
                .parse()
                .ok()
                .map(|n| (n, r))
        })
        .collect();
    owned.sort_by_key(|(n, _)| *n);
    if owned.len() < 2 {
        return Err(trf(
            lang,
            "no rollout history found for {}: there is no earlier revision to go back to",
            &[&name],
        ));
    }
    let (rev, rs) = owned.swap_remove(owned.len() - 2);
    let mut template = rs
        .spec
        .and_then(|s| s.template)
        .ok_or_else(|| trf(lang, "revision {} has no pod template", &[&rev]))?;
    if let Some(l) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        l.remove("pod-template-hash");
    }
    let current = d
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    if serde_json::to_value(&template).ok() == serde_json::to_value(&current).ok() {
        return Ok(trf(
            lang,
            "skipped rollback: {} already runs revision {}'s template",
            &[&name, &rev],
        ));
    }
    let mut annotations: BTreeMap<String, String> = BTreeMap::new();
    let dann = d.metadata.annotations.clone().unwrap_or_default();
    for k in UNDO_SKIP {
        if let Some(v) = dann.get(k) {
            annotations.insert(k.into(), v.clone());
        }
    }
    for (k, v) in rs.metadata.annotations.unwrap_or_default() {
        if !UNDO_SKIP.contains(&k.as_str()) {
            annotations.insert(k, v);
        }
    }
    let ops = vec![
        json!({"op": "replace", "path": "/spec/template", "value": template}),
        json!({"op": "replace", "path": "/metadata/annotations", "value": annotations}),
    ];
    let what = trf(lang, "roll back {}", &[&name]);
    patch_fenced(api, name, fence, ops, (&what, lang)).await?;
    Ok(trf(
        lang,
        "{} rolled back to revision {} ({})",
        &[&name, &rev, &first_image(Some(&template))],
    ))
}

/// Watch what the cluster's Events say about pods in the namespace and send the latest
/// per pod. Apart from the rollout's own watch: without the `events` verbs (an older
/// Role) it says so once in the diagnostic log and the pods simply show no Events.
pub fn spawn_pod_events(
    client: Client,
    ns: &str,
    tx: UnboundedSender<Event>,
) -> tokio::task::JoinHandle<()> {
    use k8s_openapi::api::core::v1::Event as KEvent;
    let ns = ns.to_string();
    tokio::spawn(async move {
        let api = Api::<KEvent>::namespaced(client, &ns);
        let cfg = watcher::Config::default().fields("involvedObject.kind=Pod");
        let (store, writer) = reflector::store::<KEvent>();
        let mut stream = reflector::reflector(writer, watcher(api, cfg))
            .default_backoff()
            .boxed();
        let mut said_error = false;
        let mut last = BTreeMap::new();
        while let Some(item) = stream.next().await {
            match item {
                Err(e) => {
                    if !said_error {
                        log::warn!(
                            "the pods' Events cannot be watched ({e}): the rollout pane shows none"
                        );
                        said_error = true;
                    }
                    continue;
                }
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => continue,
                Ok(_) => {}
            }
            let mut latest: BTreeMap<String, crate::cluster::PodEvent> = BTreeMap::new();
            for ev in store.state() {
                let pod = clean(ev.involved_object.name.as_deref().unwrap_or("")).into_owned();
                let at = time(&ev.last_timestamp).or_else(|| time(&ev.metadata.creation_timestamp));
                let view = crate::cluster::PodEvent {
                    kind: clean(ev.type_.as_deref().unwrap_or("")).into_owned(),
                    reason: clean(ev.reason.as_deref().unwrap_or("")).into_owned(),
                    message: clean(ev.message.as_deref().unwrap_or("")).into_owned(),
                    at,
                };
                let newer = latest.get(&pod).is_none_or(|p| p.at <= view.at);
                if newer {
                    latest.insert(pod, view);
                }
            }
            if latest != last {
                last = latest.clone();
                if tx.send(Event::PodEvents(latest)).is_err() {
                    return;
                }
            }
        }
    })
}

/// The last `lines` lines of a pod's log (the `log` subresource, as `kubectl logs --tail`
/// reads it), within 10 s.
pub async fn pod_log(
    client: &kube::Client,
    ns: &str,
    pod: &str,
    lines: i64,
) -> Result<String, String> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let params = kube::api::LogParams {
        tail_lines: Some(lines),
        ..Default::default()
    };
    match tokio::time::timeout(std::time::Duration::from_secs(10), api.logs(pod, &params)).await {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(e)) => Err(plain_error(&e)),
        Err(_) => Err("the API server did not answer within 10 s".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure(message, reason)
                .with_code(code)
                .boxed(),
        )
    }

    /// The JSON patch a merge patch becomes does to the object exactly what the merge
    /// patch would, behind the fence's test.
    #[test]
    fn merge_ops_do_what_the_merge_patch_does() {
        let doc = json!({
            "metadata": {"name": "web", "labels": {"app": "web", "warroom.io/driver": "3-ab"}},
            "spec": {"replicas": 3, "paused": true, "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "v1"}]}}},
        });
        for patch in [
            json!({"spec": {"replicas": 9}}),
            json!({"spec": {"paused": null}}),
            json!({"spec": {"absent": null, "minReadySeconds": 5}}),
            json!({"metadata": {"annotations": {"kubernetes.io/change-cause": "lin: full", "x": null}}}),
            json!({"spec": {"template": {"metadata": {"labels": {"app": "web", "track": "canary"}},
                "spec": {"containers": [{"name": "app", "image": "v2"}]}}}}),
            json!({"spec": {"replicas": {"odd": {"gone": null, "kept": 1}}}}),
            json!({"metadata": {"labels": {"a/b~c": "1"}}}),
        ] {
            let mut want = doc.clone();
            json_patch::merge(&mut want, &patch);
            let mut ops = Vec::new();
            merge_ops(&doc, &patch, "", &mut ops);
            let mut got = doc.clone();
            json_patch::patch(&mut got, &fenced("3-ab", ops).unwrap()).unwrap();
            assert_eq!(got, want, "{patch}");
            // Under another console's mark, nothing applies.
            let mut ops = Vec::new();
            merge_ops(&doc, &patch, "", &mut ops);
            let mut other = doc.clone();
            assert!(json_patch::patch(&mut other, &fenced("4-cd", ops).unwrap()).is_err());
            assert_eq!(other, doc);
        }
    }

    /// A VirtualService names its destinations by subset where it has them (one host,
    /// two subsets), else by host; an unset weight beside others is 0, as Istio reads it;
    /// a rule with one destination (testers sent to the canary by a header) is not part
    /// of the split. The weights patch keeps every other field and refuses a destination
    /// the route does not have.
    #[test]
    fn virtual_service_destinations_and_their_weights() {
        let vs: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "web", "resourceVersion": "7"},
            "spec": {"hosts": ["web"], "http": [
                {"match": [{"headers": {"x-canary": {"exact": "1"}}}],
                 "route": [{"destination": {"host": "web", "subset": "canary"}}]},
                {"route": [
                    {"destination": {"host": "web", "subset": "stable"}, "weight": 100},
                    {"destination": {"host": "web", "subset": "canary"}},
                ], "timeout": "5s"},
            ]},
        }))
        .unwrap();
        let view = route_view(RouteKind::VirtualService, &vs);
        assert_eq!(
            view.backends,
            [("stable".to_string(), 100), ("canary".to_string(), 0)]
        );
        assert_eq!(view.percent("canary"), Some(0.0));
        assert_eq!(
            view.describe(),
            "VirtualService web weights stable=100, canary=0"
        );
        let patch = weights_patch(
            RouteKind::VirtualService,
            &vs,
            &[("stable".into(), 90), ("canary".into(), 10)],
        )
        .unwrap();
        assert_eq!(patch["metadata"]["resourceVersion"], "7");
        assert_eq!(patch["spec"]["http"][1]["route"][1]["weight"], 10);
        assert_eq!(patch["spec"]["http"][1]["route"][0]["weight"], 90);
        assert_eq!(patch["spec"]["http"][1]["timeout"], "5s");
        // The testers' rule keeps routing by its header, untouched.
        assert_eq!(patch["spec"]["http"][0], vs.data["spec"]["http"][0]);
        let err = weights_patch(
            RouteKind::VirtualService,
            &vs,
            &[("stable".into(), 90), ("web-canary".into(), 10)],
        )
        .unwrap_err();
        assert!(
            err.starts_with(
                "VirtualService web has no weighted destination named web-canary: check"
            ),
            "{err}"
        );
    }

    #[test]
    fn api_errors_in_plain_words_with_what_to_do() {
        let cases = [
            (401, "Unauthorized", "Unauthorized", "log in again"),
            (
                403,
                "Forbidden",
                "deployments.apps \"web\" is forbidden",
                "assets/rbac.yaml",
            ),
            (
                404,
                "NotFound",
                "deployments.apps \"web\" not found",
                "check the namespace",
            ),
            (409, "Conflict", "the object has been modified", "try again"),
            (
                422,
                "Invalid",
                "spec.replicas: Invalid value: -1",
                "rejected as invalid",
            ),
            (
                503,
                "ServiceUnavailable",
                "etcd unavailable",
                "try again shortly",
            ),
        ];
        for (code, reason, message, advice) in cases {
            let text = plain_error(&api_error(code, reason, message));
            assert!(text.contains(&format!("({code})")) || code == 503, "{text}");
            assert!(text.contains(advice), "{code}: {text}");
            assert!(
                text.contains(message),
                "{code}: the API's own words are kept: {text}"
            );
        }
    }
}
