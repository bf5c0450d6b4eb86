//! The object store behind the simulated API server: every object as JSON, one global
//! resourceVersion counter, and a bounded history of changes that watches replay from.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// The resources the simulated API server knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    Namespace,
    Pod,
    Event,
    Deployment,
    ReplicaSet,
    /// `events.k8s.io/v1` Events (what kube-rs's event recorder writes).
    EventV1,
    Lease,
    HttpRoute,
    /// Istio's `networking.istio.io/v1` VirtualService.
    VirtualService,
    Service,
    ConfigMap,
    /// Seeded by the scenario; a verification reads their metadata only.
    Secret,
    /// Cluster-scoped, seeded by the scenario: what a capacity check reads.
    Node,
}

/// What discovery says about a resource, and how the store treats it.
pub struct ResourceInfo {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub verbs: &'static [&'static str],
    /// Whether `metadata.generation` counts spec changes.
    pub generation: bool,
    /// Whether `status` is a subresource (writes to the main resource leave it alone).
    pub status_subresource: bool,
}

const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

impl Resource {
    pub const ALL: [Resource; 13] = [
        Resource::Namespace,
        Resource::Pod,
        Resource::Event,
        Resource::Deployment,
        Resource::ReplicaSet,
        Resource::EventV1,
        Resource::Lease,
        Resource::HttpRoute,
        Resource::VirtualService,
        Resource::Service,
        Resource::ConfigMap,
        Resource::Secret,
        Resource::Node,
    ];

    pub fn info(self) -> &'static ResourceInfo {
        match self {
            Resource::Namespace => &ResourceInfo {
                group: "",
                version: "v1",
                plural: "namespaces",
                singular: "namespace",
                kind: "Namespace",
                namespaced: false,
                short_names: &["ns"],
                categories: &[],
                verbs: &[
                    "create", "delete", "get", "list", "patch", "update", "watch",
                ],
                generation: false,
                status_subresource: true,
            },
            Resource::Pod => &ResourceInfo {
                group: "",
                version: "v1",
                plural: "pods",
                singular: "pod",
                kind: "Pod",
                namespaced: true,
                short_names: &["po"],
                categories: &["all"],
                verbs: ALL_VERBS,
                generation: false,
                status_subresource: true,
            },
            Resource::Event => &ResourceInfo {
                group: "",
                version: "v1",
                plural: "events",
                singular: "event",
                kind: "Event",
                namespaced: true,
                short_names: &["ev"],
                categories: &[],
                verbs: ALL_VERBS,
                generation: false,
                status_subresource: false,
            },
            Resource::Service => &ResourceInfo {
                group: "",
                version: "v1",
                plural: "services",
                singular: "service",
                kind: "Service",
                namespaced: true,
                short_names: &["svc"],
                categories: &["all"],
                verbs: &[
                    "create",
                    "delete",
                    "deletecollection",
                    "get",
                    "list",
                    "patch",
                    "update",
                    "watch",
                ],
                generation: false,
                status_subresource: true,
            },
            Resource::Deployment => &ResourceInfo {
                group: "apps",
                version: "v1",
                plural: "deployments",
                singular: "deployment",
                kind: "Deployment",
                namespaced: true,
                short_names: &["deploy"],
                categories: &["all"],
                verbs: ALL_VERBS,
                generation: true,
                status_subresource: true,
            },
            Resource::ReplicaSet => &ResourceInfo {
                group: "apps",
                version: "v1",
                plural: "replicasets",
                singular: "replicaset",
                kind: "ReplicaSet",
                namespaced: true,
                short_names: &["rs"],
                categories: &["all"],
                verbs: ALL_VERBS,
                generation: true,
                status_subresource: true,
            },
            Resource::EventV1 => &ResourceInfo {
                group: "events.k8s.io",
                version: "v1",
                plural: "events",
                singular: "event",
                kind: "Event",
                namespaced: true,
                short_names: &["ev"],
                categories: &[],
                verbs: ALL_VERBS,
                generation: false,
                status_subresource: false,
            },
            Resource::ConfigMap => &ResourceInfo {
                group: "",
                version: "v1",
                plural: "configmaps",
                singular: "configmap",
                kind: "ConfigMap",
                namespaced: true,
                short_names: &["cm"],
                categories: &[],
                verbs: ALL_VERBS,
                generation: false,
                status_subresource: false,
            },
            Resource::Secret => &ResourceInfo {
                group: "",
                version: "v1",
                plural: "secrets",
                singular: "secret",
                kind: "Secret",
                namespaced: true,
                short_names: &[],
                categories: &[],
                verbs: ALL_VERBS,
                generation: false,
                status_subresource: false,
            },
            Resource::Node => &ResourceInfo {
                group: "",
                version: "v1",
                plural: "nodes",
                singular: "node",
                kind: "Node",
                namespaced: false,
                short_names: &["no"],
                categories: &[],
                verbs: ALL_VERBS,
                generation: false,
                status_subresource: true,
            },
            Resource::Lease => &ResourceInfo {
                group: "coordination.k8s.io",
                version: "v1",
                plural: "leases",
                singular: "lease",
                kind: "Lease",
                namespaced: true,
                short_names: &[],
                categories: &[],
                verbs: ALL_VERBS,
                generation: false,
                status_subresource: false,
            },
            Resource::HttpRoute => &ResourceInfo {
                group: "gateway.networking.k8s.io",
                version: "v1",
                plural: "httproutes",
                singular: "httproute",
                kind: "HTTPRoute",
                namespaced: true,
                short_names: &[],
                categories: &["gateway-api"],
                verbs: ALL_VERBS,
                generation: true,
                status_subresource: true,
            },
            Resource::VirtualService => &ResourceInfo {
                group: "networking.istio.io",
                version: "v1",
                plural: "virtualservices",
                singular: "virtualservice",
                kind: "VirtualService",
                namespaced: true,
                short_names: &["vs"],
                categories: &["istio-io", "networking-istio-io"],
                verbs: ALL_VERBS,
                generation: true,
                status_subresource: true,
            },
        }
    }

    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(self) -> String {
        let i = self.info();
        if i.group.is_empty() {
            i.version.to_string()
        } else {
            format!("{}/{}", i.group, i.version)
        }
    }

    /// Looks a resource up by the parts of a request path.
    pub fn find(group: &str, version: &str, plural: &str) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| {
            let i = r.info();
            i.group == group && i.version == version && i.plural == plural
        })
    }

    /// `deployments.apps` or `pods`: how error messages name a resource.
    pub fn qualified(self) -> String {
        let i = self.info();
        if i.group.is_empty() {
            i.plural.to_string()
        } else {
            format!("{}.{}", i.plural, i.group)
        }
    }
}

/// An error the API answers with a `Status` object.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn not_found(res: Resource, name: &str) -> Self {
        ApiError {
            code: 404,
            reason: "NotFound",
            message: format!("{} \"{name}\" not found", res.qualified()),
            details: Some(details(res, name)),
        }
    }

    pub fn conflict(res: Resource, name: &str) -> Self {
        ApiError {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again",
                res.qualified()
            ),
            details: Some(details(res, name)),
        }
    }

    pub fn already_exists(res: Resource, name: &str) -> Self {
        ApiError {
            code: 409,
            reason: "AlreadyExists",
            message: format!("{} \"{name}\" already exists", res.qualified()),
            details: Some(details(res, name)),
        }
    }

    pub fn invalid(res: Resource, name: &str, message: impl Into<String>) -> Self {
        let i = res.info();
        ApiError {
            code: 422,
            reason: "Invalid",
            message: format!("{} \"{name}\" is invalid: {}", i.kind, message.into()),
            details: Some(details(res, name)),
        }
    }

    /// A JSON patch that does not apply to the object (a failed `test`, a path that is
    /// not there), as the API server answers it: a generic 422 whose cause holds the
    /// patch library's words.
    pub fn patch_failed(message: impl Into<String>) -> Self {
        ApiError {
            code: 422,
            reason: "Invalid",
            message: "the server rejected our request due to an error in our request".into(),
            details: Some(json!({"causes": [
                {"reason": "UnexpectedServerResponse", "message": message.into()}
            ]})),
        }
    }

    /// The `Status` object sent as the response body (or in a watch ERROR event).
    pub fn status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

fn details(res: Resource, name: &str) -> Value {
    let i = res.info();
    let mut d = json!({ "name": name, "kind": i.plural });
    if !i.group.is_empty() {
        d["group"] = json!(i.group);
    }
    d
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

/// One change, as a watch replays it.
#[derive(Clone, Debug)]
pub struct Change {
    pub rv: u64,
    pub resource: Resource,
    pub kind: EventType,
    pub object: Arc<Value>,
    /// The object before a modification, so a filtered watch can tell an object that
    /// stopped matching (sent as DELETED) from one that started matching (ADDED).
    pub prev: Option<Arc<Value>>,
}

/// The requested resourceVersion is no longer in the history (HTTP 410 Gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expired {
    pub oldest: u64,
}

/// Enough history for a client that reconnects after a few seconds; a real apiserver's
/// watch cache is of the same order.
pub const DEFAULT_HISTORY: usize = 5000;

type Key = (String, String);

pub struct Store {
    objects: BTreeMap<Resource, BTreeMap<Key, Arc<Value>>>,
    rv: u64,
    history: VecDeque<Change>,
    history_limit: usize,
    /// Changes at or below this resourceVersion can no longer be replayed.
    compacted: u64,
    pub rng: Rng,
}

impl Store {
    pub fn new(seed: u64) -> Self {
        Store {
            objects: BTreeMap::new(),
            rv: 0,
            history: VecDeque::new(),
            history_limit: DEFAULT_HISTORY,
            compacted: 0,
            rng: Rng::new(seed),
        }
    }

    /// The resourceVersion of the latest change.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    #[cfg(test)]
    pub fn set_history_limit(&mut self, limit: usize) {
        self.history_limit = limit.max(1);
        self.trim();
    }

    pub fn get(&self, res: Resource, ns: &str, name: &str) -> Option<&Arc<Value>> {
        self.objects
            .get(&res)?
            .get(&(ns.to_string(), name.to_string()))
    }

    /// Objects of one resource in key order (namespace, name), like the real API lists them.
    pub fn list<'a>(
        &'a self,
        res: Resource,
        ns: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Arc<Value>> + 'a {
        self.objects
            .get(&res)
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(move |((n, _), _)| ns.is_none_or(|ns| ns == n))
            .map(|(_, v)| v)
    }

    /// Stores a new object, filling the fields the server owns. `now` becomes its
    /// creationTimestamp unless the object already has one (the bootstrap backdates).
    pub fn create(
        &mut self,
        res: Resource,
        mut obj: Value,
        now: f64,
    ) -> Result<Arc<Value>, ApiError> {
        let info = res.info();
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        obj["kind"] = json!(info.kind);
        obj["apiVersion"] = json!(res.api_version());
        let meta = meta_mut(&mut obj);
        let name = match meta.get("name").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => match meta.get("generateName").and_then(Value::as_str) {
                Some(prefix) if !prefix.is_empty() => {
                    format!("{prefix}{}", self.rng.alphanumeric(5))
                }
                _ => {
                    return Err(ApiError::invalid(
                        res,
                        "",
                        "metadata.name: Required value: name or generateName is required",
                    ));
                }
            },
        };
        let ns = if info.namespaced {
            match meta.get("namespace").and_then(Value::as_str) {
                Some(n) if !n.is_empty() => n.to_string(),
                _ => "default".to_string(),
            }
        } else {
            meta.remove("namespace");
            String::new()
        };
        if self.get(res, &ns, &name).is_some() {
            return Err(ApiError::already_exists(res, &name));
        }
        self.rv += 1;
        meta.insert("name".into(), json!(name));
        if info.namespaced {
            meta.insert("namespace".into(), json!(ns));
        }
        meta.insert("uid".into(), json!(self.rng.uuid()));
        meta.insert("resourceVersion".into(), json!(self.rv.to_string()));
        if !meta.get("creationTimestamp").is_some_and(Value::is_string) {
            meta.insert("creationTimestamp".into(), json!(rfc3339(now)));
        }
        if info.generation {
            meta.insert("generation".into(), json!(1));
        }
        let obj = Arc::new(obj);
        self.objects
            .entry(res)
            .or_default()
            .insert((ns, name), obj.clone());
        self.record(res, EventType::Added, obj.clone(), None);
        Ok(obj)
    }

    /// Replaces a stored object. Bumps `metadata.generation` when the spec changed and
    /// writes nothing when nothing changed (as the real apiserver does), so controllers
    /// can write their desired state every tick without flooding watches.
    pub fn update(&mut self, res: Resource, mut obj: Value) -> Result<Arc<Value>, ApiError> {
        let (ns, name) = key_of(&obj);
        let Some(old) = self.get(res, &ns, &name).cloned() else {
            return Err(ApiError::not_found(res, &name));
        };
        self.prepare_update(res, &old, &mut obj);
        if obj == *old {
            return Ok(old);
        }
        self.rv += 1;
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(self.rv.to_string()));
        let obj = Arc::new(obj);
        self.objects
            .entry(res)
            .or_default()
            .insert((ns, name), obj.clone());
        self.record(res, EventType::Modified, obj.clone(), Some(old));
        Ok(obj)
    }

    /// What `update` would store, without storing it (for `dryRun=All`).
    pub fn preview_update(&self, res: Resource, mut obj: Value) -> Result<Value, ApiError> {
        let (ns, name) = key_of(&obj);
        let Some(old) = self.get(res, &ns, &name) else {
            return Err(ApiError::not_found(res, &name));
        };
        self.prepare_update(res, old, &mut obj);
        Ok(obj)
    }

    /// Carries over the fields only the server sets.
    fn prepare_update(&self, res: Resource, old: &Value, obj: &mut Value) {
        let info = res.info();
        obj["kind"] = json!(info.kind);
        obj["apiVersion"] = json!(res.api_version());
        let old_meta = old.get("metadata").cloned().unwrap_or_default();
        let spec_changed = old.get("spec") != obj.get("spec");
        let meta = meta_mut(obj);
        for f in [
            "uid",
            "creationTimestamp",
            "resourceVersion",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            match old_meta.get(f) {
                Some(v) => meta.insert(f.into(), v.clone()),
                None => meta.remove(f),
            };
        }
        if info.generation && spec_changed {
            let g = old_meta
                .get("generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            meta.insert("generation".into(), json!(g + 1));
        }
    }

    /// Marks an object as being deleted: the server-owned deletion fields can only be set here.
    pub fn mark_deleting(
        &mut self,
        res: Resource,
        ns: &str,
        name: &str,
        deletion_timestamp: &str,
        grace_seconds: i64,
    ) -> Option<Arc<Value>> {
        let old = self.get(res, ns, name)?.clone();
        if old.pointer("/metadata/deletionTimestamp").is_some() {
            return Some(old);
        }
        let mut obj = (*old).clone();
        self.rv += 1;
        let meta = meta_mut(&mut obj);
        meta.insert("deletionTimestamp".into(), json!(deletion_timestamp));
        meta.insert("deletionGracePeriodSeconds".into(), json!(grace_seconds));
        meta.insert("resourceVersion".into(), json!(self.rv.to_string()));
        let obj = Arc::new(obj);
        self.objects
            .entry(res)
            .or_default()
            .insert((ns.to_string(), name.to_string()), obj.clone());
        self.record(res, EventType::Modified, obj.clone(), Some(old));
        Some(obj)
    }

    pub fn delete(&mut self, res: Resource, ns: &str, name: &str) -> Option<Arc<Value>> {
        let old = self
            .objects
            .get_mut(&res)?
            .remove(&(ns.to_string(), name.to_string()))?;
        self.rv += 1;
        // The DELETED event carries the deletion's resourceVersion, as the real API does.
        let mut obj = (*old).clone();
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(self.rv.to_string()));
        let obj = Arc::new(obj);
        self.record(res, EventType::Deleted, obj.clone(), Some(old));
        Some(obj)
    }

    fn record(
        &mut self,
        resource: Resource,
        kind: EventType,
        object: Arc<Value>,
        prev: Option<Arc<Value>>,
    ) {
        self.history.push_back(Change {
            rv: self.rv,
            resource,
            kind,
            object,
            prev,
        });
        self.trim();
    }

    fn trim(&mut self) {
        while self.history.len() > self.history_limit {
            if let Some(c) = self.history.pop_front() {
                self.compacted = c.rv;
            }
        }
    }

    /// Start counting resourceVersions at `rv`, with no history before it: a watch from an
    /// earlier version (one handed out before a restart) is told to relist, as a restored
    /// API server does, rather than served a history that is not its own.
    pub fn begin_at(&mut self, rv: u64) {
        if self.rv == 0 && self.history.is_empty() {
            self.rv = rv;
            self.compacted = rv;
        }
    }

    /// The changes after `rv`, or `Expired` when some of them are gone from the history
    /// (or `rv` is from the future, e.g. from before the simulator restarted: the client
    /// must relist either way).
    pub fn changes_after(&self, rv: u64) -> Result<impl Iterator<Item = &Change>, Expired> {
        if rv < self.compacted || rv > self.rv {
            return Err(Expired {
                oldest: self.compacted,
            });
        }
        let start = self.history.partition_point(|c| c.rv <= rv);
        Ok(self.history.range(start..))
    }
}

/// The (namespace, name) an object is stored under.
pub fn key_of(obj: &Value) -> (String, String) {
    let s = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (s("/metadata/namespace"), s("/metadata/name"))
}

/// `obj.metadata` as a map, created if missing.
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"]
        .as_object_mut()
        .expect("metadata was just made an object")
}

/// Unix time in seconds.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Kubernetes `Time`: RFC 3339 in UTC with whole seconds.
pub fn rfc3339(t: f64) -> String {
    chrono::DateTime::from_timestamp(t.floor() as i64, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub fn parse_time(s: &str) -> Option<f64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_micros() as f64 / 1e6)
}

/// A small deterministic generator (SplitMix64) for names and uids; no crypto needed.
pub struct Rng(u64);

/// The alphabet Kubernetes uses for generated name suffixes (no vowels, no look-alikes).
pub const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn alphanumeric(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| NAME_ALPHABET[(self.next_u64() % NAME_ALPHABET.len() as u64) as usize] as char)
            .collect()
    }

    /// A random (version 4) UUID.
    pub fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "ns"}, "spec": {"x": 1}})
    }

    #[test]
    fn create_update_delete_bump_the_resource_version() {
        let mut s = Store::new(1);
        let a = s.create(Resource::Deployment, pod("a"), 100.0).unwrap();
        assert_eq!(a["metadata"]["resourceVersion"], "1");
        assert_eq!(a["metadata"]["generation"], 1);
        assert_eq!(a["kind"], "Deployment");
        assert_eq!(a["apiVersion"], "apps/v1");
        assert_eq!(a["metadata"]["creationTimestamp"], "1970-01-01T00:01:40Z");

        // An unchanged write is not a change.
        let same = s.update(Resource::Deployment, (*a).clone()).unwrap();
        assert_eq!(same["metadata"]["resourceVersion"], "1");

        let mut b = (*a).clone();
        b["status"] = json!({"replicas": 1});
        let b = s.update(Resource::Deployment, b).unwrap();
        assert_eq!(b["metadata"]["resourceVersion"], "2");
        assert_eq!(
            b["metadata"]["generation"], 1,
            "a status change keeps the generation"
        );

        let mut c = (*b).clone();
        c["spec"]["x"] = json!(2);
        let c = s.update(Resource::Deployment, c).unwrap();
        assert_eq!(c["metadata"]["generation"], 2);

        let d = s.delete(Resource::Deployment, "ns", "a").unwrap();
        assert_eq!(d["metadata"]["resourceVersion"], "4");
        let kinds: Vec<_> = s.changes_after(0).unwrap().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [
                EventType::Added,
                EventType::Modified,
                EventType::Modified,
                EventType::Deleted
            ]
        );
        assert_eq!(s.changes_after(2).unwrap().count(), 2);
    }

    #[test]
    fn old_versions_expire_when_the_history_is_full() {
        let mut s = Store::new(1);
        s.set_history_limit(2);
        for n in ["a", "b", "c", "d"] {
            s.create(Resource::Pod, pod(n), 0.0).unwrap();
        }
        assert!(s.changes_after(1).is_err());
        assert_eq!(s.changes_after(2).unwrap().count(), 2);
        assert!(
            s.changes_after(5).is_err(),
            "a version from the future must relist"
        );
    }

    #[test]
    fn generate_name_and_uuid() {
        let mut s = Store::new(7);
        let o = s
            .create(
                Resource::Event,
                json!({"metadata": {"generateName": "x-", "namespace": "n"}}),
                0.0,
            )
            .unwrap();
        let name = o["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("x-") && name.len() == 7);
        let uid = o["metadata"]["uid"].as_str().unwrap();
        assert_eq!(uid.len(), 36);
        assert_eq!(&uid[14..15], "4");
        assert!(
            s.create(
                Resource::Event,
                json!({"metadata": {"name": name, "namespace": "n"}}),
                0.0
            )
            .is_err()
        );
    }
}
