//! Effects: what `update` asks the driver to do. Data only; the driver runs them.

use crate::cluster::RouteKind;
use crate::journal::Record;

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Append and fsync before running any effect after it.
    Journal(Record),
    /// Change the cluster; the result comes back as `Event::Outcome { seq }`.
    Kube {
        seq: u64,
        op: KubeOp,
        audit: Audit,
    },
    /// Claim the release's free Lease (the Lease task does it, with the resourceVersion
    /// it read: of two consoles taking at once, one wins).
    TakeLease,
    /// Tell the team's chat `channels` (runbook ids) of `event`: the notice journaled as
    /// `seq`; each channel's delivery comes back as `Event::Notified`.
    Notify {
        seq: u64,
        channels: Vec<String>,
        event: crate::runbook::NotifyEvent,
        text: String,
    },
    /// Read the last lines of a pod's log: they come back as `Event::PodLog`.
    PodLog {
        pod: String,
    },
    /// Verify item `item` with a request of its own (PromQL, a one-off read, HTTP): the
    /// verdict comes back as `Event::Probed`.
    Probe {
        item: usize,
        verify: crate::runbook::Verify,
    },
    /// Follow the driving console's mirror in the cluster (another console drives): its
    /// records come back as `Event::Follow`.
    FollowMirror,
    /// Take the journal for this console (its lock) holding the followed `records`
    /// (written there when it holds fewer): the answer comes back as `Event::Adopted`.
    Adopt {
        records: Vec<crate::journal::Record>,
    },
    Quit,
}

/// What an action records on its Deployments as a Kubernetes Event, so `kubectl describe`
/// tells the same story as the comms log.
#[derive(Debug, Clone, PartialEq)]
pub struct Audit {
    /// CamelCase, as Event reasons are: `WarroomAdvance`, `WarroomRollback`, …
    pub reason: String,
    /// Who did what and why.
    pub message: String,
}

/// A change to the cluster, described fully so the confirmation can say exactly what it does.
#[derive(Debug, Clone, PartialEq)]
pub enum KubeOp {
    /// Set `spec.replicas` of each Deployment, in order.
    Scale { targets: Vec<(String, u32)> },
    /// Put the canary's pod template (the new version) into the stable Deployment, scale it
    /// to `replicas`, and the canary to zero; `cause` becomes its change-cause. (Who did
    /// each action, and why, is in its `Audit`.)
    Promote {
        stable: String,
        canary: String,
        replicas: u32,
        cause: String,
    },
    /// What `kubectl rollout undo` does: back to the previous revision's template.
    Undo { deployment: String },
    /// Set the backend weights of the route of `kind`, and first make sure the canary
    /// Deployment has at least `canary_replicas` pods to take its share.
    Weights {
        kind: RouteKind,
        route: String,
        weights: Vec<(String, u32)>,
        canary: String,
        canary_replicas: Option<u32>,
        /// The Deployments the Events are recorded on.
        deployments: Vec<String>,
    },
    /// Set or clear `spec.paused`.
    Pause {
        deployments: Vec<String>,
        paused: bool,
    },
    /// Several changes, in order; the first that fails stops the rest.
    Steps(Vec<KubeOp>),
}

impl KubeOp {
    /// The Deployments the action changes, in the order it changes them.
    pub fn deployments(&self) -> Vec<&String> {
        match self {
            KubeOp::Steps(ops) => {
                let mut out: Vec<&String> = Vec::new();
                for d in ops.iter().flat_map(|o| o.deployments()) {
                    if !out.contains(&d) {
                        out.push(d);
                    }
                }
                out
            }
            KubeOp::Scale { targets, .. } => targets.iter().map(|(n, _)| n).collect(),
            KubeOp::Promote { stable, canary, .. } => vec![stable, canary],
            KubeOp::Undo { deployment, .. } => vec![deployment],
            KubeOp::Pause { deployments, .. } | KubeOp::Weights { deployments, .. } => {
                deployments.iter().collect()
            }
        }
    }

    /// The route the action changes, if any.
    pub fn route(&self) -> Option<(RouteKind, &String)> {
        match self {
            KubeOp::Weights { kind, route, .. } => Some((*kind, route)),
            KubeOp::Steps(ops) => ops.iter().find_map(|o| o.route()),
            _ => None,
        }
    }
}

/// The change in a sentence, for the console's own log (`L`).
impl std::fmt::Display for KubeOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KubeOp::Scale { targets } => {
                let each: Vec<String> =
                    targets.iter().map(|(n, r)| format!("{n} to {r}")).collect();
                write!(f, "scale {}", each.join(" and "))
            }
            KubeOp::Promote {
                stable,
                canary,
                replicas,
                ..
            } => write!(
                f,
                "promote: {stable} takes {canary}'s pod template at {replicas} replicas"
            ),
            KubeOp::Undo { deployment } => {
                write!(f, "roll {deployment} back to its previous revision")
            }
            KubeOp::Weights {
                kind,
                route,
                weights,
                ..
            } => {
                let each: Vec<String> = weights.iter().map(|(n, w)| format!("{n}={w}")).collect();
                write!(
                    f,
                    "set {} {route}'s weights to {}",
                    kind.kind(),
                    each.join(", ")
                )
            }
            KubeOp::Pause {
                deployments,
                paused,
            } => write!(
                f,
                "{} {}",
                if *paused { "pause" } else { "resume" },
                deployments.join(" and ")
            ),
            KubeOp::Steps(ops) => {
                let each: Vec<String> = ops.iter().map(|o| o.to_string()).collect();
                write!(f, "{}", each.join(", then "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_reads_as_a_sentence() {
        let op = KubeOp::Steps(vec![
            KubeOp::Pause {
                deployments: vec!["web".into(), "web-canary".into()],
                paused: false,
            },
            KubeOp::Scale {
                targets: vec![("web".into(), 10), ("web-canary".into(), 0)],
            },
        ]);
        assert_eq!(
            op.to_string(),
            "resume web and web-canary, then scale web to 10 and web-canary to 0"
        );
    }
}
