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
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub deployments: Vec<DeployView>,
    pub replicasets: Vec<RsView>,
    pub pods: Vec<PodView>,
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
    /// When the last snapshot arrived (None: never).
    pub updated: Option<DateTime<Utc>>,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            link: Link::Connecting,
            snap: Snapshot::default(),
            updated: None,
        }
    }
}

impl Cluster {
    pub fn deployment(&self, name: &str) -> Option<&DeployView> {
        self.snap.deployments.iter().find(|d| d.name == name)
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
