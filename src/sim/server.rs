//! Starting and stopping the simulator: the Kubernetes API and Prometheus listeners on
//! loopback, the controller loop and the metrics clock.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use k8s_openapi::api::rbac::v1::PolicyRule;

use super::controller::{Cluster, pod_ready};
use super::metrics::{MetricsSim, PodSample};
use super::rbac::Rbac;
use super::store::{Resource, now};
use super::{kube_api, prom_api};
use crate::runbook::Scenario;

/// The simulator's shared state: the cluster behind one lock, and the signals the
/// watches and tasks wait on.
pub struct Sim {
    cluster: Mutex<Cluster>,
    /// The store's latest resourceVersion; watches wake when it moves.
    pub(crate) changed: watch::Sender<u64>,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) kube_addr: SocketAddr,
    /// Every API request: method, path and query, and whether RBAC let it through.
    requests: Mutex<Vec<(String, String, bool)>>,
    /// Every answer to an API request but a watch: method, path and query, status code.
    answers: Mutex<Vec<(String, String, u16)>>,
    /// The Role enforced on every request, if any.
    pub(crate) rbac: Option<Rbac>,
}

/// A lock that survives a panicking holder: the simulator's state stays usable for the
/// rest of a demo or test rather than failing every later request.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sim {
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Cluster) -> R) -> R {
        f(&lock(&self.cluster))
    }

    /// Runs `f` on the cluster and wakes the watches if it changed anything.
    pub(crate) fn write<R>(&self, f: impl FnOnce(&mut Cluster) -> R) -> R {
        let (r, rv) = {
            let mut c = lock(&self.cluster);
            let r = f(&mut c);
            (r, c.store.rv())
        };
        self.changed.send_if_modified(|v| {
            let moved = *v != rv;
            *v = rv;
            moved
        });
        r
    }

    pub(crate) fn log_request(&self, method: &str, path_and_query: &str, allowed: bool) {
        lock(&self.requests).push((method.to_string(), path_and_query.to_string(), allowed));
    }

    pub(crate) fn log_answer(&self, method: &str, path_and_query: &str, code: u16) {
        lock(&self.answers).push((method.to_string(), path_and_query.to_string(), code));
    }

    /// What the metrics simulation needs to know of every running pod, and how each
    /// service's route (if it has one) splits its traffic between the tracks, by app.
    fn pod_samples(&self) -> (Vec<PodSample>, BTreeMap<String, BTreeMap<String, f64>>) {
        self.read(|c| {
            let pods = c
                .store
                .list(Resource::Pod, None)
                .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
                .map(|p| pod_sample(p))
                .collect();
            (pods, c.traffic_splits())
        })
    }
}

fn pod_sample(p: &Value) -> PodSample {
    let s = |ptr: &str| p.pointer(ptr).and_then(Value::as_str).unwrap_or("");
    let image = s("/spec/containers/0/image");
    let restarts = p
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("restartCount").and_then(Value::as_u64))
                .sum::<u64>()
        })
        .unwrap_or(0);
    PodSample {
        name: s("/metadata/name").to_string(),
        app: s("/metadata/labels/app").to_string(),
        track: s("/metadata/labels/track").to_string(),
        version: Scenario::tag(image).to_string(),
        ready: pod_ready(p),
        restarts: restarts as u32,
    }
}

/// A running simulator. Dropping it stops the simulator too, without waiting.
pub struct SimHandle {
    pub kube_url: String,
    pub prom_url: String,
    sim: Arc<Sim>,
    namespace: String,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// How to start the simulator.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// 0 = any free port.
    pub kube_port: u16,
    pub prom_port: u16,
    /// When set, every Kubernetes API request is authorised against these rules, as a
    /// Role bound to the simulator's user (`warroom`) in the scenario's namespace;
    /// discovery stays open. None = everything is allowed.
    pub rbac: Option<Vec<PolicyRule>>,
    /// With `rbac`: what a ClusterRole bound to the same user grants everywhere (nodes).
    /// None = nothing at the cluster scope.
    pub cluster_rbac: Option<Vec<PolicyRule>>,
}

/// Starts the simulated cluster on 127.0.0.1 (port 0 = any free port).
pub async fn start(
    scenario: Scenario,
    kube_port: u16,
    prom_port: u16,
) -> anyhow::Result<SimHandle> {
    start_with(
        scenario,
        Options {
            kube_port,
            prom_port,
            rbac: None,
            cluster_rbac: None,
        },
    )
    .await
}

/// Starts the simulated cluster on 127.0.0.1 with these options.
pub async fn start_with(scenario: Scenario, options: Options) -> anyhow::Result<SimHandle> {
    let Options {
        kube_port,
        prom_port,
        rbac,
        cluster_rbac,
    } = options;
    let rbac = rbac.map(|rules| Rbac {
        rules,
        cluster_rules: cluster_rbac.unwrap_or_default(),
        namespace: scenario.namespace.clone(),
    });
    let kube_listener = TcpListener::bind(("127.0.0.1", kube_port)).await?;
    let prom_listener = TcpListener::bind(("127.0.0.1", prom_port)).await?;
    let kube_addr = kube_listener.local_addr()?;
    let prom_addr = prom_listener.local_addr()?;
    let tick = Duration::from_millis(scenario.timing.tick_ms.max(1));
    let namespace = scenario.namespace.clone();
    let metrics = Arc::new(Mutex::new(MetricsSim::new(&scenario)));
    let cluster = Cluster::new(scenario, now());
    let (changed, _) = watch::channel(cluster.store.rv());
    let (shutdown_tx, shutdown) = watch::channel(false);
    let sim = Arc::new(Sim {
        cluster: Mutex::new(cluster),
        changed,
        shutdown: shutdown.clone(),
        kube_addr,
        requests: Mutex::new(Vec::new()),
        answers: Mutex::new(Vec::new()),
        rbac,
    });

    let kube_sim = sim.clone();
    let kube = serve(kube_listener, shutdown.clone(), move |req| {
        let sim = kube_sim.clone();
        async move { kube_api::handle(sim, req).await }
    });
    let prom_metrics = metrics.clone();
    let prom = serve(prom_listener, shutdown.clone(), move |req| {
        let metrics = prom_metrics.clone();
        async move { prom_api::handle(req, metrics).await }
    });
    let tasks = vec![
        tokio::spawn(kube),
        tokio::spawn(prom),
        tokio::spawn(run_controllers(sim.clone(), tick, shutdown.clone())),
        tokio::spawn(run_metrics(sim.clone(), metrics, shutdown)),
    ];
    Ok(SimHandle {
        kube_url: format!("http://{kube_addr}"),
        prom_url: format!("http://{prom_addr}"),
        sim,
        namespace,
        shutdown: shutdown_tx,
        tasks,
    })
}

/// Accepts HTTP/1.1 connections until shutdown; open connections end with it.
async fn serve<F, Fut, B>(listener: TcpListener, mut shutdown: watch::Receiver<bool>, handler: F)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let handler = handler.clone();
                conns.spawn(async move {
                    let service = service_fn(move |req| {
                        let handler = handler.clone();
                        async move { Ok::<_, std::convert::Infallible>(handler(req).await) }
                    });
                    // A client that hangs up mid-response is not the server's problem.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    // Dropping the set aborts the open connections.
}

async fn run_controllers(sim: Arc<Sim>, tick: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = interval.tick() => sim.write(|c| c.tick(now())),
            _ = shutdown.changed() => return,
        }
    }
}

/// Seconds of metric history the simulator starts with: a sparkline's default ten
/// minutes, and the five minutes before them that a `rate(…[5m])` at their first point
/// reads, so that a console's backfill shows the steady figures a long-running Prometheus
/// would, not the ramp of a history that begins.
const HISTORY_SECS: usize = 900;

/// The history a cluster of `pods` pods starts with: fifteen minutes up to a hundred
/// pods; beyond, as much as fifteen minutes of a hundred pods costs to write (each pod's
/// series are written every second), but never less than two minutes, so a `[1m]` window
/// is full from the start.
fn history_secs(pods: usize) -> usize {
    (HISTORY_SECS * 100 / pods.max(100)).max(120)
}

/// Steps the metrics once per second of wall time at whole-second timestamps with a
/// fixed `dt` of 1.0, so that with no noise the values hold still.
async fn run_metrics(
    sim: Arc<Sim>,
    metrics: Arc<Mutex<MetricsSim>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut t = now().floor();
    // Start with the scrape history a Prometheus that had been running for a while would
    // hold, so that rate() windows are full from the first query (a query meanwhile
    // waits for it).
    {
        let (pods, split) = sim.pod_samples();
        let mut m = lock(&metrics);
        for back in (0..=history_secs(pods.len())).rev() {
            m.step_routes(t - back as f64, 1.0, &pods, &split);
        }
    }
    let until_next = Duration::try_from_secs_f64(t + 1.0 - now()).unwrap_or(Duration::ZERO);
    let mut interval = tokio::time::interval_at(
        tokio::time::Instant::now() + until_next,
        Duration::from_secs(1),
    );
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => return,
        }
        // Catch up second by second if the task was held up, so no timestamp is skipped.
        while t + 1.0 <= now() {
            t += 1.0;
            let (pods, split) = sim.pod_samples();
            lock(&metrics).step_routes(t, 1.0, &pods, &split);
        }
    }
}

impl SimHandle {
    /// A kubeconfig for kubectl and kube-rs: context `warroom-sim`, the scenario's
    /// namespace, a token the simulator ignores.
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        // JSON strings are valid YAML scalars, which keeps this free of a YAML writer.
        let q = |s: &str| Value::String(s.to_string()).to_string();
        let text = format!(
            "apiVersion: v1\n\
             kind: Config\n\
             clusters:\n\
             - name: warroom-sim\n  cluster:\n    server: {server}\n\
             users:\n\
             - name: warroom-sim\n  user:\n    token: sim\n\
             contexts:\n\
             - name: warroom-sim\n  context:\n    cluster: warroom-sim\n    user: warroom-sim\n    namespace: {ns}\n\
             current-context: warroom-sim\n\
             preferences: {{}}\n",
            server = q(&self.kube_url),
            ns = q(&self.namespace),
        );
        std::fs::write(path, text)
    }

    /// The stored Deployment, for tests.
    pub fn deployment(&self, name: &str) -> Option<Value> {
        self.sim.read(|c| {
            c.store
                .get(Resource::Deployment, &self.namespace, name)
                .map(|d| (**d).clone())
        })
    }

    /// The stored HTTPRoute, for tests.
    pub fn httproute(&self, name: &str) -> Option<Value> {
        self.sim.read(|c| {
            c.store
                .get(Resource::HttpRoute, &self.namespace, name)
                .map(|r| (**r).clone())
        })
    }

    /// The stored VirtualService, for tests.
    pub fn virtualservice(&self, name: &str) -> Option<Value> {
        self.sim.read(|c| {
            c.store
                .get(Resource::VirtualService, &self.namespace, name)
                .map(|r| (**r).clone())
        })
    }

    /// The stored Service, for tests.
    pub fn service(&self, name: &str) -> Option<Value> {
        self.sim.read(|c| {
            c.store
                .get(Resource::Service, &self.namespace, name)
                .map(|r| (**r).clone())
        })
    }

    pub fn replicasets(&self) -> Vec<Value> {
        self.all(Resource::ReplicaSet)
    }

    pub fn pods(&self) -> Vec<Value> {
        self.all(Resource::Pod)
    }

    /// The core/v1 Events, as `kubectl get events` would list them.
    pub fn events(&self) -> Vec<Value> {
        self.all(Resource::Event)
    }

    fn all(&self, res: Resource) -> Vec<Value> {
        self.sim
            .read(|c| c.store.list(res, None).map(|o| (**o).clone()).collect())
    }

    /// Every request the API received, in order: (method, path and query).
    pub fn requests(&self) -> Vec<(String, String)> {
        lock(&self.sim.requests)
            .iter()
            .map(|(m, p, _)| (m.clone(), p.clone()))
            .collect()
    }

    /// Every answer the API gave, but to watches, in order: (method, path and query,
    /// status code). A request appears here once it has been carried out.
    pub fn answers(&self) -> Vec<(String, String, u16)> {
        lock(&self.sim.answers).clone()
    }

    /// Every request with the authorizer's decision: (method, path and query, allowed).
    /// Without RBAC every request is allowed.
    pub fn decisions(&self) -> Vec<(String, String, bool)> {
        lock(&self.sim.requests).clone()
    }

    /// Stops the listeners, the controllers and the open watches, and waits for them.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }

    #[cfg(test)]
    pub(crate) fn sim(&self) -> &Arc<Sim> {
        &self.sim
    }
}
