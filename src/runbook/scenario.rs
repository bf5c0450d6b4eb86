//! Scenario files drive the simulated cluster: which versions run, how many replicas,
//! how fast pods start, and how each version behaves under traffic.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::duration::Dur;

/// A scenario names its first service at the top level (`app`, `stable`, `canary`,
/// `versions`, `traffic`) and may list more under `services:`, all in one namespace:
///
/// ```yaml
/// app: erp-backend
/// stable: {name: erp-backend, image: registry.local/erp-backend:v0.9.3, replicas: 10, track: stable}
/// canary: {name: erp-backend-canary, image: registry.local/erp-backend:v1.0.0, replicas: 0, track: canary}
/// versions: {v0.9.3: {...}, v1.0.0: {...}}
/// traffic: {rps: 400, orders_per_min: 180, active_users: 1250}
/// services:
/// - app: erp-worker
///   stable: {name: erp-worker, image: registry.local/erp-worker:v0.9.3, replicas: 4, track: stable}
///   canary: {name: erp-worker-canary, image: registry.local/erp-worker:v1.0.0, replicas: 0, track: canary}
///   versions: {v0.9.3: {...}, v1.0.0: {...}}   # its own: tags mean this service's builds
///   traffic: {rps: 0, jobs_per_sec: 20}        # rps 0: a background worker
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "ScenarioFile")]
pub struct Scenario {
    pub name: String,
    pub namespace: String,
    /// The `minor` the simulated API server reports in `/version`.
    pub kube_minor: String,
    /// The first service: its app (the `app` label of its pods, their container's name
    /// and the `job` of its metrics), Deployments, versions and traffic.
    pub app: String,
    pub stable: DeploymentSpec,
    pub canary: DeploymentSpec,
    /// Behaviour keyed by image tag (the part after the last `:`).
    pub versions: BTreeMap<String, Behavior>,
    pub traffic: TrafficModel,
    /// The services released alongside the first one, in the same namespace.
    pub services: Vec<Service>,
    pub timing: Timing,
    /// Relative random variation of the metrics, 0 = values hold still.
    pub noise: f64,
    /// The cluster's nodes, all Ready (what a capacity check reads).
    pub nodes: SimNodes,
    /// Secrets in the namespace, by name (their data is a placeholder).
    pub secrets: Vec<String>,
}

/// A scenario file as written; [`Scenario`] is what it reads as once checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: String,
    namespace: String,
    #[serde(default = "default_minor")]
    kube_minor: String,
    app: String,
    stable: DeploymentSpec,
    canary: DeploymentSpec,
    versions: BTreeMap<String, Behavior>,
    traffic: TrafficModel,
    #[serde(default)]
    services: Vec<Service>,
    #[serde(default)]
    timing: Timing,
    #[serde(default)]
    noise: f64,
    #[serde(default)]
    nodes: SimNodes,
    #[serde(default)]
    secrets: Vec<String>,
}

/// A service of a scenario beyond the first: its own app, Deployments, versions (a tag
/// names this service's build: `v1.0.0` here is not the first service's `v1.0.0`) and
/// traffic.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub app: String,
    pub stable: DeploymentSpec,
    pub canary: DeploymentSpec,
    pub versions: BTreeMap<String, Behavior>,
    pub traffic: TrafficModel,
}

impl Service {
    pub fn as_ref(&self) -> ServiceRef<'_> {
        ServiceRef {
            app: &self.app,
            stable: &self.stable,
            canary: &self.canary,
            versions: &self.versions,
            traffic: &self.traffic,
        }
    }
}

/// One service of a scenario, whether the first (the top-level fields) or one listed
/// under `services:`.
#[derive(Debug, Clone, Copy)]
pub struct ServiceRef<'a> {
    pub app: &'a str,
    pub stable: &'a DeploymentSpec,
    pub canary: &'a DeploymentSpec,
    pub versions: &'a BTreeMap<String, Behavior>,
    pub traffic: &'a TrafficModel,
}

impl<'a> ServiceRef<'a> {
    /// The behaviour of this service's build with this image's tag.
    pub fn behavior(&self, image: &str) -> Option<&'a Behavior> {
        self.versions.get(Scenario::tag(image))
    }

    /// A service that takes no requests (`rps: 0`): a background worker, which works
    /// through jobs instead.
    pub fn is_worker(&self) -> bool {
        self.traffic.is_worker()
    }
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

impl Behavior {
    /// The fields that must be fractions (0 to 1) and are not, with their values.
    pub fn not_a_fraction(&self) -> impl Iterator<Item = (&'static str, f64)> {
        [
            ("error_rate", self.error_rate),
            ("cpu", self.cpu),
            ("memory", self.memory),
            ("payment_success", self.payment_success),
        ]
        .into_iter()
        .filter(|(_, v)| !(0.0..=1.0).contains(v))
    }
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
    /// Requests per second across all ready pods of the app. 0 makes the service a
    /// background worker: no requests, no route, it works through `jobs_per_sec`.
    pub rps: f64,
    /// Orders and signed-in users: the first service's business metrics (a further
    /// service leaves them out).
    #[serde(default)]
    pub orders_per_min: f64,
    #[serde(default)]
    pub active_users: f64,
    /// A worker's (`rps: 0`) jobs per second across its ready pods; each fails as often
    /// as its version's `error_rate` says and takes its latencies. Default 10.
    #[serde(default)]
    pub jobs_per_sec: Option<f64>,
}

/// Jobs per second of a worker whose scenario does not say.
pub const DEFAULT_JOBS_PER_SEC: f64 = 10.0;

impl TrafficModel {
    pub fn is_worker(&self) -> bool {
        self.rps == 0.0
    }

    /// The jobs per second a worker works through (0 for a service that takes requests).
    pub fn jobs_per_sec(&self) -> f64 {
        if self.is_worker() {
            self.jobs_per_sec.unwrap_or(DEFAULT_JOBS_PER_SEC).max(0.0)
        } else {
            0.0
        }
    }
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

    /// The first service's behaviour for this image's tag.
    pub fn behavior(&self, image: &str) -> Option<&Behavior> {
        self.versions.get(Self::tag(image))
    }

    /// The first service, from the top-level fields.
    pub fn first_service(&self) -> ServiceRef<'_> {
        ServiceRef {
            app: &self.app,
            stable: &self.stable,
            canary: &self.canary,
            versions: &self.versions,
            traffic: &self.traffic,
        }
    }

    /// Every service, the first one first.
    pub fn all_services(&self) -> impl Iterator<Item = ServiceRef<'_>> {
        std::iter::once(self.first_service()).chain(self.services.iter().map(Service::as_ref))
    }

    /// The `i`th service as `all_services` counts them (0 = the first); the first for
    /// an `i` past the last.
    pub fn service_at(&self, i: usize) -> ServiceRef<'_> {
        match i.checked_sub(1).and_then(|j| self.services.get(j)) {
            Some(s) => s.as_ref(),
            None => self.first_service(),
        }
    }

    /// The service whose app this is; a pod of an app the scenario does not name (one
    /// created by hand) counts as the first service's, as in a scenario of one service.
    pub fn service_of(&self, app: &str) -> ServiceRef<'_> {
        self.all_services()
            .find(|s| s.app == app)
            .unwrap_or_else(|| self.first_service())
    }

    /// The behaviour of a pod of `app` running `image`: its own service's build.
    pub fn behavior_of(&self, app: &str, image: &str) -> Option<&Behavior> {
        self.service_of(app).behavior(image)
    }
}

impl TryFrom<ScenarioFile> for Scenario {
    type Error = String;

    fn try_from(f: ScenarioFile) -> Result<Self, String> {
        let s = Scenario {
            name: f.name,
            namespace: f.namespace,
            kube_minor: f.kube_minor,
            app: f.app,
            stable: f.stable,
            canary: f.canary,
            versions: f.versions,
            traffic: f.traffic,
            services: f.services,
            timing: f.timing,
            noise: f.noise,
            nodes: f.nodes,
            secrets: f.secrets,
        };
        s.check_services()?;
        Ok(s)
    }
}

impl Scenario {
    /// What a scenario of several services must hold: every app and every Deployment
    /// named once, a worker split by replicas, and each further service's versions
    /// described as the loader checks the first's. A message starts with the path of
    /// the value it is about (`services[1].app: …`), which is where the loader points.
    fn check_services(&self) -> Result<(), String> {
        // Path of each service's fields: "" for the first (top-level), `services[i].` after.
        let at = |i: usize| {
            if i == 0 {
                String::new()
            } else {
                format!("services[{}].", i - 1)
            }
        };
        let what = |i: usize| {
            if i == 0 {
                "the first service (the top-level `app`)".to_string()
            } else {
                format!("services[{}]", i - 1)
            }
        };
        let all: Vec<ServiceRef<'_>> = self.all_services().collect();
        let mut apps: BTreeMap<&str, usize> = BTreeMap::new();
        let mut deployments: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
        for (i, svc) in all.iter().enumerate() {
            if let Some(&j) = apps.get(svc.app) {
                return Err(format!(
                    "{}app: duplicate app `{}`: {} has it too; each service needs an app of its own",
                    at(i),
                    svc.app,
                    what(j)
                ));
            }
            apps.insert(svc.app, i);
            for (which, d) in [("stable", svc.stable), ("canary", svc.canary)] {
                if let Some(&(j, other)) = deployments.get(d.name.as_str()) {
                    return Err(format!(
                        "{}{which}.name: duplicate Deployment `{}`: it is already the {other} Deployment of {}; each Deployment needs a name of its own",
                        at(i),
                        d.name,
                        what(j)
                    ));
                }
                deployments.insert(&d.name, (i, which));
            }
            let t = svc.traffic;
            if t.rps < 0.0 || !t.rps.is_finite() {
                return Err(format!(
                    "{}traffic.rps: rps must be 0 (a background worker) or more (got {})",
                    at(i),
                    t.rps
                ));
            }
            if t.is_worker() && t.split != TrafficSplit::Replicas {
                return Err(format!(
                    "{}traffic.split: a service with `rps: 0` is a background worker and takes no requests: its canary goes by replicas, so remove the split",
                    at(i)
                ));
            }
            if let Some(j) = t.jobs_per_sec {
                if !t.is_worker() {
                    return Err(format!(
                        "{}traffic.jobs_per_sec: jobs_per_sec is a background worker's (`rps: 0`); this service takes requests",
                        at(i)
                    ));
                }
                if j < 0.0 || !j.is_finite() {
                    return Err(format!(
                        "{}traffic.jobs_per_sec: jobs_per_sec must be 0 or more (got {j})",
                        at(i)
                    ));
                }
            }
            if i == 0 {
                // The loader checks the first service's versions.
                continue;
            }
            for (field, v) in [
                ("orders_per_min", t.orders_per_min),
                ("active_users", t.active_users),
            ] {
                if v != 0.0 {
                    return Err(format!(
                        "{}traffic.{field}: {field} is the first service's business metric: remove it here",
                        at(i)
                    ));
                }
            }
            for (which, d) in [("stable", svc.stable), ("canary", svc.canary)] {
                if svc.behavior(&d.image).is_none() {
                    return Err(format!(
                        "{}{which}.image: no behaviour for version `{}` of {}: add it under this service's `versions:`",
                        at(i),
                        Self::tag(&d.image),
                        svc.app
                    ));
                }
            }
            for (tag, b) in svc.versions {
                if let Some((field, v)) = b.not_a_fraction().next() {
                    return Err(format!(
                        "{}versions: version `{tag}`: {field} is a fraction: write a number from 0 to 1 (got {v})",
                        at(i)
                    ));
                }
                if b.latency_p95_ms < b.latency_p50_ms {
                    return Err(format!(
                        "{}versions: version `{tag}`: latency_p95_ms must be at least latency_p50_ms",
                        at(i)
                    ));
                }
            }
        }
        Ok(())
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

#[cfg(test)]
mod service_tests {
    use std::path::Path;

    use super::{Scenario, TrafficSplit};
    use crate::runbook::{load_scenario, parse_scenario};

    const RELEASE: &str = include_str!("../../assets/scenarios/erp-release.yaml");

    /// Loads `text` as a scenario file: the loader's one problem, as a user reads it.
    fn load_text(text: &str) -> Result<Scenario, (usize, String)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scenario.yaml");
        std::fs::write(&path, text).unwrap();
        load_scenario(&path).map_err(|p| {
            assert_eq!(p.0.len(), 1, "{p}");
            (p.0[0].line, p.0[0].message.clone())
        })
    }

    fn line_of(text: &str, needle: &str, nth: usize) -> usize {
        text.lines()
            .enumerate()
            .filter(|(_, l)| l.contains(needle))
            .nth(nth)
            .unwrap_or_else(|| panic!("no {needle} #{nth}"))
            .0
            + 1
    }

    #[test]
    fn a_scenario_of_one_service_reads_as_before() {
        for name in ["default", "gateway", "istio", "steady"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("assets/scenarios")
                .join(format!("{name}.yaml"));
            let s = load_scenario(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(s.services.is_empty(), "{name}");
            let all: Vec<_> = s.all_services().collect();
            assert_eq!(all.len(), 1, "{name}");
            assert_eq!(all[0].app, "erp-backend");
            assert_eq!(all[0].stable.name, "erp-backend");
            assert_eq!(all[0].canary.name, "erp-backend-canary");
            assert!(!all[0].is_worker());
            assert_eq!(s.traffic.orders_per_min, 180.0);
            assert_eq!(s.traffic.active_users, 1250.0);
            assert_eq!(
                s.behavior_of("erp-backend", "r/erp-backend:v1.0.0")
                    .map(|b| b.error_rate),
                s.behavior("r/erp-backend:v1.0.0").map(|b| b.error_rate)
            );
        }
        // A pod of an app the scenario does not name behaves as the first service's.
        let s = parse_scenario(include_str!("../../assets/scenarios/default.yaml")).unwrap();
        assert_eq!(s.service_of("hand-made").app, "erp-backend");
    }

    #[test]
    fn the_release_scenario_has_three_services_with_their_own_versions() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/erp-release.yaml");
        let s = load_scenario(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.namespace, "erp-production");
        let apps: Vec<&str> = s.all_services().map(|svc| svc.app).collect();
        assert_eq!(apps, ["erp-backend", "erp-frontend", "erp-worker"]);
        let replicas: Vec<(&str, u32)> = s
            .all_services()
            .flat_map(|svc| [svc.stable, svc.canary])
            .map(|d| (d.name.as_str(), d.replicas))
            .collect();
        assert_eq!(
            replicas,
            [
                ("erp-backend", 10),
                ("erp-backend-canary", 0),
                ("erp-frontend", 6),
                ("erp-frontend-canary", 0),
                ("erp-worker", 4),
                ("erp-worker-canary", 0),
            ]
        );
        // The same tag, different builds.
        let rate = |app: &str, image: &str| s.behavior_of(app, image).unwrap().error_rate;
        assert_eq!(rate("erp-frontend", "r/erp-frontend:v2.4.0"), 0.08);
        assert!(s.behavior_of("erp-backend", "r/x:v2.4.0").is_none());
        assert!(rate("erp-backend", "r/x:v1.0.0") < 0.01);
        let worker = s.service_of("erp-worker");
        assert!(worker.is_worker());
        assert_eq!(worker.traffic.split, TrafficSplit::Replicas);
        assert_eq!(worker.traffic.jobs_per_sec(), 20.0);
        assert_eq!(s.secrets, ["erp-backend-tls", "erp-backend-db"]);
    }

    #[test]
    fn a_duplicate_app_or_deployment_is_refused_where_it_is_written() {
        let text = RELEASE.replacen("- app: erp-worker", "- app: erp-frontend", 1);
        let (line, msg) = load_text(&text).unwrap_err();
        assert_eq!(
            msg,
            "duplicate app `erp-frontend`: services[0] has it too; each service needs an app of its own"
        );
        assert_eq!(line, line_of(&text, "- app: erp-frontend", 1));
        // The first service's app counts too.
        let text = RELEASE.replacen("- app: erp-frontend", "- app: erp-backend", 1);
        let err = parse_scenario(&text).unwrap_err();
        assert!(
            err.contains(
                "duplicate app `erp-backend`: the first service (the top-level `app`) has it too"
            ),
            "{err}"
        );

        let text = RELEASE.replacen("name: erp-worker-canary", "name: erp-frontend-canary", 1);
        let (line, msg) = load_text(&text).unwrap_err();
        assert_eq!(
            msg,
            "duplicate Deployment `erp-frontend-canary`: it is already the canary Deployment of services[0]; each Deployment needs a name of its own"
        );
        assert_eq!(line, line_of(&text, "name: erp-frontend-canary", 1));
    }

    #[test]
    fn a_further_service_is_checked_as_the_first_one_is() {
        let refused = |from: &str, to: &str, want: &str| {
            assert!(RELEASE.contains(from), "{from}");
            let text = RELEASE.replacen(from, to, 1);
            let (_, msg) = load_text(&text).unwrap_err();
            assert!(msg.contains(want), "{from} -> {to}: {msg}");
        };
        refused(
            "      rps: 0\n",
            "      rps: 0\n      split: gateway\n",
            "a service with `rps: 0` is a background worker",
        );
        refused(
            "erp-worker:v1.0.0",
            "erp-worker:v1.1.0",
            "no behaviour for version `v1.1.0` of erp-worker",
        );
        refused(
            "      rps: 250\n",
            "      rps: 250\n      jobs_per_sec: 5\n",
            "jobs_per_sec is a background worker's",
        );
        refused(
            "      rps: 250\n",
            "      rps: 250\n      orders_per_min: 5\n",
            "orders_per_min is the first service's business metric",
        );
        refused(
            "        error_rate: 0.08\n",
            "        error_rate: 8\n",
            "version `v2.4.0`: error_rate is a fraction",
        );
        refused(
            "      rps: 250\n",
            "      rps: 250\n      rpm: 5\n",
            "unknown field `rpm`",
        );
    }
}
