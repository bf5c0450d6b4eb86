//! Scenario files drive the simulated cluster: which versions run, how many replicas,
//! how fast pods start, and how each version behaves under traffic.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::duration::Dur;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    pub namespace: String,
    /// The `minor` the simulated API server reports in `/version`.
    #[serde(default = "default_minor")]
    pub kube_minor: String,
    pub app: String,
    pub stable: DeploymentSpec,
    pub canary: DeploymentSpec,
    /// Behaviour keyed by image tag (the part after the last `:`).
    pub versions: BTreeMap<String, Behavior>,
    pub traffic: TrafficModel,
    #[serde(default)]
    pub timing: Timing,
    /// Relative random variation of the metrics, 0 = values hold still.
    #[serde(default)]
    pub noise: f64,
    /// The cluster's nodes, all Ready (what a capacity check reads).
    #[serde(default)]
    pub nodes: SimNodes,
    /// Secrets in the namespace, by name (their data is a placeholder).
    #[serde(default)]
    pub secrets: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimNodes {
    pub count: u32,
    /// Allocatable CPU per node (`8`, `7910m`).
    pub cpu: String,
    /// Allocatable memory per node (`32Gi`).
    pub memory: String,
}

impl Default for SimNodes {
    fn default() -> Self {
        SimNodes {
            count: 3,
            cpu: "8".into(),
            memory: "32Gi".into(),
        }
    }
}

fn default_minor() -> String {
    "32".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentSpec {
    pub name: String,
    pub image: String,
    pub replicas: u32,
    /// The `track` label of its pods: `stable` or `canary`.
    pub track: String,
    #[serde(default = "default_surge")]
    pub max_surge: String,
    #[serde(default = "default_unavailable")]
    pub max_unavailable: String,
}

fn default_surge() -> String {
    "25%".into()
}
fn default_unavailable() -> String {
    "25%".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behavior {
    /// Fraction of requests answered with a 5xx, 0..1.
    pub error_rate: f64,
    /// Typical and slow response times, in milliseconds.
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    /// CPU use as a fraction of the container's limit, 0..1.
    pub cpu: f64,
    /// Memory use as a fraction of the container's limit, 0..1.
    pub memory: f64,
    /// Seconds from pod creation until its container runs.
    #[serde(default = "default_start")]
    pub start: Dur,
    /// Seconds from running until the readiness probe passes.
    #[serde(default = "default_ready")]
    pub ready: Dur,
    /// The container exits shortly after starting, over and over.
    #[serde(default)]
    pub crash_loop: bool,
    /// The container runs but its readiness probe never passes.
    #[serde(default)]
    pub never_ready: bool,
    /// Fraction of payments that succeed, 0..1.
    #[serde(default = "default_payment")]
    pub payment_success: f64,
}

fn default_start() -> Dur {
    Dur::from_secs(2)
}
fn default_ready() -> Dur {
    Dur::from_secs(3)
}
fn default_payment() -> f64 {
    0.995
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficModel {
    /// How traffic is split between the stable and canary tracks.
    #[serde(default)]
    pub split: TrafficSplit,
    /// Requests per second across all ready pods of the app.
    pub rps: f64,
    pub orders_per_min: f64,
    pub active_users: f64,
}

/// `traffic.split` in a scenario.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrafficSplit {
    /// One Service over both tracks: each ready pod gets an equal share, so the canary's
    /// share is its share of the ready replicas.
    #[default]
    Replicas,
    /// Gateway API: Services `<stable>` and `<canary>` behind an HTTPRoute named
    /// `<stable>` whose backendRef weights decide each track's share.
    Gateway,
    /// Istio: Services `<stable>` and `<canary>` as the destinations of a VirtualService
    /// named `<stable>` whose weights decide each track's share.
    Istio,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timing {
    /// How often the controllers reconcile.
    #[serde(default = "default_tick_ms")]
    pub tick_ms: u64,
    /// How long a deleted pod stays Terminating.
    #[serde(default = "default_terminate")]
    pub terminate: Dur,
    /// `spec.progressDeadlineSeconds` of the simulated Deployments.
    #[serde(default = "default_deadline")]
    pub progress_deadline: Dur,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            tick_ms: default_tick_ms(),
            terminate: default_terminate(),
            progress_deadline: default_deadline(),
        }
    }
}

fn default_tick_ms() -> u64 {
    250
}
fn default_terminate() -> Dur {
    Dur::from_secs(2)
}
fn default_deadline() -> Dur {
    Dur::from_secs(600)
}

impl Scenario {
    /// The tag of an image reference: `registry/erp-backend:v1.0.0` → `v1.0.0`.
    pub fn tag(image: &str) -> &str {
        match image.rsplit_once(':') {
            Some((_, t)) if !t.contains('/') => t,
            _ => "latest",
        }
    }

    pub fn behavior(&self, image: &str) -> Option<&Behavior> {
        self.versions.get(Self::tag(image))
    }
}

/// The rules of the first `kind: Role` in a YAML file of one or more documents (a Role
/// with its RoleBinding and ServiceAccount, as `kubectl apply -f` takes them), for the
/// simulator to enforce.
pub fn parse_role_rules(text: &str) -> Result<Vec<k8s_openapi::api::rbac::v1::PolicyRule>, String> {
    rules_of(text, "Role")?.ok_or_else(|| "no `kind: Role` document in the file".into())
}

/// The rules of the first `kind: ClusterRole` in the file, if it has one (what it grants
/// at the cluster scope: nodes).
pub fn parse_cluster_role_rules(
    text: &str,
) -> Result<Option<Vec<k8s_openapi::api::rbac::v1::PolicyRule>>, String> {
    rules_of(text, "ClusterRole")
}

fn rules_of(
    text: &str,
    kind: &str,
) -> Result<Option<Vec<k8s_openapi::api::rbac::v1::PolicyRule>>, String> {
    use serde::Deserialize as _;
    if let Some((line, column)) = super::alias::find_alias(text) {
        return Err(format!(
            "{line}:{column}: aliases (`*name`) are not allowed in a runbook, layout or scenario: write the value out (or quote it if the `*` is text)"
        ));
    }
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let v =
            serde_yaml::Value::deserialize(doc).map_err(|e| format!("document {}: {e}", i + 1))?;
        if v.get("kind").and_then(serde_yaml::Value::as_str) != Some(kind) {
            continue;
        }
        let rules = v
            .get("rules")
            .cloned()
            .unwrap_or(serde_yaml::Value::Sequence(Vec::new()));
        return serde_yaml::from_value(rules)
            .map(Some)
            .map_err(|e| format!("document {}: the {kind}'s rules: {e}", i + 1));
    }
    Ok(None)
}

#[cfg(test)]
mod rbac_tests {
    use super::parse_role_rules;

    #[test]
    fn role_rules_come_from_the_role_among_other_documents() {
        let text = "apiVersion: v1
kind: ServiceAccount
metadata: {name: warroom, namespace: erp}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: warroom, namespace: erp}
rules:
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, patch]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  resourceNames: [warroom-erp]
  verbs: [get, update]
---
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: warroom, namespace: erp}
";
        let rules = parse_role_rules(text).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(
            rules[0].api_groups.as_deref(),
            Some(&["apps".to_string()][..])
        );
        assert_eq!(rules[0].verbs, ["get", "list", "watch", "patch"]);
        assert_eq!(
            rules[1].resource_names.as_deref(),
            Some(&["warroom-erp".to_string()][..])
        );
        assert!(parse_role_rules("kind: ClusterRoleBinding\n").is_err());
        assert!(parse_role_rules("kind: Role\nrules: [{verbs: 3}]\n").is_err());
    }
}
