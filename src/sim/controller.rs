//! The simulated control plane: the deployment controller, the ReplicaSet controller, a
//! garbage collector and a kubelet, each a port of the real one's decisions (Kubernetes
//! `pkg/controller/deployment`, `pkg/controller/replicaset`) reduced to what a release
//! console can observe.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::objects;
use super::store::{ApiError, Resource, Store, key_of, parse_time, rfc3339};
use crate::runbook::Scenario;
use crate::runbook::scenario::{Behavior, ServiceRef, TrafficSplit};

pub const HASH_LABEL: &str = "pod-template-hash";
const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// Deployment annotations the controller does not copy to its ReplicaSets.
const SKIP_COPY: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];
/// How long a crash-looping container runs before it exits.
const CRASH_AFTER: f64 = 2.0;
/// How long an image pull failure shows as ErrImagePull before ImagePullBackOff.
const PULL_ERROR_FOR: f64 = 5.0;

/// Precise pod times: the API's timestamps are whole seconds, the lifecycle is not.
#[derive(Debug, Clone, Copy)]
struct PodClock {
    created: f64,
    terminating_since: Option<f64>,
}

/// The whole simulated cluster: the store and the controllers' private bookkeeping.
pub struct Cluster {
    pub store: Store,
    scenario: Scenario,
    clocks: HashMap<String, PodClock>,
    /// Each service's position among the scenario's services, by app: a pod's service
    /// in one lookup, however many services there are.
    services: HashMap<String, usize>,
}

impl Cluster {
    /// A cluster in the scenario's initial state: both Deployments rolled out, stable pods
    /// Running and Ready, created a few minutes before `now` so the demo starts healthy.
    pub fn new(scenario: Scenario, now: f64) -> Cluster {
        let seed = (now * 1e6) as u64 ^ u64::from(std::process::id()).rotate_left(32);
        let mut c = Cluster {
            store: Store::new(seed),
            scenario,
            clocks: HashMap::new(),
            services: HashMap::new(),
        };
        for (i, svc) in c.scenario.all_services().enumerate() {
            c.services.entry(svc.app.to_string()).or_insert(i);
        }
        // resourceVersions that only grow, across restarts too (as etcd's revision does):
        // counted from the start time in microseconds, so a client still holding one from
        // an earlier run relists instead of missing this run's objects.
        c.store.begin_at((now.max(0.0) * 1e6) as u64);
        let created = now - 300.0;
        for ns in [
            c.scenario.namespace.clone(),
            "default".into(),
            "kube-system".into(),
        ] {
            if c.store.get(Resource::Namespace, "", &ns).is_none() {
                let obj = objects::namespace(&ns, created - 86400.0);
                c.store
                    .create(Resource::Namespace, obj, created)
                    .expect("a fresh namespace is valid");
            }
        }
        let n = c.scenario.nodes.clone();
        for i in 1..=n.count {
            let name = format!("sim-node-{i}");
            if c.store.get(Resource::Node, "", &name).is_none() {
                let obj = objects::node(
                    &name,
                    &n.cpu,
                    &n.memory,
                    &c.scenario.kube_minor,
                    created - 86400.0,
                );
                c.store
                    .create(Resource::Node, obj, created)
                    .expect("a node is valid");
            }
        }
        for name in c.scenario.secrets.clone() {
            let ns = c.scenario.namespace.clone();
            if c.store.get(Resource::Secret, &ns, &name).is_none() {
                c.store
                    .create(
                        Resource::Secret,
                        objects::secret(&ns, &name, created),
                        created,
                    )
                    .expect("a secret is valid");
            }
        }
        for d in objects::initial_deployments(&c.scenario, created) {
            c.store
                .create(Resource::Deployment, d, created)
                .expect("the scenario's deployments are valid");
        }
        let scenario = &c.scenario;
        for (k, svc) in scenario.all_services().enumerate() {
            if svc.traffic.split == TrafficSplit::Replicas {
                continue;
            }
            for (i, d) in [svc.stable, svc.canary].into_iter().enumerate() {
                let ip = format!(
                    "10.96.{}.{}",
                    10 + 2 * k + i,
                    c.store.rng.next_u64() % 250 + 2
                );
                let obj = objects::service(scenario, svc, d, &ip, created);
                c.store
                    .create(Resource::Service, obj, created)
                    .expect("the scenario's services are valid");
            }
            let (res, route) = match svc.traffic.split {
                TrafficSplit::Istio => (
                    Resource::VirtualService,
                    objects::virtual_service(scenario, svc, created),
                ),
                _ => (
                    Resource::HttpRoute,
                    objects::http_route(scenario, svc, created),
                ),
            };
            c.store
                .create(res, route, created)
                .expect("the scenario's route is valid");
        }
        c.tick(created);
        c.tick(now);
        c.tick(now);
        c
    }

    /// The share of traffic each track (`track` label) of the first service gets from
    /// its route; see [`Cluster::traffic_split_of`].
    #[cfg(test)]
    pub fn traffic_split(&self) -> Option<BTreeMap<String, f64>> {
        self.traffic_split_of(self.scenario.first_service())
    }

    /// Each service's split by its route, keyed by app: the services whose traffic
    /// follows route weights rather than ready pods right now.
    pub fn traffic_splits(&self) -> BTreeMap<String, BTreeMap<String, f64>> {
        self.scenario
            .all_services()
            .filter_map(|svc| Some((svc.app.to_string(), self.traffic_split_of(svc)?)))
            .collect()
    }

    /// The share of traffic each track (`track` label) of a service gets from the route
    /// named after its stable Deployment (an HTTPRoute's backendRefs, or a
    /// VirtualService's destinations), by weight; None without that route (traffic then
    /// follows ready pods). A backend names a Service: its selector's `track` says which
    /// pods it reaches. The first rule is the one the simulated clients' requests match.
    pub fn traffic_split_of(&self, svc: ServiceRef<'_>) -> Option<BTreeMap<String, f64>> {
        let ns = &self.scenario.namespace;
        let name = &svc.stable.name;
        // (Service, weight) of each backend.
        let backends: Vec<(&str, f64)> = match svc.traffic.split {
            TrafficSplit::Replicas => return None,
            TrafficSplit::Gateway => {
                let route = self.store.get(Resource::HttpRoute, ns, name)?;
                let refs = route
                    .pointer("/spec/rules/0/backendRefs")
                    .and_then(Value::as_array)?;
                // The Gateway API's default weight is 1.
                refs.iter()
                    .map(|r| (str_at(r, "/name"), weight(r, 1.0)))
                    .collect()
            }
            TrafficSplit::Istio => {
                let vs = self.store.get(Resource::VirtualService, ns, name)?;
                let dests = vs.pointer("/spec/http/0/route").and_then(Value::as_array)?;
                // Istio: a lone destination takes everything; otherwise an unset weight is 0.
                let lone = if dests.len() == 1 { 100.0 } else { 0.0 };
                dests
                    .iter()
                    .map(|d| (str_at(d, "/destination/host"), weight(d, lone)))
                    .collect()
            }
        };
        let mut split = BTreeMap::new();
        for (name, weight) in backends {
            let track = match self.store.get(Resource::Service, ns, name) {
                Some(service) => str_at(service, "/spec/selector/track").to_string(),
                // A backend without a Service reaches no pods: its share fails.
                None => format!("<missing service {name}>"),
            };
            *split.entry(track).or_insert(0.0) += weight;
        }
        Some(split)
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The service a pod belongs to by its `app` label, whose versions say how its
    /// containers behave (a tag means that service's build); a pod of an app the
    /// scenario does not name counts as the first service's.
    fn service_of(&self, pod: &Value) -> ServiceRef<'_> {
        let app = str_at(pod, "/metadata/labels/app");
        match self.services.get(app) {
            Some(&i) => self.scenario.service_at(i),
            None => self.scenario.first_service(),
        }
    }

    /// One reconcile pass of every controller.
    pub fn tick(&mut self, now: f64) {
        self.kubelet(now);
        self.collect_garbage(now);
        // ReplicaSet status first, so the deployment controller decides on fresh counts;
        // again after it, so the pods it asked for exist within the same tick.
        self.sync_replicasets(now);
        let deployments: Vec<_> = self
            .store
            .list(Resource::Deployment, None)
            .map(|d| key_of(d))
            .collect();
        for (ns, name) in deployments {
            self.sync_deployment(&ns, &name, now);
        }
        self.sync_replicasets(now);
        // The pods asked for this tick get their nodes in it; the kubelet starts them next.
        self.scheduler(now);
    }

    /// Deletes a pod the way the API does: gracefully (it shows Terminating until the
    /// kubelet has stopped it) unless the grace period is 0.
    pub fn delete_pod(
        &mut self,
        ns: &str,
        name: &str,
        grace: Option<i64>,
        now: f64,
    ) -> Option<Arc<Value>> {
        let pod = self.store.get(Resource::Pod, ns, name)?.clone();
        let grace = grace.unwrap_or_else(|| {
            pod.pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(30)
        });
        if grace <= 0 {
            return self.store.delete(Resource::Pod, ns, name);
        }
        if let Some(uid) = pod.pointer("/metadata/uid").and_then(Value::as_str)
            && let Some(clock) = self.clocks.get_mut(uid)
        {
            clock.terminating_since.get_or_insert(now);
        }
        self.store
            .mark_deleting(Resource::Pod, ns, name, &rfc3339(now + grace as f64), grace)
    }

    // ---------------------------------------------------------------- garbage collector

    /// Removes what lost its owner: ReplicaSets of deleted Deployments, pods of deleted
    /// ReplicaSets (background propagation, as `kubectl delete` asks for).
    fn collect_garbage(&mut self, now: f64) {
        let uids = |store: &Store, res| -> HashSet<String> {
            store
                .list(res, None)
                .filter_map(|o| o.pointer("/metadata/uid").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        };
        let deployments = uids(&self.store, Resource::Deployment);
        let orphans: Vec<_> = self
            .store
            .list(Resource::ReplicaSet, None)
            .filter(|rs| controller_uid(rs).is_some_and(|u| !deployments.contains(u)))
            .map(|rs| key_of(rs))
            .collect();
        for (ns, name) in orphans {
            self.store.delete(Resource::ReplicaSet, &ns, &name);
        }
        let replicasets = uids(&self.store, Resource::ReplicaSet);
        let orphans: Vec<_> = self
            .store
            .list(Resource::Pod, None)
            .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
            .filter(|p| controller_uid(p).is_some_and(|u| !replicasets.contains(u)))
            .map(|p| key_of(p))
            .collect();
        for (ns, name) in orphans {
            self.delete_pod(&ns, &name, None, now);
        }
    }

    // ---------------------------------------------------------------- kubelet

    fn kubelet(&mut self, now: f64) {
        let pods: Vec<Arc<Value>> = self.store.list(Resource::Pod, None).cloned().collect();
        let live: HashSet<&str> = pods
            .iter()
            .filter_map(|p| p.pointer("/metadata/uid").and_then(Value::as_str))
            .collect();
        self.clocks.retain(|uid, _| live.contains(uid.as_str()));
        let terminate = self.scenario.timing.terminate.0.as_secs_f64();
        for pod in &pods {
            let uid = pod
                .pointer("/metadata/uid")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let created = pod
                .pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .and_then(parse_time)
                .unwrap_or(now);
            let clock = self.clocks.entry(uid).or_insert(PodClock {
                created,
                terminating_since: None,
            });
            if pod.pointer("/metadata/deletionTimestamp").is_some() {
                let since = *clock.terminating_since.get_or_insert(now);
                if now >= since + terminate {
                    let (ns, name) = key_of(pod);
                    self.store.delete(Resource::Pod, &ns, &name);
                    continue;
                }
            }
            // No node yet: no kubelet to start it.
            if pod.pointer("/spec/nodeName").is_none() {
                continue;
            }
            let clock = *clock;
            let status = pod_status(self.service_of(pod), pod, clock, now);
            // Most pods, most ticks, are as they were: nothing to write, nothing to say.
            if pod.get("status") == Some(&status) {
                continue;
            }
            let mut updated = (**pod).clone();
            updated["status"] = status;
            self.kubelet_events(pod, &updated, now);
            self.store
                .update(Resource::Pod, updated)
                .expect("the pod was just listed");
        }
    }

    /// What the kubelet says about a pod as its container's state changes: a pull that
    /// failed, a back-off, a readiness probe that fails (`kubectl describe pod` shows them).
    fn kubelet_events(&mut self, old: &Value, new: &Value, now: f64) {
        let reason = |p: &Value| {
            p.pointer("/status/containerStatuses/0/state/waiting/reason")
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let running = |p: &Value| {
            p.pointer("/status/containerStatuses/0/state/running")
                .is_some()
        };
        let name = str_at(new, "/metadata/name").to_string();
        let container = str_at(new, "/spec/containers/0/name").to_string();
        let image = str_at(new, "/spec/containers/0/image").to_string();
        let (was, is) = (reason(old), reason(new));
        let said = match is.as_deref() {
            _ if was == is => None,
            Some("ErrImagePull") => Some((
                "Warning",
                "Failed",
                format!("Failed to pull image \"{image}\": not found"),
            )),
            Some("ImagePullBackOff") => Some((
                "Normal",
                "BackOff",
                format!("Back-off pulling image \"{image}\""),
            )),
            Some("CrashLoopBackOff") => Some((
                "Warning",
                "BackOff",
                format!("Back-off restarting failed container {container} in pod {name}"),
            )),
            _ => None,
        };
        if let Some((ty, why, message)) = said {
            record_event(&mut self.store, now, new, ty, why, message, "kubelet");
        }
        let never_ready = self
            .service_of(new)
            .behavior(&image)
            .is_some_and(|b| b.never_ready);
        if never_ready && running(new) && !running(old) {
            record_event(
                &mut self.store,
                now,
                new,
                "Warning",
                "Unhealthy",
                "Readiness probe failed: HTTP probe failed with statuscode: 503".into(),
                "kubelet",
            );
        }
    }

    // ---------------------------------------------------------------- ReplicaSet controller

    fn sync_replicasets(&mut self, now: f64) {
        let keys: Vec<_> = self
            .store
            .list(Resource::ReplicaSet, None)
            .map(|rs| key_of(rs))
            .collect();
        // Each ReplicaSet's active pods, from one pass over the pods (not one per
        // ReplicaSet): a tick costs the same per pod at ten pods or a thousand.
        let mut active: HashMap<String, Vec<Arc<Value>>> = HashMap::new();
        for p in self.store.list(Resource::Pod, None) {
            if p.pointer("/metadata/deletionTimestamp").is_none()
                && let Some(uid) = controller_uid(p)
            {
                active.entry(uid.to_string()).or_default().push(p.clone());
            }
        }
        for (ns, name) in keys {
            let uid = self
                .store
                .get(Resource::ReplicaSet, &ns, &name)
                .and_then(|rs| rs.pointer("/metadata/uid").and_then(Value::as_str))
                .unwrap_or("")
                .to_string();
            let pods = active.remove(&uid).unwrap_or_default();
            self.sync_replicaset(&ns, &name, pods, now);
        }
    }

    /// `active`: the ReplicaSet's pods that are not being deleted.
    fn sync_replicaset(&mut self, ns: &str, name: &str, mut active: Vec<Arc<Value>>, now: f64) {
        let Some(rs) = self.store.get(Resource::ReplicaSet, ns, name).cloned() else {
            return;
        };
        let uid = rs
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("");
        let owned = |store: &Store| -> Vec<Arc<Value>> {
            store
                .list(Resource::Pod, Some(ns))
                .filter(|p| controller_uid(p) == Some(uid))
                .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
                .cloned()
                .collect()
        };
        let want = int(&rs, "/spec/replicas").max(0) as usize;
        if active.len() < want {
            for _ in active.len()..want {
                self.create_pod(&rs, now);
            }
            active = owned(&self.store);
        } else if active.len() > want {
            // The real controller's preference: delete pods that are the least far along
            // (unscheduled, pending, not ready, ready the shortest time), newest first.
            active.sort_by(|a, b| {
                deletion_rank(a)
                    .partial_cmp(&deletion_rank(b))
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            for p in &active[..active.len() - want] {
                let (pns, pname) = key_of(p);
                self.delete_pod(&pns, &pname, None, now);
            }
            active = owned(&self.store);
        }
        let min_ready = int(&rs, "/spec/minReadySeconds") as f64;
        let ready = active.iter().filter(|p| pod_ready(p)).count();
        let available = active
            .iter()
            .filter(|p| pod_available(p, min_ready, now))
            .count();
        let mut status = Map::new();
        status.insert("replicas".into(), json!(active.len()));
        insert_nonzero(&mut status, "fullyLabeledReplicas", active.len() as i64);
        insert_nonzero(&mut status, "readyReplicas", ready as i64);
        insert_nonzero(&mut status, "availableReplicas", available as i64);
        insert_nonzero(
            &mut status,
            "observedGeneration",
            int(&rs, "/metadata/generation"),
        );
        let mut updated = (*rs).clone();
        updated["status"] = Value::Object(status);
        self.store
            .update(Resource::ReplicaSet, updated)
            .expect("the replicaset was just read");
    }

    fn create_pod(&mut self, rs: &Value, now: f64) {
        let (ns, rs_name) = key_of(rs);
        let template = rs.pointer("/spec/template").cloned().unwrap_or_default();
        let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
        let defaults = json!({
            "serviceAccountName": "default",
            "serviceAccount": "default",
            "enableServiceLinks": true,
            "priority": 0,
            "preemptionPolicy": "PreemptLowerPriority",
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            ],
        });
        for (k, v) in defaults.as_object().expect("a literal object") {
            spec.as_object_mut()
                .map(|s| s.entry(k.clone()).or_insert(v.clone()));
        }
        // Pods (not templates) get requests defaulted from limits.
        if let Some(cs) = spec.get_mut("containers").and_then(Value::as_array_mut) {
            for c in cs {
                if let Some(limits) = c.pointer("/resources/limits").cloned()
                    && c.pointer("/resources/requests").is_none()
                {
                    c["resources"]["requests"] = limits;
                }
            }
        }
        let qos = qos_class(&spec);
        let mut meta = json!({
            "name": format!("{rs_name}-{}", self.store.rng.alphanumeric(5)),
            "generateName": format!("{rs_name}-"),
            "namespace": ns,
            "labels": template.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({})),
            "ownerReferences": [owner_ref(rs, "ReplicaSet")],
        });
        if let Some(a) = template.pointer("/metadata/annotations") {
            meta["annotations"] = a.clone();
        }
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": spec,
            "status": {
                "phase": "Pending",
                "qosClass": qos,
            },
        });
        match self.store.create(Resource::Pod, pod, now) {
            Ok(p) => {
                let uid = p
                    .pointer("/metadata/uid")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                self.clocks.insert(
                    uid.to_string(),
                    PodClock {
                        created: now,
                        terminating_since: None,
                    },
                );
            }
            // A generated name taken: the next tick tries another.
            Err(ApiError { code: 409, .. }) => {}
            Err(e) => panic!("creating a pod from a stored template failed: {e}"),
        }
    }

    /// The scheduler's pass: each pod still waiting for a node gets one once a node has
    /// room (its kubelet starts it from then on); one that still fits nowhere keeps
    /// waiting, and a new reason is said once.
    fn scheduler(&mut self, now: f64) {
        let nodes = &self.scenario.nodes;
        let count = nodes.count as usize;
        let room = (
            crate::runbook::verify::cores(&nodes.cpu).unwrap_or(0.0),
            crate::runbook::verify::bytes(&nodes.memory).unwrap_or(0.0),
        );
        // What each node's pods request (pods being deleted still hold theirs), summed
        // once per pass, and the pods waiting for a node.
        let mut used = vec![(0.0, 0.0); count];
        let mut waiting: Vec<Arc<Value>> = Vec::new();
        for p in self.store.list(Resource::Pod, None) {
            match node_index(p) {
                Some(i) if i < count => {
                    let (c, m) = requests(p.get("spec").unwrap_or(&Value::Null));
                    used[i].0 += c;
                    used[i].1 += m;
                }
                Some(_) => {}
                None if p.pointer("/metadata/deletionTimestamp").is_none() => {
                    waiting.push(p.clone())
                }
                None => {}
            }
        }
        for pod in waiting {
            let want = requests(pod.get("spec").unwrap_or(&Value::Null));
            let mut updated = (*pod).clone();
            match place(&mut used, room, want) {
                Ok(i) => {
                    updated["spec"]["nodeName"] = json!(format!("sim-node-{}", i + 1));
                    updated["status"]["conditions"] = json!([scheduled_condition(None, now)]);
                    // Its containers start from now, not from when it was created.
                    if let Some(uid) = pod.pointer("/metadata/uid").and_then(Value::as_str)
                        && let Some(clock) = self.clocks.get_mut(uid)
                    {
                        clock.created = now;
                    }
                }
                Err(why) => {
                    let said = pod
                        .pointer("/status/conditions/0/message")
                        .and_then(Value::as_str);
                    if said == Some(why.as_str()) {
                        continue;
                    }
                    updated["status"]["conditions"] = json!([scheduled_condition(Some(&why), now)]);
                    record_event(
                        &mut self.store,
                        now,
                        &pod,
                        "Warning",
                        "FailedScheduling",
                        why,
                        "default-scheduler",
                    );
                }
            }
            self.store
                .update(Resource::Pod, updated)
                .expect("the pod was just listed");
        }
    }

    // ---------------------------------------------------------------- deployment controller

    fn sync_deployment(&mut self, ns: &str, name: &str, now: f64) {
        let Some(d) = self.store.get(Resource::Deployment, ns, name).cloned() else {
            return;
        };
        if d.pointer("/metadata/deletionTimestamp").is_some() {
            return;
        }
        let uid = d
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut rss: Vec<Value> = self
            .store
            .list(Resource::ReplicaSet, Some(ns))
            .filter(|rs| controller_uid(rs) == Some(uid))
            .map(|rs| (**rs).clone())
            .collect();
        sort_by_creation(&mut rss);
        let mut sync = DeploymentSync {
            store: &mut self.store,
            now,
            d: (*d).clone(),
            rss,
        };
        sync.check_paused_conditions();
        if bool_at(&sync.d, "/spec/paused") || sync.is_scaling_event() {
            sync.sync();
        } else if str_at(&sync.d, "/spec/strategy/type") == "Recreate" {
            sync.rollout_recreate();
        } else {
            sync.rollout_rolling();
        }
    }
}

/// One pass of the deployment controller over one Deployment and its ReplicaSets
/// (`rss`, oldest first). Writes go to the store at once, as the real controller's
/// API calls do; the local copies follow them.
struct DeploymentSync<'a> {
    store: &'a mut Store,
    now: f64,
    d: Value,
    rss: Vec<Value>,
}

impl DeploymentSync<'_> {
    fn replicas(&self) -> i64 {
        self.d
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1)
    }

    fn write_deployment(&mut self) {
        if let Ok(d) = self.store.update(Resource::Deployment, self.d.clone()) {
            self.d = (*d).clone();
        }
    }

    fn write_rs(&mut self, i: usize) {
        if let Ok(rs) = self.store.update(Resource::ReplicaSet, self.rss[i].clone()) {
            self.rss[i] = (*rs).clone();
        }
    }

    fn old_indices(&self, new: Option<usize>) -> Vec<usize> {
        (0..self.rss.len()).filter(|&i| Some(i) != new).collect()
    }

    fn total_spec(&self, indices: impl IntoIterator<Item = usize>) -> i64 {
        indices
            .into_iter()
            .map(|i| int(&self.rss[i], "/spec/replicas"))
            .sum()
    }

    fn total_status(&self, indices: impl IntoIterator<Item = usize>, field: &str) -> i64 {
        let ptr = format!("/status/{field}");
        indices.into_iter().map(|i| int(&self.rss[i], &ptr)).sum()
    }

    fn event(&mut self, reason: &str, message: String) {
        record_event(
            self.store,
            self.now,
            &self.d,
            "Normal",
            reason,
            message,
            "deployment-controller",
        );
    }

    /// The ReplicaSet whose template is the Deployment's (the oldest if several).
    fn find_new(&self) -> Option<usize> {
        let template = self.d.pointer("/spec/template")?;
        self.rss.iter().position(|rs| {
            rs.pointer("/spec/template")
                .is_some_and(|t| templates_equal(t, template))
        })
    }

    /// `getAllReplicaSetsAndSyncRevision`: finds (or creates) the new ReplicaSet and keeps
    /// the revision annotations of it and the Deployment in step.
    fn new_rs_synced(&mut self, create: bool) -> Option<usize> {
        let existing = self.find_new();
        let max_old = self
            .old_indices(existing)
            .into_iter()
            .map(|i| revision(&self.rss[i]))
            .max()
            .unwrap_or(0);
        let new_revision = max_old + 1;
        if let Some(i) = existing {
            let mut rs = self.rss[i].clone();
            let mut changed = set_new_rs_annotations(&self.d, &mut rs, new_revision, true);
            let min_ready = self.d.pointer("/spec/minReadySeconds").cloned();
            if rs.pointer("/spec/minReadySeconds").cloned() != min_ready {
                match min_ready {
                    Some(m) => rs["spec"]["minReadySeconds"] = m,
                    None => {
                        rs["spec"]
                            .as_object_mut()
                            .map(|s| s.remove("minReadySeconds"));
                    }
                }
                changed = true;
            }
            if changed {
                self.rss[i] = rs;
                self.write_rs(i);
            }
            let rev = revision(&self.rss[i]).to_string();
            let mut needs_update = set_annotation(&mut self.d, REVISION, &rev);
            if has_progress_deadline(&self.d) && condition_of(&self.d, "Progressing").is_none() {
                let name = str_at(&self.rss[i], "/metadata/name").to_string();
                let c = deployment_condition(
                    "Progressing",
                    "True",
                    "FoundNewReplicaSet",
                    format!("Found new replica set \"{name}\""),
                    self.now,
                );
                set_condition(&mut self.d, c);
                needs_update = true;
            }
            if needs_update {
                self.write_deployment();
            }
            return Some(i);
        }
        if !create {
            return None;
        }
        let mut template = self
            .d
            .pointer("/spec/template")
            .cloned()
            .unwrap_or_default();
        let collisions = int(&self.d, "/status/collisionCount");
        let hash = pod_template_hash(&template, collisions);
        if !template.get("metadata").is_some_and(Value::is_object) {
            template["metadata"] = json!({});
        }
        if !template["metadata"]
            .get("labels")
            .is_some_and(Value::is_object)
        {
            template["metadata"]["labels"] = json!({});
        }
        template["metadata"]["labels"][HASH_LABEL] = json!(hash);
        let mut selector = self
            .d
            .pointer("/spec/selector")
            .cloned()
            .unwrap_or_default();
        if !selector.get("matchLabels").is_some_and(Value::is_object) {
            selector["matchLabels"] = json!({});
        }
        selector["matchLabels"][HASH_LABEL] = json!(hash);
        let (ns, dname) = key_of(&self.d);
        let rs_name = format!("{dname}-{hash}");
        let mut spec = json!({"replicas": 0, "selector": selector, "template": template.clone()});
        if let Some(m) = self.d.pointer("/spec/minReadySeconds") {
            spec["minReadySeconds"] = m.clone();
        }
        let mut rs = json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": rs_name,
                "namespace": ns,
                "labels": template["metadata"]["labels"].clone(),
                "ownerReferences": [owner_ref(&self.d, "Deployment")],
            },
            "spec": spec,
            "status": {"replicas": 0},
        });
        let all = self.total_spec(0..self.rss.len());
        let count = new_rs_new_replicas(&self.d, all, 0);
        rs["spec"]["replicas"] = json!(count);
        set_new_rs_annotations(&self.d, &mut rs, new_revision, false);
        match self.store.create(Resource::ReplicaSet, rs, self.now) {
            Ok(created) => self.rss.push((*created).clone()),
            Err(_) => {
                // The name is taken by a ReplicaSet with another template: like the real
                // controller, count the collision so the next hash differs.
                let status = self.d["status"].as_object_mut();
                if let Some(s) = status {
                    s.insert("collisionCount".into(), json!(collisions + 1));
                } else {
                    self.d["status"] = json!({"collisionCount": collisions + 1});
                }
                self.write_deployment();
                return None;
            }
        }
        let i = self.rss.len() - 1;
        if count > 0 {
            self.event(
                "ScalingReplicaSet",
                format!("Scaled up replica set {rs_name} from 0 to {count}"),
            );
        }
        if has_progress_deadline(&self.d) {
            let c = deployment_condition(
                "Progressing",
                "True",
                "NewReplicaSetCreated",
                format!("Created new replica set \"{rs_name}\""),
                self.now,
            );
            set_condition(&mut self.d, c);
        }
        set_annotation(&mut self.d, REVISION, &new_revision.to_string());
        self.write_deployment();
        Some(i)
    }

    fn is_scaling_event(&mut self) -> bool {
        // Also keeps the revision annotations in step, as the real check does.
        self.new_rs_synced(false);
        let replicas = self.replicas();
        (0..self.rss.len())
            .filter(|&i| int(&self.rss[i], "/spec/replicas") > 0)
            .any(|i| annotation_int(&self.rss[i], DESIRED_REPLICAS).is_some_and(|d| d != replicas))
    }

    fn check_paused_conditions(&mut self) {
        if !has_progress_deadline(&self.d) {
            return;
        }
        let cond = condition_of(&self.d, "Progressing");
        let reason = cond.map(|c| str_at(c, "/reason").to_string());
        if reason.as_deref() == Some("ProgressDeadlineExceeded") {
            return;
        }
        let paused_cond = reason.as_deref() == Some("DeploymentPaused");
        let paused = bool_at(&self.d, "/spec/paused");
        let c = if paused && !paused_cond {
            deployment_condition(
                "Progressing",
                "Unknown",
                "DeploymentPaused",
                "Deployment is paused".into(),
                self.now,
            )
        } else if !paused && paused_cond {
            deployment_condition(
                "Progressing",
                "Unknown",
                "DeploymentResumed",
                "Deployment is resumed".into(),
                self.now,
            )
        } else {
            return;
        };
        set_condition(&mut self.d, c);
        self.write_deployment();
    }

    /// `sync`: for paused Deployments and scaling events — scale, never roll.
    fn sync(&mut self) {
        let new = self.new_rs_synced(false);
        self.scale(new);
        if bool_at(&self.d, "/spec/paused") {
            self.cleanup(new);
        }
        let status = self.calculate_status(new);
        self.d["status"] = status;
        self.write_deployment();
    }

    fn scale(&mut self, new: Option<usize>) {
        let replicas = self.replicas();
        let active: Vec<usize> = (0..self.rss.len())
            .filter(|&i| int(&self.rss[i], "/spec/replicas") > 0)
            .collect();
        // One active ReplicaSet (or none: then the newest) takes the whole count.
        let active_or_latest = match active.len() {
            0 => new.or_else(|| {
                self.old_indices(new)
                    .into_iter()
                    .max_by(|&a, &b| creation_order(&self.rss[a], &self.rss[b]))
            }),
            1 => Some(active[0]),
            _ => None,
        };
        if let Some(i) = active_or_latest {
            if int(&self.rss[i], "/spec/replicas") != replicas {
                self.scale_rs(i, replicas);
            }
            return;
        }
        if let Some(n) = new
            && self.is_saturated(n)
        {
            for i in self.old_indices(new) {
                if int(&self.rss[i], "/spec/replicas") > 0 {
                    self.scale_rs(i, 0);
                }
            }
            return;
        }
        if str_at(&self.d, "/spec/strategy/type") == "Recreate" {
            return;
        }
        // Several active ReplicaSets mid-rollout: scale each in proportion to its size.
        let mut all = active;
        let total = self.total_spec(all.iter().copied());
        let allowed = if replicas > 0 {
            replicas + max_surge(&self.d)
        } else {
            0
        };
        let to_add = allowed - total;
        if to_add > 0 {
            // Largest first, newest first among equals.
            all.sort_by(|&a, &b| {
                int(&self.rss[b], "/spec/replicas")
                    .cmp(&int(&self.rss[a], "/spec/replicas"))
                    .then_with(|| creation_order(&self.rss[b], &self.rss[a]))
            });
        } else if to_add < 0 {
            // Largest first, oldest first among equals.
            all.sort_by(|&a, &b| {
                int(&self.rss[b], "/spec/replicas")
                    .cmp(&int(&self.rss[a], "/spec/replicas"))
                    .then_with(|| creation_order(&self.rss[a], &self.rss[b]))
            });
        }
        let mut added = 0;
        let mut sizes: Vec<(usize, i64)> = Vec::new();
        for &i in &all {
            let size = int(&self.rss[i], "/spec/replicas");
            if to_add != 0 {
                let p = self.proportion(i, to_add, added);
                sizes.push((i, size + p));
                added += p;
            } else {
                sizes.push((i, size));
            }
        }
        if let Some(first) = sizes.first_mut()
            && to_add != 0
        {
            first.1 = (first.1 + to_add - added).max(0);
        }
        for (i, size) in sizes {
            self.scale_rs(i, size);
        }
    }

    fn proportion(&self, i: usize, to_add: i64, added: i64) -> i64 {
        let size = int(&self.rss[i], "/spec/replicas");
        if size == 0 || to_add == 0 || to_add == added {
            return 0;
        }
        let replicas = self.replicas();
        let fraction = if replicas == 0 {
            -size
        } else {
            let target = replicas + max_surge(&self.d);
            let annotated = annotation_int(&self.rss[i], MAX_REPLICAS)
                .unwrap_or_else(|| int(&self.d, "/status/replicas"));
            if annotated == 0 {
                0
            } else {
                ((size * target) as f64 / annotated as f64).round() as i64 - size
            }
        };
        let allowed = to_add - added;
        if to_add > 0 {
            fraction.min(allowed)
        } else {
            fraction.max(allowed)
        }
    }

    fn is_saturated(&self, i: usize) -> bool {
        let rs = &self.rss[i];
        let replicas = self.replicas();
        int(rs, "/spec/replicas") == replicas
            && annotation_int(rs, DESIRED_REPLICAS) == Some(replicas)
            && int(rs, "/status/availableReplicas") == replicas
    }

    /// Sets a ReplicaSet's size and the replica annotations, and records the event.
    fn scale_rs(&mut self, i: usize, size: i64) {
        let old = int(&self.rss[i], "/spec/replicas");
        let replicas = self.replicas();
        let max = replicas + max_surge(&self.d);
        let mut rs = self.rss[i].clone();
        let annotations_changed = set_replicas_annotations(&mut rs, replicas, max);
        if old == size && !annotations_changed {
            return;
        }
        rs["spec"]["replicas"] = json!(size);
        self.rss[i] = rs;
        self.write_rs(i);
        if old != size {
            let op = if size > old { "up" } else { "down" };
            let name = str_at(&self.rss[i], "/metadata/name").to_string();
            self.event(
                "ScalingReplicaSet",
                format!("Scaled {op} replica set {name} from {old} to {size}"),
            );
        }
    }

    fn rollout_rolling(&mut self) {
        let Some(new) = self.new_rs_synced(true) else {
            return;
        };
        if self.reconcile_new(new) || self.reconcile_old(new) {
            self.sync_rollout_status(Some(new));
            return;
        }
        if deployment_complete(&self.d, &self.d["status"]) {
            self.cleanup(Some(new));
        }
        self.sync_rollout_status(Some(new));
    }

    fn reconcile_new(&mut self, new: usize) -> bool {
        let replicas = self.replicas();
        let current = int(&self.rss[new], "/spec/replicas");
        if current == replicas {
            return false;
        }
        if current > replicas {
            self.scale_rs(new, replicas);
            return true;
        }
        let all = self.total_spec(0..self.rss.len());
        let count = new_rs_new_replicas(&self.d, all, current);
        self.scale_rs(new, count);
        count != current
    }

    fn reconcile_old(&mut self, new: usize) -> bool {
        let old: Vec<usize> = self
            .old_indices(Some(new))
            .into_iter()
            .filter(|&i| int(&self.rss[i], "/spec/replicas") > 0)
            .collect();
        if self.total_spec(old.iter().copied()) == 0 {
            return false;
        }
        let all_pods = self.total_spec(0..self.rss.len());
        let min_available = self.replicas() - max_unavailable(&self.d);
        let new_unavailable = int(&self.rss[new], "/spec/replicas")
            - int(&self.rss[new], "/status/availableReplicas");
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return false;
        }
        // Unhealthy old replicas go first: removing them costs no availability.
        let mut cleaned = 0;
        for &i in &old {
            if cleaned >= max_scaled_down {
                break;
            }
            let size = int(&self.rss[i], "/spec/replicas");
            let available = int(&self.rss[i], "/status/availableReplicas");
            if size == 0 || size == available {
                continue;
            }
            let n = (max_scaled_down - cleaned).min(size - available);
            self.scale_rs(i, size - n);
            cleaned += n;
        }
        // Then healthy ones, as far as minimum availability allows.
        let available = self.total_status(0..self.rss.len(), "availableReplicas");
        let mut scaled = 0;
        if available > min_available {
            let budget = available - min_available;
            for &i in &old {
                if scaled >= budget {
                    break;
                }
                let size = int(&self.rss[i], "/spec/replicas");
                if size == 0 {
                    continue;
                }
                let n = size.min(budget - scaled);
                self.scale_rs(i, size - n);
                scaled += n;
            }
        }
        cleaned + scaled > 0
    }

    fn rollout_recreate(&mut self) {
        let new = self.new_rs_synced(false);
        let mut scaled_down = false;
        for i in self.old_indices(new) {
            if int(&self.rss[i], "/spec/replicas") > 0 {
                self.scale_rs(i, 0);
                scaled_down = true;
            }
        }
        if scaled_down {
            self.sync_rollout_status(new);
            return;
        }
        // Recreate waits until no old pod exists at all, terminating ones included.
        let old_uids: HashSet<String> = self
            .old_indices(new)
            .into_iter()
            .map(|i| str_at(&self.rss[i], "/metadata/uid").to_string())
            .collect();
        let ns = str_at(&self.d, "/metadata/namespace").to_string();
        let old_running = self
            .store
            .list(Resource::Pod, Some(&ns))
            .any(|p| controller_uid(p).is_some_and(|u| old_uids.contains(u)));
        if old_running {
            self.sync_rollout_status(new);
            return;
        }
        let new = match new {
            Some(n) => Some(n),
            None => self.new_rs_synced(true),
        };
        if let Some(n) = new {
            let replicas = self.replicas();
            if int(&self.rss[n], "/spec/replicas") != replicas {
                self.scale_rs(n, replicas);
            }
        }
        if deployment_complete(&self.d, &self.d["status"]) {
            self.cleanup(new);
        }
        self.sync_rollout_status(new);
    }

    /// Deletes the oldest unused ReplicaSets beyond `revisionHistoryLimit`.
    fn cleanup(&mut self, new: Option<usize>) {
        let Some(limit) = self
            .d
            .pointer("/spec/revisionHistoryLimit")
            .and_then(Value::as_i64)
        else {
            return;
        };
        let mut old = self.old_indices(new);
        let excess = old.len() as i64 - limit;
        if excess <= 0 {
            return;
        }
        old.sort_by_key(|&i| revision(&self.rss[i]));
        let mut doomed = Vec::new();
        for &i in old.iter().take(excess as usize) {
            let rs = &self.rss[i];
            if int(rs, "/status/replicas") != 0
                || int(rs, "/spec/replicas") != 0
                || int(rs, "/metadata/generation") > int(rs, "/status/observedGeneration")
            {
                continue;
            }
            doomed.push(key_of(rs));
        }
        for (ns, name) in doomed {
            self.store.delete(Resource::ReplicaSet, &ns, &name);
        }
        // `self.rss` keeps the deleted ones: they count zero in every sum that follows.
    }

    fn calculate_status(&self, new: Option<usize>) -> Value {
        let all = 0..self.rss.len();
        let available = self.total_status(all.clone(), "availableReplicas");
        let total = self.total_spec(all.clone());
        let mut status = Map::new();
        insert_nonzero(
            &mut status,
            "observedGeneration",
            int(&self.d, "/metadata/generation"),
        );
        insert_nonzero(
            &mut status,
            "replicas",
            self.total_status(all.clone(), "replicas"),
        );
        insert_nonzero(
            &mut status,
            "updatedReplicas",
            self.total_status(new, "replicas"),
        );
        insert_nonzero(
            &mut status,
            "readyReplicas",
            self.total_status(all, "readyReplicas"),
        );
        insert_nonzero(&mut status, "availableReplicas", available);
        insert_nonzero(
            &mut status,
            "unavailableReplicas",
            (total - available).max(0),
        );
        insert_nonzero(
            &mut status,
            "collisionCount",
            int(&self.d, "/status/collisionCount"),
        );
        if let Some(c) = self.d.pointer("/status/conditions") {
            status.insert("conditions".into(), c.clone());
        }
        let mut holder = json!({ "status": Value::Object(status) });
        let c = if available >= self.replicas() - max_unavailable(&self.d) {
            deployment_condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".into(),
                self.now,
            )
        } else {
            deployment_condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".into(),
                self.now,
            )
        };
        set_condition(&mut holder, c);
        holder["status"].take()
    }

    /// `syncRolloutStatus`: the status plus the Progressing condition (progress made,
    /// complete, or past the progress deadline).
    fn sync_rollout_status(&mut self, new: Option<usize>) {
        let mut holder = json!({ "status": self.calculate_status(new) });
        let has_deadline = has_progress_deadline(&self.d);
        if !has_deadline {
            remove_condition(&mut holder, "Progressing");
        }
        let current = condition_of(&self.d, "Progressing").cloned();
        let new_status = holder["status"].clone();
        let is_complete = int(&new_status, "/replicas") == int(&new_status, "/updatedReplicas")
            && current
                .as_ref()
                .is_some_and(|c| str_at(c, "/reason") == "NewReplicaSetAvailable");
        if has_deadline && !is_complete {
            let rs_name = new.map(|i| str_at(&self.rss[i], "/metadata/name").to_string());
            let dname = str_at(&self.d, "/metadata/name").to_string();
            let what = match &rs_name {
                Some(n) => format!("ReplicaSet \"{n}\""),
                None => format!("Deployment \"{dname}\""),
            };
            if deployment_complete(&self.d, &new_status) {
                let c = deployment_condition(
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    format!("{what} has successfully progressed."),
                    self.now,
                );
                set_condition(&mut holder, c);
            } else if deployment_progressing(&self.d["status"], &new_status) {
                let mut c = deployment_condition(
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    format!("{what} is progressing."),
                    self.now,
                );
                // Progress refreshes lastUpdateTime even when the reason stays the same.
                if let Some(cur) = &current {
                    if str_at(cur, "/status") == "True" {
                        c["lastTransitionTime"] = cur["lastTransitionTime"].clone();
                    }
                    remove_condition(&mut holder, "Progressing");
                }
                set_condition(&mut holder, c);
            } else if self.timed_out(&holder) {
                let c = deployment_condition(
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    format!("{what} has timed out progressing."),
                    self.now,
                );
                set_condition(&mut holder, c);
            }
        }
        self.d["status"] = holder["status"].take();
        self.write_deployment();
    }

    fn timed_out(&self, holder: &Value) -> bool {
        let Some(c) = condition_of(holder, "Progressing") else {
            return false;
        };
        match str_at(c, "/reason") {
            "NewReplicaSetAvailable" => false,
            "ProgressDeadlineExceeded" => true,
            _ => {
                let deadline = int(&self.d, "/spec/progressDeadlineSeconds") as f64;
                parse_time(str_at(c, "/lastUpdateTime"))
                    .is_some_and(|from| from + deadline < self.now)
            }
        }
    }
}

// ---------------------------------------------------------------- deployment helpers

fn has_progress_deadline(d: &Value) -> bool {
    d.pointer("/spec/progressDeadlineSeconds")
        .and_then(Value::as_i64)
        .is_some_and(|s| s != i64::from(i32::MAX))
}

fn deployment_complete(d: &Value, status: &Value) -> bool {
    let replicas = d
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    int(status, "/updatedReplicas") == replicas
        && int(status, "/replicas") == replicas
        && int(status, "/availableReplicas") == replicas
        && int(status, "/observedGeneration") >= int(d, "/metadata/generation")
}

fn deployment_progressing(old: &Value, new: &Value) -> bool {
    let old_old = int(old, "/replicas") - int(old, "/updatedReplicas");
    let new_old = int(new, "/replicas") - int(new, "/updatedReplicas");
    int(new, "/updatedReplicas") > int(old, "/updatedReplicas")
        || new_old < old_old
        || int(new, "/readyReplicas") > int(old, "/readyReplicas")
        || int(new, "/availableReplicas") > int(old, "/availableReplicas")
}

/// `25%` of `total`, rounded up or down; a plain number as is.
fn scaled_value(v: Option<&Value>, total: i64, round_up: bool, default_percent: i64) -> i64 {
    let percent = |p: i64| {
        let x = p * total;
        if round_up { (x + 99) / 100 } else { x / 100 }
    };
    match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => match s.strip_suffix('%') {
            Some(p) => percent(p.trim().parse().unwrap_or(0)),
            None => s.trim().parse().unwrap_or(0),
        },
        _ => percent(default_percent),
    }
}

/// `ResolveFenceposts`: (maxSurge, maxUnavailable) as pod counts.
fn fenceposts(d: &Value) -> (i64, i64) {
    let replicas = d
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let ru = d.pointer("/spec/strategy/rollingUpdate");
    let surge = scaled_value(ru.and_then(|r| r.get("maxSurge")), replicas, true, 25);
    let unavailable = scaled_value(
        ru.and_then(|r| r.get("maxUnavailable")),
        replicas,
        false,
        25,
    );
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

fn is_rolling(d: &Value) -> bool {
    str_at(d, "/spec/strategy/type") != "Recreate"
}

fn max_surge(d: &Value) -> i64 {
    if is_rolling(d) { fenceposts(d).0 } else { 0 }
}

fn max_unavailable(d: &Value) -> i64 {
    let replicas = d
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    if !is_rolling(d) || replicas == 0 {
        return 0;
    }
    fenceposts(d).1.min(replicas)
}

/// `NewRSNewReplicas`: how far the new ReplicaSet may grow now.
fn new_rs_new_replicas(d: &Value, all_pods: i64, new_size: i64) -> i64 {
    let replicas = d
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    if !is_rolling(d) {
        return replicas;
    }
    let max_total = replicas + max_surge(d);
    if all_pods >= max_total {
        return new_size;
    }
    new_size + (max_total - all_pods).min(replicas - new_size)
}

/// Copies the Deployment's annotations onto its new ReplicaSet and moves its revision up;
/// a re-used ReplicaSet keeps its former revisions in `revision-history`.
fn set_new_rs_annotations(d: &Value, rs: &mut Value, new_revision: i64, exists: bool) -> bool {
    let mut changed = false;
    if let Some(da) = d
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    {
        for (k, v) in da {
            if SKIP_COPY.contains(&k.as_str()) {
                continue;
            }
            if rs.pointer("/metadata/annotations").and_then(|a| a.get(k)) != Some(v) {
                annotations_mut(rs).insert(k.clone(), v.clone());
                changed = true;
            }
        }
    }
    let old = rs
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(REVISION))
        .and_then(Value::as_str)
        .map(str::to_string);
    let old_int = old
        .as_deref()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0);
    if old_int < new_revision {
        annotations_mut(rs).insert(REVISION.into(), json!(new_revision.to_string()));
        changed = true;
        if let Some(old) = old {
            let history = annotations_mut(rs)
                .get(REVISION_HISTORY)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let history = if history.is_empty() {
                old
            } else {
                format!("{history},{old}")
            };
            annotations_mut(rs).insert(REVISION_HISTORY.into(), json!(history));
        }
    }
    if !exists {
        let replicas = d
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        changed |= set_replicas_annotations(rs, replicas, replicas + max_surge(d));
    }
    changed
}

fn set_replicas_annotations(rs: &mut Value, desired: i64, max: i64) -> bool {
    let mut changed = false;
    for (k, v) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        let v = json!(v.to_string());
        let a = annotations_mut(rs);
        if a.get(k) != Some(&v) {
            a.insert(k.into(), v);
            changed = true;
        }
    }
    changed
}

fn set_annotation(obj: &mut Value, key: &str, value: &str) -> bool {
    let a = annotations_mut(obj);
    if a.get(key).and_then(Value::as_str) == Some(value) {
        return false;
    }
    a.insert(key.into(), json!(value));
    true
}

fn annotations_mut(obj: &mut Value) -> &mut Map<String, Value> {
    let meta = super::store::meta_mut(obj);
    if !meta.get("annotations").is_some_and(Value::is_object) {
        meta.insert("annotations".into(), json!({}));
    }
    meta.get_mut("annotations")
        .and_then(Value::as_object_mut)
        .expect("annotations was just made an object")
}

fn annotation_int(obj: &Value, key: &str) -> Option<i64> {
    obj.pointer("/metadata/annotations")?
        .get(key)?
        .as_str()?
        .parse()
        .ok()
}

fn revision(rs: &Value) -> i64 {
    annotation_int(rs, REVISION).unwrap_or(0)
}

/// Whether two pod templates are the same apart from the pod-template-hash label.
pub fn templates_equal(a: &Value, b: &Value) -> bool {
    fn strip(t: &Value) -> Value {
        let mut t = t.clone();
        if let Some(labels) = t
            .pointer_mut("/metadata/labels")
            .and_then(Value::as_object_mut)
        {
            labels.remove(HASH_LABEL);
            if labels.is_empty() {
                t["metadata"].as_object_mut().map(|m| m.remove("labels"));
            }
        }
        t
    }
    strip(a) == strip(b)
}

/// The pod-template-hash: FNV-1a of the template (and the collision count), its decimal
/// digits spelled in the Kubernetes name alphabet, as `controller.ComputeHash` does.
pub fn pod_template_hash(template: &Value, collisions: i64) -> String {
    // serde_json sorts object keys, so equal templates always serialize the same.
    let mut text = serde_json::to_string(template).unwrap_or_default();
    if collisions > 0 {
        text.push_str(&collisions.to_string());
    }
    let mut h: u32 = 0x811c_9dc5;
    for b in text.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let alphabet = super::store::NAME_ALPHABET;
    h.to_string()
        .bytes()
        .map(|b| alphabet[b as usize % alphabet.len()] as char)
        .collect()
}

fn condition_of<'a>(obj: &'a Value, ty: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(ty))
}

fn deployment_condition(ty: &str, status: &str, reason: &str, message: String, now: f64) -> Value {
    let t = rfc3339(now);
    json!({
        "type": ty,
        "status": status,
        "lastUpdateTime": t,
        "lastTransitionTime": t,
        "reason": reason,
        "message": message,
    })
}

/// `SetDeploymentCondition`: a condition with the same status and reason is left alone;
/// a status that did not change keeps its lastTransitionTime.
fn set_condition(obj: &mut Value, mut c: Value) {
    let ty = str_at(&c, "/type").to_string();
    if let Some(cur) = condition_of(obj, &ty) {
        if cur.get("status") == c.get("status") && cur.get("reason") == c.get("reason") {
            return;
        }
        if cur.get("status") == c.get("status") {
            c["lastTransitionTime"] = cur["lastTransitionTime"].clone();
        }
    }
    remove_condition(obj, &ty);
    if !obj.get("status").is_some_and(Value::is_object) {
        obj["status"] = json!({});
    }
    match obj["status"]
        .get_mut("conditions")
        .and_then(Value::as_array_mut)
    {
        Some(cs) => cs.push(c),
        None => obj["status"]["conditions"] = json!([c]),
    }
}

fn remove_condition(obj: &mut Value, ty: &str) {
    if let Some(cs) = obj
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    {
        cs.retain(|c| c.get("type").and_then(Value::as_str) != Some(ty));
    }
}

/// Writes a core/v1 Event about `about`, as the controllers' event recorders do.
pub fn record_event(
    store: &mut Store,
    now: f64,
    about: &Value,
    ty: &str,
    reason: &str,
    message: String,
    component: &str,
) {
    let (ns, name) = key_of(about);
    let nanos = (now * 1e9) as u64 + store.rng.next_u64() % 1000;
    let t = rfc3339(now);
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": format!("{name}.{nanos:x}"), "namespace": ns},
        "involvedObject": {
            "apiVersion": about.get("apiVersion").cloned().unwrap_or_default(),
            "kind": about.get("kind").cloned().unwrap_or_default(),
            "name": name,
            "namespace": ns,
            "uid": about.pointer("/metadata/uid").cloned().unwrap_or_default(),
            "resourceVersion": about.pointer("/metadata/resourceVersion").cloned().unwrap_or_default(),
        },
        "reason": reason,
        "message": message,
        "source": {"component": component},
        "firstTimestamp": t,
        "lastTimestamp": t,
        "count": 1,
        "type": ty,
        "eventTime": null,
        "reportingComponent": component,
        "reportingInstance": "",
    });
    // A name clash only loses one informational event.
    let _ = store.create(Resource::Event, event, now);
}

// ---------------------------------------------------------------- pod helpers

fn owner_ref(owner: &Value, kind: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": kind,
        "name": str_at(owner, "/metadata/name"),
        "uid": str_at(owner, "/metadata/uid"),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// The uid of the object's controlling owner.
pub fn controller_uid(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))?
        .get("uid")?
        .as_str()
}

fn node_index(pod: &Value) -> Option<usize> {
    let n: usize = str_at(pod, "/spec/nodeName")
        .strip_prefix("sim-node-")?
        .parse()
        .ok()?;
    n.checked_sub(1)
}

/// The scheduler's choice for a pod wanting `want` (cores, bytes): the node with the most
/// CPU left among those with `room` for it (its requests then count as used there), or
/// why none has, in the scheduler's words.
fn place(used: &mut [(f64, f64)], room: (f64, f64), want: (f64, f64)) -> Result<usize, String> {
    // A little slack for the sums of fractions.
    let fits = |have: f64, used: f64, want: f64| used + want <= have + 1e-9;
    let best = (0..used.len())
        .filter(|&i| fits(room.0, used[i].0, want.0) && fits(room.1, used[i].1, want.1))
        .max_by(|&a, &b| {
            (room.0 - used[a].0)
                .partial_cmp(&(room.0 - used[b].0))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(b.cmp(&a))
        });
    if let Some(i) = best {
        used[i].0 += want.0;
        used[i].1 += want.1;
        return Ok(i);
    }
    let count = used.len();
    let short = |n: usize, what: &str| (n > 0).then(|| format!("{n} Insufficient {what}"));
    let reasons: Vec<String> = [
        short(
            used.iter().filter(|u| !fits(room.0, u.0, want.0)).count(),
            "cpu",
        ),
        short(
            used.iter().filter(|u| !fits(room.1, u.1, want.1)).count(),
            "memory",
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    Err(format!(
        "0/{count} nodes are available: {}. preemption: 0/{count} nodes are available: {count} No preemption victims found for incoming pod.",
        reasons.join(", ")
    ))
}

/// A pod spec's CPU (cores) and memory (bytes) requests, its containers' summed.
fn requests(spec: &Value) -> (f64, f64) {
    let containers = spec
        .get("containers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    containers.iter().fold((0.0, 0.0), |(c, m), ct| {
        let q = |r: &str| {
            ct.pointer(&format!("/resources/requests/{r}"))
                .and_then(Value::as_str)
        };
        (
            c + q("cpu")
                .and_then(crate::runbook::verify::cores)
                .unwrap_or(0.0),
            m + q("memory")
                .and_then(crate::runbook::verify::bytes)
                .unwrap_or(0.0),
        )
    })
}

/// `PodScheduled`: true, or false with the scheduler's reason.
fn scheduled_condition(unschedulable: Option<&String>, now: f64) -> Value {
    match unschedulable {
        None => condition("PodScheduled", true, now, None),
        Some(why) => json!({
            "type": "PodScheduled",
            "status": "False",
            "lastProbeTime": null,
            "lastTransitionTime": rfc3339(now),
            "reason": "Unschedulable",
            "message": why,
        }),
    }
}

fn pod_condition_true(pod: &Value, ty: &str) -> Option<f64> {
    let c = condition_of(pod, ty)?;
    (str_at(c, "/status") == "True")
        .then(|| parse_time(str_at(c, "/lastTransitionTime")).unwrap_or(0.0))
}

pub fn pod_ready(pod: &Value) -> bool {
    pod_condition_true(pod, "Ready").is_some()
}

fn pod_available(pod: &Value, min_ready_seconds: f64, now: f64) -> bool {
    pod_condition_true(pod, "Ready")
        .is_some_and(|since| min_ready_seconds <= 0.0 || since + min_ready_seconds <= now)
}

/// Sort key for choosing which pods a shrinking ReplicaSet deletes first.
fn deletion_rank(pod: &Value) -> (u8, u8, u8, f64, i64, f64) {
    let scheduled = u8::from(!str_at(pod, "/spec/nodeName").is_empty());
    let phase = match str_at(pod, "/status/phase") {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    };
    let ready_since = pod_condition_true(pod, "Ready");
    let ready = u8::from(ready_since.is_some());
    let restarts: i64 = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|cs| cs.iter().map(|c| int(c, "/restartCount")).sum())
        .unwrap_or(0);
    let created = parse_time(str_at(pod, "/metadata/creationTimestamp")).unwrap_or(0.0);
    // Ready longer sorts later; more restarts and newer creation sort earlier.
    (
        scheduled,
        phase,
        ready,
        -ready_since.unwrap_or(0.0),
        -restarts,
        -created,
    )
}

fn qos_class(spec: &Value) -> &'static str {
    let cs = spec
        .get("containers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let any = cs.iter().any(|c| {
        ["requests", "limits"].iter().any(|k| {
            c.pointer(&format!("/resources/{k}"))
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty())
        })
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = cs.iter().all(|c| {
        let l = c.pointer("/resources/limits");
        let r = c.pointer("/resources/requests");
        ["cpu", "memory"].iter().all(|k| {
            l.and_then(|l| l.get(*k)).is_some()
                && l.and_then(|l| l.get(*k)) == r.and_then(|r| r.get(*k))
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn condition(ty: &str, ok: bool, since: f64, not_ready: Option<&str>) -> Value {
    let mut c = json!({
        "type": ty,
        "status": if ok { "True" } else { "False" },
        "lastProbeTime": null,
        "lastTransitionTime": rfc3339(since),
    });
    if let Some(msg) = not_ready.filter(|_| !ok) {
        c["reason"] = json!("ContainersNotReady");
        c["message"] = json!(msg);
    }
    c
}

/// A container's state at a moment, derived from its version's behaviour and the pod's
/// age alone, so the kubelet needs no memory beyond the pod's creation time.
struct ContainerState {
    /// The state object (`running` / `waiting`).
    state: Value,
    last_state: Value,
    ready: bool,
    /// Whether the container has ever run (it has an ID and the pod is past Pending).
    ever_started: bool,
    running_now: bool,
    restarts: u32,
    /// When it last became ready.
    ready_since: f64,
    /// When the pod's sandbox came up (it has an IP from then).
    sandbox_at: f64,
}

fn container_state(
    b: Option<&Behavior>,
    image: &str,
    name: &str,
    created: f64,
    now: f64,
) -> ContainerState {
    let start = b.map_or(2.0, |b| b.start.0.as_secs_f64());
    let elapsed = now - created;
    let mut st = ContainerState {
        state: json!({"waiting": {"reason": "ContainerCreating"}}),
        last_state: json!({}),
        ready: false,
        ever_started: false,
        running_now: false,
        restarts: 0,
        ready_since: created,
        sandbox_at: created + start,
    };
    if elapsed < start {
        return st;
    }
    let Some(b) = b else {
        // An image the registry does not have: the pull fails, then backs off.
        st.state = if elapsed - start < PULL_ERROR_FOR {
            json!({"waiting": {"reason": "ErrImagePull", "message": format!("failed to pull and unpack image \"{image}\": not found")}})
        } else {
            json!({"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{image}\"")}})
        };
        return st;
    };
    st.ever_started = true;
    let mut run_start = created + start;
    if b.crash_loop {
        // Runs CRASH_AFTER seconds, exits, waits out a doubling back-off (10s … 5m), again.
        loop {
            let crash_at = run_start + CRASH_AFTER;
            if now < crash_at {
                st.state = json!({"running": {"startedAt": rfc3339(run_start)}});
                st.running_now = true;
                return st;
            }
            st.restarts += 1;
            st.last_state = json!({"terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": rfc3339(run_start),
                "finishedAt": rfc3339(crash_at),
            }});
            let backoff = (10.0 * 2f64.powi(st.restarts as i32 - 1)).min(300.0);
            if now < crash_at + backoff {
                st.state = json!({"waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": format!("back-off {}s restarting failed container={name}", backoff as u64),
                }});
                return st;
            }
            run_start = crash_at + backoff;
        }
    }
    st.state = json!({"running": {"startedAt": rfc3339(run_start)}});
    st.running_now = true;
    let ready_at = run_start + b.ready.0.as_secs_f64();
    if !b.never_ready && now >= ready_at {
        st.ready = true;
        st.ready_since = ready_at;
    }
    st
}

/// The pod status the kubelet reports at `now`.
fn pod_status(service: ServiceRef<'_>, pod: &Value, clock: PodClock, now: f64) -> Value {
    let containers = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let uid = str_at(pod, "/metadata/uid");
    let mut statuses = Vec::new();
    let mut all_ready = !containers.is_empty();
    let mut all_started = !containers.is_empty();
    let mut ready_since = clock.created;
    let mut sandbox_at = clock.created;
    let mut unready = Vec::new();
    for c in containers {
        let name = str_at(c, "/name");
        let image = str_at(c, "/image");
        let behavior = service.behavior(image);
        let st = container_state(behavior, image, name, clock.created, now);
        // A pod being deleted stops passing its readiness probe.
        let ready = st.ready && clock.terminating_since.is_none();
        all_ready &= ready;
        all_started &= st.ever_started;
        if !ready {
            unready.push(name.to_string());
        }
        ready_since = ready_since.max(st.ready_since);
        sandbox_at = sandbox_at.max(st.sandbox_at);
        let mut cs = json!({
            "name": name,
            "image": image,
            "imageID": "",
            "ready": ready,
            "restartCount": st.restarts,
            "started": st.running_now,
            "state": st.state,
            "lastState": st.last_state,
        });
        if st.ever_started {
            cs["imageID"] = json!(format!("{image}@sha256:{}", hex_digest(image, 4)));
            cs["containerID"] = json!(format!(
                "containerd://{}",
                hex_digest(&format!("{uid}/{name}/{}", st.restarts), 4)
            ));
        }
        statuses.push(cs);
    }
    let unready_since = clock.terminating_since.unwrap_or(clock.created);
    let message = format!("containers with unready status: [{}]", unready.join(" "));
    let (ready_t, msg) = if all_ready {
        (ready_since, None)
    } else {
        (unready_since, Some(message.as_str()))
    };
    let sandbox = now >= sandbox_at;
    let mut status = json!({
        "phase": if all_started { "Running" } else { "Pending" },
        "conditions": [
            condition("PodReadyToStartContainers", sandbox, if sandbox { sandbox_at } else { clock.created }, None),
            condition("Initialized", true, clock.created, None),
            condition("Ready", all_ready, ready_t, msg),
            condition("ContainersReady", all_ready, ready_t, msg),
            condition("PodScheduled", true, clock.created, None),
        ],
        "qosClass": pod.pointer("/status/qosClass").cloned().unwrap_or(json!("BestEffort")),
        "startTime": rfc3339(clock.created),
        "containerStatuses": statuses,
    });
    if let Some(i) = node_index(pod) {
        status["hostIP"] = json!(format!("192.168.0.{}", 11 + i));
        status["hostIPs"] = json!([{"ip": format!("192.168.0.{}", 11 + i)}]);
        if sandbox {
            let host = 2 + (fnv(uid) % 250);
            let ip = format!("10.0.{}.{host}", i + 1);
            status["podIP"] = json!(ip);
            status["podIPs"] = json!([{ "ip": ip }]);
        }
    }
    status
}

pub(crate) fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A stable fake digest: `words` × 16 hex digits.
fn hex_digest(s: &str, words: usize) -> String {
    (0..words)
        .map(|i| format!("{:016x}", fnv(&format!("{i}:{s}"))))
        .collect()
}

// ---------------------------------------------------------------- small accessors

fn int(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn bool_at(v: &Value, ptr: &str) -> bool {
    v.pointer(ptr).and_then(Value::as_bool).unwrap_or(false)
}

/// Kubernetes omits zero counts from statuses (`omitempty`); so do we.
fn insert_nonzero(m: &mut Map<String, Value>, key: &str, v: i64) {
    if v != 0 {
        m.insert(key.into(), json!(v));
    }
}

fn creation_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    let ta = str_at(a, "/metadata/creationTimestamp");
    let tb = str_at(b, "/metadata/creationTimestamp");
    ta.cmp(tb)
        .then_with(|| str_at(a, "/metadata/name").cmp(str_at(b, "/metadata/name")))
}

fn sort_by_creation(rss: &mut [Value]) {
    rss.sort_by(creation_order);
}

/// A backend's `weight`, or `default` where it is not written.
fn weight(backend: &Value, default: f64) -> f64 {
    backend
        .get("weight")
        .and_then(Value::as_f64)
        .unwrap_or(default)
        .max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runbook::parse_scenario;

    const NS: &str = "erp-production";
    const T0: f64 = 1_800_000_000.0;

    /// The default scenario plus versions `crash` (crash-looping) and `stuck` (never ready).
    fn scenario() -> Scenario {
        let mut s = parse_scenario(include_str!("../../assets/scenarios/default.yaml")).unwrap();
        let base = s.versions["v1.0.0"].clone();
        s.versions.insert(
            "crash".into(),
            Behavior {
                crash_loop: true,
                ..base.clone()
            },
        );
        s.versions.insert(
            "stuck".into(),
            Behavior {
                never_ready: true,
                ..base
            },
        );
        s
    }

    struct Sim {
        c: Cluster,
        t: f64,
    }

    impl Sim {
        fn new() -> Sim {
            Sim {
                c: Cluster::new(scenario(), T0),
                t: T0,
            }
        }

        /// Advances simulated time tick by tick, checking `each` after every tick.
        fn run_checking(&mut self, secs: f64, mut each: impl FnMut(&Cluster)) {
            let tick = self.c.scenario.timing.tick_ms as f64 / 1000.0;
            let end = self.t + secs;
            while self.t < end {
                self.t += tick;
                self.c.tick(self.t);
                each(&self.c);
            }
        }

        fn run(&mut self, secs: f64) {
            self.run_checking(secs, |_| {});
        }

        fn deployment(&self, name: &str) -> Value {
            (**self.c.store.get(Resource::Deployment, NS, name).unwrap()).clone()
        }

        /// A spec change as the API makes it: defaulted, then stored.
        fn edit(&mut self, name: &str, f: impl FnOnce(&mut Value)) {
            let mut d = self.deployment(name);
            f(&mut d);
            objects::default_deployment(&mut d);
            self.c.store.update(Resource::Deployment, d).unwrap();
        }

        fn set_image(&mut self, name: &str, image: &str) {
            let image = image.to_string();
            self.edit(name, |d| {
                d["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image)
            });
        }

        fn replicasets(&self, track: &str) -> Vec<Value> {
            self.c
                .store
                .list(Resource::ReplicaSet, Some(NS))
                .filter(|r| r["metadata"]["labels"]["track"] == track)
                .map(|r| (**r).clone())
                .collect()
        }

        fn pods(&self, track: &str) -> Vec<Value> {
            self.c
                .store
                .list(Resource::Pod, Some(NS))
                .filter(|p| p["metadata"]["labels"]["track"] == track)
                .map(|p| (**p).clone())
                .collect()
        }
    }

    fn progressing_reason(d: &Value) -> String {
        condition_of(d, "Progressing")
            .map(|c| str_at(c, "/reason").to_string())
            .unwrap_or_default()
    }

    #[test]
    fn the_scenario_starts_rolled_out_and_healthy() {
        let sim = Sim::new();
        let d = sim.deployment("erp-backend");
        assert_eq!(d["status"]["replicas"], 10);
        assert_eq!(d["status"]["readyReplicas"], 10);
        assert_eq!(d["status"]["availableReplicas"], 10);
        assert_eq!(d["status"]["updatedReplicas"], 10);
        assert_eq!(d["status"]["observedGeneration"], 1);
        assert_eq!(progressing_reason(&d), "NewReplicaSetAvailable");
        assert_eq!(
            str_at(condition_of(&d, "Available").unwrap(), "/status"),
            "True"
        );
        assert_eq!(revision(&d), 1);

        let rss = sim.replicasets("stable");
        assert_eq!(rss.len(), 1);
        let rs = &rss[0];
        let hash = str_at(rs, "/metadata/labels/pod-template-hash");
        assert_eq!(str_at(rs, "/metadata/name"), format!("erp-backend-{hash}"));
        assert_eq!(rs["spec"]["selector"]["matchLabels"][HASH_LABEL], hash);
        assert_eq!(controller_uid(rs), d["metadata"]["uid"].as_str());
        assert_eq!(annotation_int(rs, DESIRED_REPLICAS), Some(10));
        assert_eq!(annotation_int(rs, MAX_REPLICAS), Some(13));
        assert_eq!(
            rs["metadata"]["annotations"]["kubernetes.io/change-cause"],
            "initial deploy of registry.local/erp-backend:v0.9.3"
        );
        assert!(templates_equal(
            &rs["spec"]["template"],
            &d["spec"]["template"]
        ));

        let pods = sim.pods("stable");
        assert_eq!(pods.len(), 10);
        for p in &pods {
            assert!(pod_ready(p));
            assert_eq!(p["status"]["phase"], "Running");
            assert!(str_at(p, "/status/podIP").starts_with("10.0."));
            assert!(str_at(p, "/spec/nodeName").starts_with("sim-node-"));
            assert_eq!(controller_uid(p), rs["metadata"]["uid"].as_str());
            assert!(parse_time(str_at(p, "/metadata/creationTimestamp")).unwrap() < T0 - 60.0);
        }
        let canary = sim.deployment("erp-backend-canary");
        assert!(
            canary["status"].get("replicas").is_none(),
            "zero counts are omitted"
        );
        assert_eq!(sim.replicasets("canary").len(), 1);
        assert!(sim.c.store.get(Resource::Namespace, "", NS).is_some());
    }

    #[test]
    fn hashes_are_stable_and_in_the_name_alphabet() {
        let t =
            json!({"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "x"}]}});
        let h = pod_template_hash(&t, 0);
        assert_eq!(h, pod_template_hash(&t.clone(), 0));
        assert_ne!(h, pod_template_hash(&t, 1));
        assert!(!h.is_empty() && h.len() <= 10);
        assert!(
            h.bytes()
                .all(|b| super::super::store::NAME_ALPHABET.contains(&b))
        );
    }

    #[test]
    fn container_lifecycles_follow_the_behaviour() {
        let s = scenario();
        let created = 100.0;
        let at = |tag: &str, t: f64| {
            container_state(s.versions.get(tag), "img", "c", created, created + t)
        };

        let healthy = at("v1.0.0", 1.0);
        assert_eq!(healthy.state["waiting"]["reason"], "ContainerCreating");
        let running = at("v1.0.0", 4.0);
        assert!(running.running_now && !running.ready);
        let ready = at("v1.0.0", 7.5);
        assert!(ready.ready);
        assert_eq!(ready.ready_since, created + 7.0);

        let crashed = at("crash", 3.0 + 2.5);
        assert_eq!(crashed.state["waiting"]["reason"], "CrashLoopBackOff");
        assert_eq!(crashed.restarts, 1);
        assert_eq!(crashed.last_state["terminated"]["exitCode"], 1);
        let rerun = at("crash", 3.0 + 2.0 + 10.0 + 1.0);
        assert!(rerun.running_now && !rerun.ready);
        let later = at("crash", 3600.0);
        assert!(later.restarts > 10 && !later.ready);

        let stuck = at("stuck", 600.0);
        assert!(stuck.running_now && !stuck.ready);

        let missing = at("v9", 3.0);
        assert_eq!(missing.state["waiting"]["reason"], "ErrImagePull");
        let missing = at("v9", 30.0);
        assert_eq!(missing.state["waiting"]["reason"], "ImagePullBackOff");
        assert!(!missing.ever_started);
    }

    #[test]
    fn a_crash_looping_canary_restarts_and_is_never_ready() {
        let mut sim = Sim::new();
        sim.edit("erp-backend-canary", |d| d["spec"]["replicas"] = json!(1));
        sim.set_image("erp-backend-canary", "registry.local/erp-backend:crash");
        sim.run(40.0);
        let pods: Vec<Value> = sim
            .pods("canary")
            .into_iter()
            .filter(|p| p["metadata"].get("deletionTimestamp").is_none())
            .collect();
        assert_eq!(pods.len(), 1);
        let p = &pods[0];
        assert_eq!(p["status"]["phase"], "Running");
        assert!(!pod_ready(p));
        assert!(int(p, "/status/containerStatuses/0/restartCount") >= 2);
        let d = sim.deployment("erp-backend-canary");
        assert_eq!(int(&d, "/status/availableReplicas"), 0);
        assert_eq!(int(&d, "/status/unavailableReplicas"), 1);
    }

    #[test]
    fn a_rollout_keeps_min_availability_and_max_surge() {
        let mut sim = Sim::new();
        sim.set_image("erp-backend", "registry.local/erp-backend:v1.0.0");
        let mut max_pods = 0;
        sim.run_checking(60.0, |c| {
            let live: Vec<&Arc<Value>> = c
                .store
                .list(Resource::Pod, Some(NS))
                .filter(|p| p["metadata"]["labels"]["track"] == "stable")
                .filter(|p| p["metadata"].get("deletionTimestamp").is_none())
                .collect();
            let ready = live.iter().filter(|p| pod_ready(p)).count();
            assert!(ready >= 8, "{ready} ready");
            assert!(live.len() <= 13, "{} pods", live.len());
            max_pods = max_pods.max(live.len());
        });
        assert_eq!(max_pods, 13);
        let d = sim.deployment("erp-backend");
        assert!(deployment_complete(&d, &d["status"]));
        assert_eq!(revision(&d), 2);
        assert_eq!(progressing_reason(&d), "NewReplicaSetAvailable");
        assert_eq!(sim.pods("stable").len(), 10);
    }

    #[test]
    fn a_paused_deployment_keeps_its_pods_until_resumed() {
        let mut sim = Sim::new();
        sim.edit("erp-backend", |d| d["spec"]["paused"] = json!(true));
        sim.set_image("erp-backend", "registry.local/erp-backend:v1.0.0");
        sim.run(20.0);
        let d = sim.deployment("erp-backend");
        assert_eq!(
            sim.replicasets("stable").len(),
            1,
            "no new ReplicaSet while paused"
        );
        assert_eq!(progressing_reason(&d), "DeploymentPaused");
        assert!(d["status"].get("updatedReplicas").is_none());
        assert_eq!(
            d["status"]["observedGeneration"],
            d["metadata"]["generation"]
        );

        // Scaling still works while paused.
        sim.edit("erp-backend", |d| d["spec"]["replicas"] = json!(12));
        sim.run(10.0);
        assert_eq!(
            int(&sim.deployment("erp-backend"), "/status/readyReplicas"),
            12
        );

        sim.edit("erp-backend", |d| {
            d["spec"].as_object_mut().unwrap().remove("paused");
        });
        sim.run(60.0);
        let d = sim.deployment("erp-backend");
        assert!(deployment_complete(&d, &d["status"]));
        assert_eq!(revision(&d), 2);
    }

    #[test]
    fn a_stuck_rollout_exceeds_its_progress_deadline() {
        let mut sim = Sim::new();
        sim.edit("erp-backend", |d| {
            d["spec"]["progressDeadlineSeconds"] = json!(30)
        });
        sim.set_image("erp-backend", "registry.local/erp-backend:v9.9.9");
        sim.run(20.0);
        assert_eq!(
            progressing_reason(&sim.deployment("erp-backend")),
            "ReplicaSetUpdated"
        );
        sim.run(30.0);
        let d = sim.deployment("erp-backend");
        let c = condition_of(&d, "Progressing").unwrap();
        assert_eq!(str_at(c, "/reason"), "ProgressDeadlineExceeded");
        assert_eq!(str_at(c, "/status"), "False");
        assert_eq!(
            str_at(condition_of(&d, "Available").unwrap(), "/status"),
            "True"
        );
        assert_eq!(int(&d, "/status/availableReplicas"), 8);
        assert_eq!(int(&d, "/status/updatedReplicas"), 5);
    }

    #[test]
    fn scaling_mid_rollout_is_proportional() {
        let mut sim = Sim::new();
        sim.set_image("erp-backend", "registry.local/erp-backend:v9.9.9");
        sim.run(10.0);
        let sizes = |sim: &Sim| -> Vec<i64> {
            let mut rss = sim.replicasets("stable");
            rss.sort_by_key(revision);
            rss.iter().map(|r| int(r, "/spec/replicas")).collect()
        };
        assert_eq!(sizes(&sim), [8, 5]);
        sim.edit("erp-backend", |d| d["spec"]["replicas"] = json!(20));
        sim.run(1.0);
        // 20 + 25% surge = 25 pods, shared in proportion to 8:5 (8·25/13 ≈ 15, 5·25/13 ≈ 10).
        assert_eq!(sizes(&sim), [15, 10]);
    }

    #[test]
    fn an_undo_reuses_the_old_replicaset_with_a_new_revision() {
        let mut sim = Sim::new();
        let first = sim.deployment("erp-backend")["spec"]["template"].clone();
        sim.set_image("erp-backend", "registry.local/erp-backend:v1.0.0");
        sim.run(60.0);
        sim.edit("erp-backend", |d| d["spec"]["template"] = first);
        sim.run(60.0);
        let d = sim.deployment("erp-backend");
        assert_eq!(revision(&d), 3);
        assert!(deployment_complete(&d, &d["status"]));
        let rss = sim.replicasets("stable");
        assert_eq!(rss.len(), 2);
        let back = rss.iter().find(|r| revision(r) == 3).unwrap();
        assert_eq!(back["metadata"]["annotations"][REVISION_HISTORY], "1");
        assert_eq!(int(back, "/spec/replicas"), 10);
    }

    #[test]
    fn old_replicasets_beyond_the_history_limit_are_deleted() {
        let mut sim = Sim::new();
        sim.edit("erp-backend", |d| {
            d["spec"]["revisionHistoryLimit"] = json!(1)
        });
        for v in ["a", "b", "c"] {
            sim.edit("erp-backend", |d| {
                d["spec"]["template"]["metadata"]["annotations"] = json!({"release": v});
            });
            sim.run(30.0);
        }
        let rss = sim.replicasets("stable");
        let mut revisions: Vec<i64> = rss.iter().map(revision).collect();
        revisions.sort_unstable();
        assert_eq!(revisions, [3, 4]);
    }

    #[test]
    fn deleting_a_deployment_collects_its_replicasets_and_pods() {
        let mut sim = Sim::new();
        sim.c.store.delete(Resource::Deployment, NS, "erp-backend");
        sim.run(1.0);
        assert!(sim.replicasets("stable").is_empty());
        assert!(
            sim.pods("stable")
                .iter()
                .all(|p| p["metadata"].get("deletionTimestamp").is_some())
        );
        sim.run(5.0);
        assert!(sim.pods("stable").is_empty());
        assert_eq!(sim.pods("canary").len(), 0);
        assert_eq!(
            sim.replicasets("canary").len(),
            1,
            "the other deployment is untouched"
        );
    }

    #[test]
    fn a_deleted_pod_terminates_and_is_replaced() {
        let mut sim = Sim::new();
        let name = str_at(&sim.pods("stable")[0], "/metadata/name").to_string();
        let t = sim.t;
        let pod = sim.c.delete_pod(NS, &name, None, t).unwrap();
        assert_eq!(pod["metadata"]["deletionGracePeriodSeconds"], 30);
        sim.run(0.5);
        let p = sim.c.store.get(Resource::Pod, NS, &name).unwrap().clone();
        assert!(!pod_ready(&p), "a terminating pod is not ready");
        assert_eq!(
            sim.pods("stable").len(),
            11,
            "its replacement is already there"
        );
        sim.run(3.0);
        assert!(sim.c.store.get(Resource::Pod, NS, &name).is_none());
        sim.run(10.0);
        let pods = sim.pods("stable");
        assert_eq!(pods.len(), 10);
        assert!(pods.iter().all(pod_ready));
    }

    #[test]
    fn a_pod_no_node_has_room_for_waits_unscheduled_until_one_has() {
        // Two nodes of 6 cores: the 10 stable pods (1 core each) leave 2 free.
        let mut sc = scenario();
        sc.nodes.count = 2;
        sc.nodes.cpu = "6".into();
        let mut sim = Sim {
            c: Cluster::new(sc, T0),
            t: T0,
        };
        sim.edit("erp-backend-canary", |d| d["spec"]["replicas"] = json!(3));
        sim.run(10.0);
        let canary = sim.pods("canary");
        assert_eq!(canary.len(), 3);
        let (placed, waiting): (Vec<&Value>, Vec<&Value>) = canary
            .iter()
            .partition(|p| p.pointer("/spec/nodeName").is_some());
        assert_eq!((placed.len(), waiting.len()), (2, 1));
        assert!(placed.iter().all(|p| pod_ready(p)));
        let w = waiting[0];
        assert_eq!(w["status"]["phase"], "Pending");
        assert_eq!(w["status"]["conditions"][0]["reason"], "Unschedulable");
        let why = "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.";
        assert_eq!(w["status"]["conditions"][0]["message"], why);
        // The scheduler says it once, as a Warning Event about the pod.
        let name = str_at(w, "/metadata/name");
        let said: Vec<Value> = sim
            .c
            .store
            .list(Resource::Event, Some(NS))
            .filter(|e| e["involvedObject"]["name"] == name)
            .map(|e| (**e).clone())
            .collect();
        assert_eq!(said.len(), 1, "{said:?}");
        assert_eq!(said[0]["reason"], "FailedScheduling");
        assert_eq!(said[0]["type"], "Warning");
        assert_eq!(said[0]["message"], why);

        // A stable pod fewer: room on a node, and the waiting pod starts there.
        sim.edit("erp-backend", |d| d["spec"]["replicas"] = json!(9));
        sim.run(15.0);
        let canary = sim.pods("canary");
        assert!(canary.iter().all(|p| p.pointer("/spec/nodeName").is_some()));
        assert!(canary.iter().all(pod_ready), "{canary:?}");
    }

    /// The default scenario's service behind an HTTPRoute, a front end behind an Istio
    /// VirtualService whose tags the first service does not have, and a worker.
    fn three_services() -> Scenario {
        let healthy = "{error_rate: 0.001, latency_p50_ms: 100, latency_p95_ms: 300, cpu: 0.3, memory: 0.5, start: 1s, ready: 1s}";
        let text = include_str!("../../assets/scenarios/default.yaml").replace(
            "traffic:\n  rps: 400",
            &format!(
                "services:
- app: erp-frontend
  stable: {{name: erp-frontend, image: registry.local/erp-frontend:v2.3.0, replicas: 3, track: stable}}
  canary: {{name: erp-frontend-canary, image: registry.local/erp-frontend:v2.4.0, replicas: 1, track: canary}}
  versions: {{v2.3.0: {healthy}, v2.4.0: {healthy}}}
  traffic: {{split: istio, rps: 100}}
- app: erp-worker
  stable: {{name: erp-worker, image: registry.local/erp-worker:v0.9.3, replicas: 2, track: stable}}
  canary: {{name: erp-worker-canary, image: registry.local/erp-worker:v1.0.0, replicas: 0, track: canary}}
  versions: {{v0.9.3: {healthy}, v1.0.0: {healthy}}}
  traffic: {{rps: 0}}
traffic:
  split: gateway
  rps: 400"
            ),
        );
        parse_scenario(&text).unwrap()
    }

    #[test]
    fn every_service_is_rolled_out_and_follows_its_own_route() {
        let mut sim = Sim {
            c: Cluster::new(three_services(), T0),
            t: T0,
        };
        sim.run(5.0);
        for (name, replicas) in [
            ("erp-backend", 10),
            ("erp-backend-canary", 0),
            ("erp-frontend", 3),
            ("erp-frontend-canary", 1),
            ("erp-worker", 2),
            ("erp-worker-canary", 0),
        ] {
            let d = sim.deployment(name);
            assert_eq!(int(&d, "/spec/replicas"), replicas, "{name}");
            assert_eq!(int(&d, "/status/readyReplicas"), replicas, "{name}");
        }
        // Each service's pods carry its app; the front end's run its own tags, which
        // the first service does not describe.
        let pods_of = |sim: &Sim, app: &str| -> Vec<Value> {
            sim.c
                .store
                .list(Resource::Pod, Some(NS))
                .filter(|p| p["metadata"]["labels"]["app"] == app)
                .map(|p| (**p).clone())
                .collect()
        };
        let frontend = pods_of(&sim, "erp-frontend");
        assert_eq!(frontend.len(), 4);
        assert!(frontend.iter().all(pod_ready), "{frontend:#?}");
        assert!(
            frontend
                .iter()
                .all(|p| str_at(p, "/spec/containers/0/name") == "erp-frontend")
        );
        assert_eq!(pods_of(&sim, "erp-worker").len(), 2);
        assert_eq!(pods_of(&sim, "erp-backend").len(), 10);

        // Services and a route for each service that splits by weight, none for the
        // worker.
        let services: Vec<String> = sim
            .c
            .store
            .list(Resource::Service, Some(NS))
            .map(|s| str_at(s, "/metadata/name").to_string())
            .collect();
        assert_eq!(
            services,
            [
                "erp-backend",
                "erp-backend-canary",
                "erp-frontend",
                "erp-frontend-canary"
            ]
        );
        let fe = sim
            .c
            .store
            .get(Resource::Service, NS, "erp-frontend-canary")
            .unwrap();
        assert_eq!(
            fe["spec"]["selector"],
            json!({"app": "erp-frontend", "track": "canary"})
        );
        assert!(
            sim.c
                .store
                .get(Resource::HttpRoute, NS, "erp-backend")
                .is_some()
        );
        assert!(
            sim.c
                .store
                .get(Resource::VirtualService, NS, "erp-frontend")
                .is_some()
        );
        let splits = sim.c.traffic_splits();
        let weights = |app: &str| {
            let w = &splits[app];
            (w["stable"], w["canary"])
        };
        assert_eq!(splits.len(), 2, "{splits:?}");
        assert_eq!(weights("erp-backend"), (100.0, 0.0));
        assert_eq!(weights("erp-frontend"), (100.0, 0.0));

        // Shifting the front end's weight moves its traffic alone.
        let mut vs = (**sim
            .c
            .store
            .get(Resource::VirtualService, NS, "erp-frontend")
            .unwrap())
        .clone();
        vs["spec"]["http"][0]["route"][0]["weight"] = json!(70);
        vs["spec"]["http"][0]["route"][1]["weight"] = json!(30);
        sim.c.store.update(Resource::VirtualService, vs).unwrap();
        let splits = sim.c.traffic_splits();
        assert_eq!(
            (
                splits["erp-frontend"]["stable"],
                splits["erp-frontend"]["canary"]
            ),
            (70.0, 30.0)
        );
        assert_eq!(
            (
                splits["erp-backend"]["stable"],
                splits["erp-backend"]["canary"]
            ),
            (100.0, 0.0)
        );
        assert_eq!(sim.c.traffic_split(), Some(splits["erp-backend"].clone()));

        // Scaling one service's canary leaves the others' alone.
        sim.edit("erp-worker-canary", |d| d["spec"]["replicas"] = json!(1));
        sim.run(5.0);
        assert_eq!(
            int(
                &sim.deployment("erp-worker-canary"),
                "/status/readyReplicas"
            ),
            1
        );
        assert_eq!(pods_of(&sim, "erp-worker").len(), 3);
        assert_eq!(pods_of(&sim, "erp-backend").len(), 10);
        assert_eq!(pods_of(&sim, "erp-frontend").len(), 4);
    }
}
