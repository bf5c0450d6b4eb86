//! What the cluster says, as plain values: the kube source converts API objects into
//! these, so state and rendering never depend on the API types.

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeployView {
    pub name: String,
    pub uid: String,
    /// spec.replicas
    pub desired: u32,
    /// status.replicas: pods of every ReplicaSet, old and new.
    pub replicas: u32,
    pub updated: u32,
    pub ready: u32,
    pub available: u32,
    pub generation: i64,
    pub observed_generation: i64,
    pub paused: bool,
    pub revision: String,
    pub image: String,
    /// (type, status, reason, message)
    pub conditions: Vec<(String, String, String, String)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RsView {
    pub name: String,
    /// The Deployment that controls it.
    pub owner: String,
    pub revision: String,
    pub image: String,
    pub desired: u32,
    pub ready: u32,
    pub created: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodView {
    pub name: String,
    /// The ReplicaSet that owns it.
    pub owner: String,
    pub ready_containers: u32,
    pub containers: u32,
    /// What kubectl prints in STATUS: Running, ContainerCreating, CrashLoopBackOff, Terminating…
    pub status: String,
    pub restarts: u32,
    pub created: Option<DateTime<Utc>>,
    /// Why a container waits or stopped, in the kubelet's words (`Back-off pulling image
    /// "…"`, `back-off 40s restarting failed container=…`), when it says.
    pub message: Option<String>,
}

/// The latest thing the cluster's Events say about a pod (`kubectl describe pod`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodEvent {
    /// `Normal` or `Warning`.
    pub kind: String,
    pub reason: String,
    pub message: String,
    pub at: Option<DateTime<Utc>>,
}

impl PodView {
    /// Every container ready, as READY n/n says.
    pub fn ready(&self) -> bool {
        self.containers > 0 && self.ready_containers == self.containers
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub deployments: Vec<DeployView>,
    pub replicasets: Vec<RsView>,
    pub pods: Vec<PodView>,
    /// The routes whose weights split the targets' traffic, for targets whose strategy
    /// uses one, as far as they have been seen.
    pub routes: Vec<RouteView>,
}

/// The kind of object whose backend weights split a target's traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RouteKind {
    /// Gateway API `HTTPRoute`: `spec.rules[].backendRefs[]` by Service name.
    #[default]
    HttpRoute,
    /// Istio `VirtualService`: `spec.http[].route[]` destinations by subset, or by host
    /// where they name no subset.
    VirtualService,
}

impl RouteKind {
    /// The object's kind, as the API and kubectl name it.
    pub fn kind(self) -> &'static str {
        match self {
            RouteKind::HttpRoute => "HTTPRoute",
            RouteKind::VirtualService => "VirtualService",
        }
    }

    /// What applies the route's weights to the requests.
    pub fn applier(self) -> &'static str {
        match self {
            RouteKind::HttpRoute => "The gateway",
            RouteKind::VirtualService => "The Istio mesh",
        }
    }

    /// What the route calls one of its backends.
    pub fn backend(self) -> &'static str {
        match self {
            RouteKind::HttpRoute => "backendRef",
            RouteKind::VirtualService => "destination",
        }
    }
}

/// A route's backends and their weights, as the cluster reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteView {
    pub kind: RouteKind,
    pub name: String,
    /// (backend name, weight), over all rules, in order, with the API's default weight
    /// where one is not written.
    pub backends: Vec<(String, u32)>,
}

impl RouteView {
    /// The backend's weight, summed over the route's rules.
    pub fn weight(&self, backend: &str) -> Option<u32> {
        let w: Vec<u32> = self
            .backends
            .iter()
            .filter(|(n, _)| n == backend)
            .map(|(_, w)| *w)
            .collect();
        (!w.is_empty()).then(|| w.iter().sum())
    }

    /// The share of requests the backend gets, in percent.
    pub fn percent(&self, backend: &str) -> Option<f64> {
        let total: u32 = self.backends.iter().map(|(_, w)| w).sum();
        let w = self.weight(backend)?;
        (total > 0).then(|| 100.0 * w as f64 / total as f64)
    }

    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .backends
            .iter()
            .map(|(n, w)| format!("{n}={w}"))
            .collect();
        format!(
            "{} {} weights {}",
            self.kind.kind(),
            self.name,
            parts.join(", ")
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Link {
    /// No answer from the API yet.
    Connecting,
    Live,
    Lost {
        since: DateTime<Utc>,
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub link: Link,
    pub snap: Snapshot,
    /// The latest Event about each pod, by pod name, from a watch of their own (a Role
    /// without the events verbs leaves it empty).
    pub pod_events: std::collections::BTreeMap<String, PodEvent>,
    /// When the last snapshot arrived (None: never).
    pub updated: Option<DateTime<Utc>>,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            link: Link::Connecting,
            snap: Snapshot::default(),
            pod_events: Default::default(),
            updated: None,
        }
    }
}

impl Cluster {
    pub fn deployment(&self, name: &str) -> Option<&DeployView> {
        self.snap.deployments.iter().find(|d| d.name == name)
    }

    /// The route of that kind and name, as last seen.
    pub fn route(&self, kind: RouteKind, name: &str) -> Option<&RouteView> {
        self.snap
            .routes
            .iter()
            .find(|r| r.kind == kind && r.name == name)
    }

    /// The pods of the Deployment's ReplicaSets (of its revision `revision` only, when
    /// given).
    pub fn pods_of<'a>(
        &'a self,
        deployment: &'a str,
        revision: Option<&'a str>,
    ) -> impl Iterator<Item = &'a PodView> + 'a {
        let rs: Vec<&str> = self
            .snap
            .replicasets
            .iter()
            .filter(|r| r.owner == deployment && revision.is_none_or(|v| r.revision == v))
            .map(|r| r.name.as_str())
            .collect();
        self.snap
            .pods
            .iter()
            .filter(move |p| rs.contains(&p.owner.as_str()))
    }
}

/// `kubectl rollout status`'s verdict on a Deployment, decided exactly as kubectl does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutStatus {
    Waiting(String),
    Failed(String),
    Complete,
}

pub fn rollout_status(d: &DeployView) -> RolloutStatus {
    if d.generation > d.observed_generation {
        return RolloutStatus::Waiting("waiting for deployment spec update to be observed".into());
    }
    if let Some(c) = d.conditions.iter().find(|c| c.0 == "Progressing")
        && c.2 == "ProgressDeadlineExceeded"
    {
        return RolloutStatus::Failed(format!(
            "deployment {:?} exceeded its progress deadline",
            d.name
        ));
    }
    if d.updated < d.desired {
        return RolloutStatus::Waiting(format!(
            "{} out of {} new replicas have been updated",
            d.updated, d.desired
        ));
    }
    if d.replicas > d.updated {
        return RolloutStatus::Waiting(format!(
            "{} old replicas are pending termination",
            d.replicas - d.updated
        ));
    }
    if d.available < d.updated {
        return RolloutStatus::Waiting(format!(
            "{} of {} updated replicas are available",
            d.available, d.updated
        ));
    }
    RolloutStatus::Complete
}
