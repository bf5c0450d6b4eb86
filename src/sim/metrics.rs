//! The simulated services' metrics: what their pods would expose on `/metrics`, and
//! the scrape history the simulated Prometheus answers queries from, each service
//! scraped as its own job (`job="<app>"`).
//!
//! The numbers come from the scenario: each service's traffic is spread over its ready
//! pods the way a Service balances it (or by its route's weights), a background
//! worker's jobs over its ready pods, and each pod behaves as its service's version
//! says.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use crate::runbook::scenario::{Behavior, Scenario, ServiceRef, TrafficModel};

use super::promql::format_value;
use super::tsdb::{Labels, METRIC_NAME, Tsdb, target_labels};

/// A pod as the simulated cluster sees it at one step.
#[derive(Debug, Clone, PartialEq)]
pub struct PodSample {
    pub name: String,
    /// The pod's `app` label: which service it belongs to.
    pub app: String,
    /// The pod's `track` label: `stable` or `canary`.
    pub track: String,
    /// The image tag the pod runs (a full image reference is also accepted).
    pub version: String,
    pub ready: bool,
    /// Container restarts so far; an increase means a fresh process with zeroed counters.
    pub restarts: u32,
}

const CPU_LIMIT_CORES: f64 = 1.0;
const MEMORY_LIMIT_BYTES: f64 = 2_147_483_648.0;
const DISK_SIZE_BYTES: f64 = 107_374_182_400.0;
/// 38% free: the disk is 62% used.
const DISK_AVAIL_BYTES: f64 = 40_802_189_312.0;
const CACHE_HIT_RATIO: f64 = 0.94;
/// A page load makes several API calls and renders; ~3x one call's latency.
const PAGE_LOAD_FACTOR: f64 = 3.0;
/// A pod that isn't ready gets no requests but isn't idle either: it is starting,
/// warming caches or failing its probe.
const UNREADY_CPU_SHARE: f64 = 0.25;
const UNREADY_MEMORY_SHARE: f64 = 0.6;

/// Every counter increment is rounded to a multiple of this (2^-20). Sums of such
/// numbers are exact in f64 while a counter stays below 2^33, so with constant inputs
/// the difference between two counter samples depends only on how many steps lie
/// between them, and every rate and ratio holds still to the last bit.
const QUANTUM: f64 = 1.0 / 1_048_576.0;

fn quantize(x: f64) -> f64 {
    (x / QUANTUM).round() * QUANTUM
}

/// Upper bounds of the latency histograms' finite buckets; the last bucket is `+Inf`.
const LE: [f64; 9] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0, 10.0];
const LE_LABELS: [&str; 10] = [
    "0.05", "0.1", "0.25", "0.5", "1", "2.5", "3", "5", "10", "+Inf",
];

/// What a version's pods do under traffic, with latencies in seconds.
#[derive(Debug, Clone, Copy)]
struct Profile {
    error_rate: f64,
    p50_s: f64,
    p95_s: f64,
    cpu: f64,
    memory: f64,
    payment_success: f64,
}

impl From<&Behavior> for Profile {
    fn from(b: &Behavior) -> Self {
        Profile {
            error_rate: b.error_rate,
            p50_s: b.latency_p50_ms / 1000.0,
            p95_s: b.latency_p95_ms / 1000.0,
            cpu: b.cpu,
            memory: b.memory,
            payment_success: b.payment_success,
        }
    }
}

/// Used only when a scenario defines no versions at all.
const DEFAULT_PROFILE: Profile = Profile {
    error_rate: 0.0,
    p50_s: 0.1,
    p95_s: 0.3,
    cpu: 0.2,
    memory: 0.3,
    payment_success: 1.0,
};

/// A classic histogram's running state; `buckets` are cumulative, the last is `+Inf`
/// (and so the count).
#[derive(Debug, Clone, Default)]
struct Histogram {
    buckets: [f64; 10],
    sum: f64,
}

impl Histogram {
    /// Record `n` observations (already quantized) of latencies with this median and
    /// 95th percentile.
    fn observe(&mut self, n: f64, p50: f64, p95: f64) {
        let fractions = bucket_fractions(p50, p95);
        for (bucket, fraction) in self.buckets.iter_mut().zip(fractions) {
            *bucket += quantize(n * fraction);
        }
        self.buckets[9] += n;
        self.sum += quantize(n * lognormal_mean(p50, p95));
    }
}

/// One container's counters. They live as long as its process: a restart zeroes them.
#[derive(Debug, Clone)]
struct PodState {
    track: String,
    version: String,
    restarts: u32,
    ok: f64,
    errors: f64,
    latency: Histogram,
    page_load: Histogram,
    cpu_seconds: f64,
    memory_bytes: f64,
    orders: f64,
    payments_ok: f64,
    payments_failed: f64,
}

impl PodState {
    fn new(track: &str, version: &str, restarts: u32) -> Self {
        PodState {
            track: track.to_string(),
            version: version.to_string(),
            restarts,
            ok: 0.0,
            errors: 0.0,
            latency: Histogram::default(),
            page_load: Histogram::default(),
            cpu_seconds: 0.0,
            memory_bytes: 0.0,
            orders: 0.0,
            payments_ok: 0.0,
            payments_failed: 0.0,
        }
    }
}

/// SplitMix64: a tiny, well-mixed deterministic generator, so runs repeat exactly.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // The top 53 bits, uniform in [0, 1).
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One metric family as exposed: its samples are `(series name, labels, value)`.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Vec<(String, Labels, f64)>,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Self {
        Family {
            name,
            kind,
            help,
            samples: Vec::new(),
        }
    }

    fn push(&mut self, labels: Labels, v: f64) {
        self.samples.push((self.name.to_string(), labels, v));
    }

    fn push_histogram(&mut self, labels: &Labels, h: &Histogram) {
        for (le, count) in LE_LABELS.iter().zip(h.buckets) {
            let mut l = labels.clone();
            l.insert("le".into(), le.to_string());
            self.samples
                .push((format!("{}_bucket", self.name), l, count));
        }
        self.samples
            .push((format!("{}_sum", self.name), labels.clone(), h.sum));
        self.samples
            .push((format!("{}_count", self.name), labels.clone(), h.buckets[9]));
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One service's part of the simulation: its pods' counters and what drives them.
struct ServiceSim {
    /// The app: its pods' `app` label, their container's name, and its scrape's `job`.
    app: String,
    /// The labels its scrape adds (`job`, `instance`).
    target: Labels,
    profiles: BTreeMap<String, Profile>,
    /// For a pod whose version the scenario doesn't describe: behave like stable.
    fallback: Profile,
    traffic: TrafficModel,
    /// A background worker (`rps: 0`): it works through jobs instead of requests.
    worker: bool,
    noise: f64,
    /// Each service draws its own noise, so adding a service leaves the others' runs as
    /// they were.
    rng: SplitMix64,
    pods: BTreeMap<String, PodState>,
    /// Requests the gateway could not route, by (track, status code).
    unrouted: BTreeMap<(String, &'static str), f64>,
}

/// The first service's seed; the others' follow from it and their position.
const SEED: u64 = 0x5eed_0fc0_ffee;

impl ServiceSim {
    fn new(svc: ServiceRef<'_>, index: usize, noise: f64) -> Self {
        let profiles: BTreeMap<String, Profile> = svc
            .versions
            .iter()
            .map(|(tag, b)| (tag.clone(), Profile::from(b)))
            .collect();
        let fallback = svc
            .behavior(&svc.stable.image)
            .map(Profile::from)
            .or_else(|| profiles.values().next().copied())
            .unwrap_or(DEFAULT_PROFILE);
        ServiceSim {
            app: svc.app.to_string(),
            target: target_labels(svc.app, "sim"),
            profiles,
            fallback,
            traffic: svc.traffic.clone(),
            worker: svc.is_worker(),
            noise,
            rng: SplitMix64(SEED ^ (index as u64).wrapping_mul(0xa076_1d64_78bd_642f)),
            pods: BTreeMap::new(),
            unrouted: BTreeMap::new(),
        }
    }

    /// A random factor in `1 ± noise` (exactly 1 without noise).
    fn jitter(&mut self) -> f64 {
        1.0 + self.noise * (2.0 * self.rng.next_f64() - 1.0)
    }

    /// Advance this service's counters by `dt` seconds with these pods (its own), traffic
    /// split by `split` if its route has one. Returns the requests served.
    fn step(&mut self, dt: f64, pods: &[&PodSample], split: Option<&BTreeMap<String, f64>>) -> f64 {
        // A worker takes no requests, so no route splits them.
        let split = split.filter(|_| !self.worker);
        let total_weight: f64 = split.map_or(0.0, |w| w.values().sum());
        let ready_in = |track: &str| pods.iter().filter(|p| p.ready && p.track == track).count();
        let share_of = |p: &PodSample| -> f64 {
            match split {
                None => 0.0,
                Some(_) if total_weight <= 0.0 => 0.0,
                Some(w) => {
                    w.get(&p.track).copied().unwrap_or(0.0)
                        / total_weight
                        / ready_in(&p.track).max(1) as f64
                }
            }
        };
        if let Some(w) = split {
            for (track, weight) in w {
                // All weights zero: the route has no backend and the gateway answers 500s.
                let (share, code) = if total_weight <= 0.0 {
                    (1.0 / w.len().max(1) as f64, "500")
                } else {
                    (weight / total_weight, "503")
                };
                if share > 0.0 && (total_weight <= 0.0 || ready_in(track) == 0) {
                    let n = quantize(self.traffic.rps * share * dt * self.jitter());
                    *self.unrouted.entry((track.clone(), code)).or_insert(0.0) += n;
                }
            }
        }
        // A pod that is gone stops being exported, like a vanished scrape target.
        self.pods
            .retain(|name, _| pods.iter().any(|p| p.name == *name));
        let ready = pods.iter().filter(|p| p.ready).count();
        // Draw noise in pod-name order so the caller's ordering can't change the run.
        let mut order: Vec<&PodSample> = pods.to_vec();
        order.sort_by(|a, b| a.name.cmp(&b.name));
        let mut served = 0.0;
        for p in order {
            let version = tag_of(&p.version);
            let profile = self.profiles.get(version).copied().unwrap_or(self.fallback);
            let (f_traffic, f_errors, f_latency, f_cpu, f_memory) = (
                self.jitter(),
                self.jitter(),
                self.jitter(),
                self.jitter(),
                self.jitter(),
            );
            let state = self
                .pods
                .entry(p.name.clone())
                .or_insert_with(|| PodState::new(&p.track, version, p.restarts));
            if state.restarts != p.restarts || state.version != version {
                *state = PodState::new(&p.track, version, p.restarts);
            }
            state.track.clone_from(&p.track);

            let (cpu_share, memory_share) = if p.ready {
                // A Service sends each ready endpoint an equal share; a worker's ready
                // pods take equal shares of its queue.
                let share = if split.is_some() {
                    share_of(p)
                } else {
                    1.0 / ready as f64
                };
                let per_sec = if self.worker {
                    self.traffic.jobs_per_sec()
                } else {
                    self.traffic.rps
                };
                // Requests, or a worker's jobs: each fails as often as the version errs
                // and takes its latencies.
                let n = quantize(per_sec * share * dt * f_traffic);
                let error_rate = (profile.error_rate * f_errors).clamp(0.0, 1.0);
                let errors = quantize(n * error_rate);
                state.errors += errors;
                state.ok += n - errors;
                let (p50, p95) = (profile.p50_s * f_latency, profile.p95_s * f_latency);
                state.latency.observe(n, p50, p95);
                if !self.worker {
                    state
                        .page_load
                        .observe(n, p50 * PAGE_LOAD_FACTOR, p95 * PAGE_LOAD_FACTOR);
                    // A failed request loses its order; each order is one payment attempt.
                    let orders = quantize(
                        self.traffic.orders_per_min / 60.0
                            * share
                            * dt
                            * f_traffic
                            * (1.0 - error_rate),
                    );
                    let paid = quantize(orders * profile.payment_success.clamp(0.0, 1.0));
                    state.orders += orders;
                    state.payments_ok += paid;
                    state.payments_failed += orders - paid;
                    served += n;
                }
                (1.0, 1.0)
            } else {
                (UNREADY_CPU_SHARE, UNREADY_MEMORY_SHARE)
            };
            // The limit throttles CPU and OOM-kills above memory: neither exceeds it.
            let cpu = (profile.cpu * cpu_share * f_cpu).clamp(0.0, 1.0);
            state.cpu_seconds += quantize(cpu * CPU_LIMIT_CORES * dt);
            state.memory_bytes = ((profile.memory * memory_share * f_memory).clamp(0.0, 1.0)
                * MEMORY_LIMIT_BYTES)
                .round();
        }
        served
    }
}

/// The metrics of every service of a scenario, and the one TSDB they are scraped into
/// (each service as its own scrape job, `job="<app>"`).
pub struct MetricsSim {
    namespace: String,
    /// One per service, the scenario's first service first: it also carries the
    /// business metrics (orders, payments, page loads, users, cache) and the node's disk.
    services: Vec<ServiceSim>,
    /// Index into `services` by app.
    by_app: HashMap<String, usize>,
    cache_hits: f64,
    cache_misses: f64,
    active_users: f64,
    tsdb: Tsdb,
}

impl MetricsSim {
    pub fn new(scenario: &Scenario) -> Self {
        let noise = scenario.noise.max(0.0);
        let services: Vec<ServiceSim> = scenario
            .all_services()
            .enumerate()
            .map(|(i, svc)| ServiceSim::new(svc, i, noise))
            .collect();
        let by_app = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.app.clone(), i))
            .collect();
        MetricsSim {
            namespace: scenario.namespace.clone(),
            services,
            by_app,
            cache_hits: 0.0,
            cache_misses: 0.0,
            active_users: scenario.traffic.active_users.round(),
            tsdb: Tsdb::new(),
        }
    }

    /// Advance the counters by `dt` seconds ending at unix time `t` (seconds) with
    /// these pods, then record every series into the TSDB at `t`, as a scrape would.
    /// Call it at a scrape-like interval: the TSDB keeps an hour of every step.
    pub fn step(&mut self, t: f64, dt: f64, pods: &[PodSample]) {
        self.step_routes(t, dt, pods, &BTreeMap::new());
    }

    /// `step` with the first service's traffic split between tracks by weight (an
    /// HTTPRoute's backendRef weights, keyed by track): a track gets weight / total of
    /// the requests, spread over its ready pods; a track with weight but no ready pod
    /// answers its share with 503, as a gateway does. None = every ready pod gets an
    /// equal share.
    pub fn step_split(
        &mut self,
        t: f64,
        dt: f64,
        pods: &[PodSample],
        split: Option<&BTreeMap<String, f64>>,
    ) {
        let mut splits = BTreeMap::new();
        if let Some(w) = split {
            splits.insert(self.services[0].app.clone(), w.clone());
        }
        self.step_routes(t, dt, pods, &splits);
    }

    /// `step` with each service's traffic split by its route's weights (keyed by app,
    /// then by track, as [`MetricsSim::step_split`] takes them); a service missing from
    /// `splits` spreads its requests over its ready pods. A pod belongs to the service
    /// whose app its `app` label names (the first service when it names none of them).
    pub fn step_routes(
        &mut self,
        t: f64,
        dt: f64,
        pods: &[PodSample],
        splits: &BTreeMap<String, BTreeMap<String, f64>>,
    ) {
        let dt = dt.max(0.0);
        let mut by_service: Vec<Vec<&PodSample>> = vec![Vec::new(); self.services.len()];
        for p in pods {
            let i = self.by_app.get(p.app.as_str()).copied().unwrap_or(0);
            by_service[i].push(p);
        }
        let mut served_by_first = 0.0;
        for (i, (svc, pods)) in self.services.iter_mut().zip(&by_service).enumerate() {
            let served = svc.step(dt, pods, splits.get(&svc.app));
            if i == 0 {
                served_by_first = served;
            }
        }
        let hits = quantize(served_by_first * CACHE_HIT_RATIO);
        self.cache_hits += hits;
        self.cache_misses += served_by_first - hits;
        let first = &mut self.services[0];
        self.active_users = (first.traffic.active_users * first.jitter()).round();

        let t_ms = (t * 1000.0).round() as i64;
        let scrapes: Vec<(Labels, Vec<(Labels, f64)>)> = (0..self.services.len())
            .map(|i| {
                let samples = self
                    .families(i)
                    .into_iter()
                    .flat_map(|f| f.samples)
                    .map(|(name, mut labels, v)| {
                        labels.insert(METRIC_NAME.into(), name);
                        (labels, v)
                    })
                    .collect();
                (self.services[i].target.clone(), samples)
            })
            .collect();
        self.tsdb.append_scrapes(t_ms, scrapes);
    }

    /// The apps of the scenario's services, the first one first.
    pub fn apps(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(|s| s.app.as_str())
    }

    /// The first service's `/metrics`: see [`MetricsSim::exposition_of`].
    pub fn exposition(&self) -> String {
        self.exposition_at(0)
    }

    /// The Prometheus text exposition format (0.0.4) of one service's current values,
    /// as its pods expose them (a scrape adds `job` and `instance`): families sorted by
    /// name, each with `# HELP` and `# TYPE`, then its series in pod order. None for an
    /// app the scenario does not have.
    pub fn exposition_of(&self, app: &str) -> Option<String> {
        self.by_app.get(app).map(|&i| self.exposition_at(i))
    }

    fn exposition_at(&self, i: usize) -> String {
        let mut out = String::new();
        for f in self.families(i) {
            let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(f.help));
            let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
            for (name, labels, v) in &f.samples {
                out.push_str(name);
                if !labels.is_empty() {
                    out.push('{');
                    for (i, (k, lv)) in labels.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let _ = write!(out, "{k}=\"{}\"", escape_label_value(lv));
                    }
                    out.push('}');
                }
                let _ = writeln!(out, " {}", format_value(*v));
            }
        }
        out
    }

    pub fn tsdb(&self) -> &Tsdb {
        &self.tsdb
    }

    /// The families service `i` exposes. A service that takes requests exposes HTTP
    /// requests and latencies; a worker its jobs and their durations; every one its
    /// containers' CPU, memory, limits and restarts. The first also exposes the
    /// business metrics and the node's disk.
    fn families(&self, i: usize) -> Vec<Family> {
        let svc = &self.services[i];
        let first = i == 0;
        let ns = self.namespace.as_str();
        let container = svc.app.as_str();
        let mut requests = Family::new(
            "http_requests_total",
            "counter",
            "HTTP requests answered, by status code.",
        );
        let mut latency = Family::new(
            "http_request_duration_seconds",
            "histogram",
            "Time to answer an HTTP request.",
        );
        let mut jobs = Family::new(
            "worker_jobs_total",
            "counter",
            "Jobs taken from the queue, by outcome.",
        );
        let mut job_duration = Family::new(
            "worker_job_duration_seconds",
            "histogram",
            "Time to carry out a job.",
        );
        let mut cpu = Family::new(
            "container_cpu_usage_seconds_total",
            "counter",
            "CPU time the container has used, in core-seconds.",
        );
        let mut limits = Family::new(
            "kube_pod_container_resource_limits",
            "gauge",
            "The container's resource limits.",
        );
        let mut memory = Family::new(
            "container_memory_working_set_bytes",
            "gauge",
            "The container's working set, in bytes.",
        );
        let mut restarts = Family::new(
            "kube_pod_container_status_restarts_total",
            "counter",
            "How often the container has restarted.",
        );
        let mut orders = Family::new("erp_orders_total", "counter", "Orders placed.");
        let mut payments = Family::new(
            "erp_payments_total",
            "counter",
            "Payment attempts, by result.",
        );
        let mut page_load = Family::new(
            "erp_page_load_seconds",
            "histogram",
            "Time for a page to load in the browser.",
        );

        for (pod, s) in &svc.pods {
            let app = labels(&[
                ("namespace", ns),
                ("track", &s.track),
                ("version", &s.version),
                ("pod", pod),
            ]);
            let with = |k: &str, v: &str| {
                let mut l = app.clone();
                l.insert(k.into(), v.into());
                l
            };
            if svc.worker {
                jobs.push(with("outcome", "failed"), s.errors);
                jobs.push(with("outcome", "ok"), s.ok);
                job_duration.push_histogram(&app, &s.latency);
            } else {
                requests.push(with("code", "200"), s.ok);
                requests.push(with("code", "500"), s.errors);
                latency.push_histogram(&app, &s.latency);
                if first {
                    page_load.push_histogram(&app, &s.page_load);
                    orders.push(app.clone(), s.orders);
                    payments.push(with("result", "failure"), s.payments_failed);
                    payments.push(with("result", "success"), s.payments_ok);
                }
            }

            let box_ = labels(&[("namespace", ns), ("pod", pod), ("container", container)]);
            let limit = |resource: &str, unit: &str| {
                let mut l = box_.clone();
                l.insert("resource".into(), resource.into());
                l.insert("unit".into(), unit.into());
                l
            };
            cpu.push(box_.clone(), s.cpu_seconds);
            limits.push(limit("cpu", "core"), CPU_LIMIT_CORES);
            limits.push(limit("memory", "byte"), MEMORY_LIMIT_BYTES);
            memory.push(box_.clone(), s.memory_bytes);
            restarts.push(box_, f64::from(s.restarts));
        }

        for ((track, code), n) in &svc.unrouted {
            requests.push(
                labels(&[("namespace", ns), ("track", track), ("code", code)]),
                *n,
            );
        }

        let mut all = vec![cpu, limits, memory, restarts];
        if svc.worker {
            all.extend([jobs, job_duration]);
        } else {
            all.extend([requests, latency]);
        }
        if first {
            let mut users =
                Family::new("erp_active_users", "gauge", "Users with an active session.");
            users.push(labels(&[("namespace", ns)]), self.active_users);
            let mut cache = Family::new(
                "erp_cache_requests_total",
                "counter",
                "Cache lookups, by result.",
            );
            cache.push(
                labels(&[("namespace", ns), ("result", "hit")]),
                self.cache_hits,
            );
            cache.push(
                labels(&[("namespace", ns), ("result", "miss")]),
                self.cache_misses,
            );
            let root = labels(&[("mountpoint", "/")]);
            let mut disk_size = Family::new(
                "node_filesystem_size_bytes",
                "gauge",
                "Filesystem size in bytes.",
            );
            disk_size.push(root.clone(), DISK_SIZE_BYTES);
            let mut disk_avail = Family::new(
                "node_filesystem_avail_bytes",
                "gauge",
                "Filesystem space available to non-root users in bytes.",
            );
            disk_avail.push(root, DISK_AVAIL_BYTES);
            all.extend([
                orders, payments, page_load, users, cache, disk_size, disk_avail,
            ]);
        }
        all.sort_by_key(|f| f.name);
        all
    }
}

/// Pods report an image tag; accept a whole image reference too.
fn tag_of(version: &str) -> &str {
    if version.contains(':') {
        Scenario::tag(version)
    } else {
        version
    }
}

fn escape_help(s: &str) -> String {
    s.replace('\\', r"\\").replace('\n', r"\n")
}

fn escape_label_value(s: &str) -> String {
    s.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

/// z of the 95th percentile of the standard normal distribution.
const Z95: f64 = 1.644_853_626_951_472_2;

/// The log-normal distribution with this median and 95th percentile: (mu = ln p50, sigma).
fn lognormal_sigma(p50: f64, p95: f64) -> f64 {
    // A degenerate or inverted pair becomes a very narrow distribution around p50.
    ((p95 / p50).ln() / Z95).max(1e-3)
}

fn lognormal_mean(p50: f64, p95: f64) -> f64 {
    let p50 = p50.max(1e-6);
    let sigma = lognormal_sigma(p50, p95);
    p50 * (sigma * sigma / 2.0).exp()
}

/// The cumulative fraction of observations at each bound of `LE`, for latencies with
/// median `p50` and 95th percentile `p95` (seconds).
///
/// A log-normal fitted to the two percentiles gives the shape, but PromQL's
/// `histogram_quantile` interpolates linearly inside a bucket, and across these wide
/// buckets that alone misses p95 by up to ~16%. So the bounds of the buckets holding
/// p95 and p50 are set so that linear interpolation lands exactly on them (the console's
/// "p95 > 3 s" rollback must trip at the scenario's 3 s, not near it); other bounds
/// follow the log-normal, kept monotonic.
fn bucket_fractions(p50: f64, p95: f64) -> [f64; 9] {
    let p50 = p50.max(1e-6);
    let sigma = lognormal_sigma(p50, p95);
    let lognormal = |x: f64| normal_cdf((x / p50).ln() / sigma);

    // Index 0 is the implicit lower bound 0 of the first bucket.
    let mut bounds = [0.0; 10];
    bounds[1..].copy_from_slice(&LE);
    let mut g = [0.0; 10];
    let mut pinned = [false; 10];
    pinned[0] = true;

    // The higher percentile first: its bucket is the one to get right if both can't be.
    for (q, x) in [(0.95, p95), (0.5, p50)] {
        // Beyond the last finite bound the quantile reads as that bound regardless.
        let Some(i) = (1..10).find(|&i| x <= bounds[i]) else {
            continue;
        };
        let w = (x - bounds[i - 1]) / (bounds[i] - bounds[i - 1]);
        // Interpolation reads q at x when (1 - w) * g[i-1] + w * g[i] == q.
        match (pinned[i - 1], pinned[i]) {
            (true, true) => {}
            (true, false) => {
                g[i] = ((q - (1.0 - w) * g[i - 1]) / w).min(1.0);
                pinned[i] = true;
            }
            (false, hi_pinned) => {
                if !hi_pinned {
                    g[i] = if w >= 1.0 {
                        q
                    } else {
                        lognormal(bounds[i]).max(q)
                    };
                    pinned[i] = true;
                }
                if w < 1.0 {
                    g[i - 1] = ((q - w * g[i]) / (1.0 - w)).max(0.0);
                    pinned[i - 1] = true;
                }
            }
        }
    }
    for i in 1..10 {
        if !pinned[i] {
            let below = (0..i).rev().find(|&j| pinned[j]).map_or(0.0, |j| g[j]);
            let above = (i + 1..10).find(|&j| pinned[j]).map_or(1.0, |j| g[j]);
            g[i] = lognormal(bounds[i]).clamp(below, above.max(below));
        }
    }
    for i in 1..10 {
        g[i] = g[i].max(g[i - 1]).min(1.0);
    }
    let mut out = [0.0; 9];
    out.copy_from_slice(&g[1..]);
    out
}

fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// The complementary error function (Numerical Recipes' `erfcc`, fractional error
/// below 1.2e-7 everywhere), plenty for bucket shares.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::promql::{self, Value};

    const T_START: f64 = 1_700_000_000.0;

    fn scenario(noise: f64) -> Scenario {
        let yaml = format!(
            r#"
name: test
namespace: erp-production
app: erp-backend
stable: {{name: erp-backend, image: "registry.local/erp-backend:v0.9.3", replicas: 9, track: stable}}
canary: {{name: erp-backend-canary, image: "registry.local/erp-backend:v1.0.0", replicas: 1, track: canary}}
versions:
  v0.9.3: {{error_rate: 0.002, latency_p50_ms: 120, latency_p95_ms: 380, cpu: 0.42, memory: 0.61}}
  v1.0.0: {{error_rate: 0.06, latency_p50_ms: 180, latency_p95_ms: 900, cpu: 0.55, memory: 0.66, payment_success: 0.97}}
traffic: {{rps: 400, orders_per_min: 180, active_users: 1250}}
noise: {noise}
"#
        );
        crate::runbook::parse_scenario(&yaml).unwrap()
    }

    fn pod(name: &str, track: &str, version: &str, ready: bool) -> PodSample {
        PodSample {
            name: name.into(),
            app: "erp-backend".into(),
            track: track.into(),
            version: version.into(),
            ready,
            restarts: 0,
        }
    }

    /// Nine stable pods and one canary: the canary's share of traffic is 10%.
    fn ten_percent_canary() -> Vec<PodSample> {
        let mut pods: Vec<_> = (0..9)
            .map(|i| pod(&format!("erp-backend-s{i}"), "stable", "v0.9.3", true))
            .collect();
        pods.push(pod("erp-backend-canary-c0", "canary", "v1.0.0", true));
        pods
    }

    /// Step every `dt` seconds for `secs` seconds; returns the last step's time.
    fn run(sim: &mut MetricsSim, from: f64, secs: f64, dt: f64, pods: &[PodSample]) -> f64 {
        let steps = (secs / dt).round() as i64;
        let mut t = from;
        for i in 1..=steps {
            t = from + i as f64 * dt;
            sim.step(t, dt, pods);
        }
        t
    }

    fn ms(t: f64) -> i64 {
        (t * 1000.0).round() as i64
    }

    fn query(sim: &MetricsSim, q: &str, t: f64) -> f64 {
        match promql::instant(sim.tsdb(), q, ms(t)).unwrap_or_else(|e| panic!("{q}: {e}")) {
            Value::Vector(v) if v.len() == 1 => v[0].v,
            Value::Scalar { v, .. } => v,
            other => panic!("{q}: {other:?}"),
        }
    }

    fn within(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs()
    }

    const CANARY_ERRORS: &str = r#"sum(rate(http_requests_total{track="canary",code=~"5.."}[1m])) / sum(rate(http_requests_total{track="canary"}[1m]))"#;
    const ALL_ERRORS: &str = r#"sum(rate(http_requests_total{job="erp-backend",code=~"5.."}[1m])) / sum(rate(http_requests_total{job="erp-backend"}[1m]))"#;
    const CANARY_P95: &str = r#"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{track="canary"}[1m])))"#;
    const STABLE_P95: &str = r#"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{track="stable"}[1m])))"#;
    const STABLE_P50: &str = r#"histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{track="stable"}[1m])))"#;
    const CPU: &str = r#"sum(rate(container_cpu_usage_seconds_total{namespace="erp-production",container!=""}[1m])) / sum(kube_pod_container_resource_limits{namespace="erp-production",resource="cpu"})"#;

    #[test]
    fn ten_percent_canary_reads_as_the_scenario_says() {
        let mut sim = MetricsSim::new(&scenario(0.0));
        let t = run(&mut sim, T_START, 120.0, 1.0, &ten_percent_canary());
        let q = |s: &str| query(&sim, s, t);

        assert!(within(q(CANARY_ERRORS), 0.06, 1e-4), "{}", q(CANARY_ERRORS));
        // The canary moves the overall rate by only its share.
        let mixed = 0.9 * 0.002 + 0.1 * 0.06;
        assert!(within(q(ALL_ERRORS), mixed, 1e-4), "{}", q(ALL_ERRORS));
        let share = r#"sum(rate(http_requests_total{track="canary"}[1m])) / sum(rate(http_requests_total[1m]))"#;
        assert!(within(q(share), 0.1, 1e-6));
        assert!(within(q("sum(rate(http_requests_total[1m]))"), 400.0, 1e-6));

        // The buckets are shaped so the estimate lands on the configured percentiles,
        // far inside the 15% a plain log-normal would need.
        assert!(within(q(CANARY_P95), 0.9, 0.01), "{}", q(CANARY_P95));
        assert!(within(q(STABLE_P95), 0.38, 0.01), "{}", q(STABLE_P95));
        assert!(within(q(STABLE_P50), 0.12, 0.01), "{}", q(STABLE_P50));
        let page_p95 = r#"histogram_quantile(0.95, sum by (le) (rate(erp_page_load_seconds_bucket{track="stable"}[1m])))"#;
        assert!(within(q(page_p95), 3.0 * 0.38, 0.01), "{}", q(page_p95));
        let mean = r#"sum(rate(http_request_duration_seconds_sum{track="stable"}[1m])) / sum(rate(http_request_duration_seconds_count{track="stable"}[1m]))"#;
        assert!(q(mean) > 0.12 && q(mean) < 0.38, "{}", q(mean));

        let cpu = (9.0 * 0.42 + 0.55) / 10.0;
        assert!(within(q(CPU), cpu, 1e-6), "{}", q(CPU));
        let mem = r#"container_memory_working_set_bytes{pod="erp-backend-canary-c0"} / on (pod) kube_pod_container_resource_limits{resource="memory"}"#;
        assert!(within(q(mem), 0.66, 1e-6));

        let orders = "sum(rate(erp_orders_total[1m])) * 60";
        assert!(
            within(q(orders), 180.0 * mixed_success(), 1e-4),
            "{}",
            q(orders)
        );
        let pay = r#"sum(rate(erp_payments_total{track="canary",result="success"}[1m])) / sum(rate(erp_payments_total{track="canary"}[1m]))"#;
        assert!(within(q(pay), 0.97, 1e-4));
        let hits = r#"sum(rate(erp_cache_requests_total{result="hit"}[1m])) / sum(rate(erp_cache_requests_total[1m]))"#;
        assert!(within(q(hits), 0.94, 1e-6));
        assert_eq!(q("erp_active_users"), 1250.0);
        let disk = r#"1 - node_filesystem_avail_bytes{mountpoint="/"} / node_filesystem_size_bytes{mountpoint="/"}"#;
        assert!(within(q(disk), 0.62, 1e-9));
    }

    /// Orders lost to errors: 90% of traffic fails 0.2%, 10% fails 6%.
    fn mixed_success() -> f64 {
        0.9 * (1.0 - 0.002) + 0.1 * (1.0 - 0.06)
    }

    #[test]
    fn without_noise_the_numbers_hold_still_to_the_bit() {
        let mut sim = MetricsSim::new(&scenario(0.0));
        let pods = ten_percent_canary();
        let t = run(&mut sim, T_START, 90.0, 0.25, &pods);
        let queries = [CANARY_ERRORS, ALL_ERRORS, CANARY_P95, STABLE_P95, CPU];
        let before: Vec<u64> = queries
            .iter()
            .map(|q| query(&sim, q, t).to_bits())
            .collect();
        let t2 = run(&mut sim, t, 1.0, 0.25, &pods);
        assert_eq!(t2, t + 1.0);
        let after: Vec<u64> = queries
            .iter()
            .map(|q| query(&sim, q, t2).to_bits())
            .collect();
        assert_eq!(before, after);
    }

    #[test]
    fn noise_varies_the_rates_within_bounds() {
        let mut sim = MetricsSim::new(&scenario(0.03));
        let pods = ten_percent_canary();
        let mut t = run(&mut sim, T_START, 90.0, 1.0, &pods);
        let mut seen = Vec::new();
        for _ in 0..5 {
            t = run(&mut sim, t, 5.0, 1.0, &pods);
            let v = query(&sim, CANARY_ERRORS, t);
            // Error fraction and traffic each vary by up to 3%.
            assert!(within(v, 0.06, 0.04), "{v}");
            let p95 = query(&sim, CANARY_P95, t);
            assert!(within(p95, 0.9, 0.05), "{p95}");
            seen.push(v.to_bits());
        }
        seen.dedup();
        assert!(seen.len() > 1, "noise should move the numbers");
    }

    #[test]
    fn traffic_follows_ready_pods_and_vanished_pods_go_stale() {
        let mut sim = MetricsSim::new(&scenario(0.0));
        let mut pods = ten_percent_canary();
        pods[9].ready = false;
        let t = run(&mut sim, T_START, 60.0, 1.0, &pods);
        let canary_rps = r#"sum(rate(http_requests_total{track="canary"}[30s]))"#;
        assert_eq!(query(&sim, canary_rps, t), 0.0);
        let per_stable = r#"sum(rate(http_requests_total{pod="erp-backend-s0"}[30s]))"#;
        assert!(within(query(&sim, per_stable, t), 400.0 / 9.0, 1e-6));
        // Unready, it still burns some CPU.
        let cpu = r#"rate(container_cpu_usage_seconds_total{pod="erp-backend-canary-c0"}[30s])"#;
        // (Increments are rounded to 2^-20 core-seconds.)
        assert!(within(query(&sim, cpu, t), 0.55 * UNREADY_CPU_SHARE, 1e-5));

        pods.pop();
        let t = run(&mut sim, t, 1.0, 1.0, &pods);
        let canary = r#"http_requests_total{track="canary"}"#;
        match promql::instant(sim.tsdb(), canary, ms(t)).unwrap() {
            Value::Vector(v) => assert!(v.is_empty(), "{v:?}"),
            other => panic!("{other:?}"),
        }
        assert!(!sim.exposition().contains("canary"));
        // Still there a second earlier.
        match promql::instant(sim.tsdb(), canary, ms(t - 1.0)).unwrap() {
            Value::Vector(v) => assert_eq!(v.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_restart_resets_counters_and_rate_sees_through_it() {
        let mut sim = MetricsSim::new(&scenario(0.0));
        let mut pods = ten_percent_canary();
        let t = run(&mut sim, T_START, 60.0, 1.0, &pods);
        let total = r#"sum(http_requests_total{pod="erp-backend-canary-c0"})"#;
        let before = query(&sim, total, t);
        pods[9].restarts = 1;
        let t = run(&mut sim, t, 20.0, 1.0, &pods);
        assert!(query(&sim, total, t) < before);
        let rps = r#"sum(rate(http_requests_total{pod="erp-backend-canary-c0"}[1m]))"#;
        assert!(
            within(query(&sim, rps, t), 40.0, 1e-6),
            "{}",
            query(&sim, rps, t)
        );
        assert!(sim.exposition().contains(
            "kube_pod_container_status_restarts_total{container=\"erp-backend\",namespace=\"erp-production\",pod=\"erp-backend-canary-c0\"} 1\n"
        ));
    }

    #[test]
    fn exposition_is_well_formed_text_format() {
        let mut sim = MetricsSim::new(&scenario(0.03));
        run(&mut sim, T_START, 5.0, 1.0, &ten_percent_canary());
        let text = sim.exposition();
        assert!(
            !text.contains("job="),
            "a scrape adds job, the target doesn't"
        );
        let mut typed: BTreeMap<String, String> = BTreeMap::new();
        let mut series = 0;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                assert!(typed.insert(name.into(), kind.into()).is_none(), "{line}");
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            // name{k="v",...} value
            let (head, value) = line.rsplit_once(' ').unwrap();
            assert!(value == "+Inf" || value.parse::<f64>().is_ok(), "{line}");
            let name = match head.split_once('{') {
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').expect(line);
                    for pair in body.split(',') {
                        let (k, v) = pair.split_once('=').expect(line);
                        assert!(
                            k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                            "{line}"
                        );
                        assert!(
                            v.len() >= 2 && v.starts_with('"') && v.ends_with('"'),
                            "{line}"
                        );
                    }
                    name
                }
                None => head,
            };
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            );
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s)
                        .filter(|f| typed.get(*f).is_some_and(|k| k == "histogram"))
                })
                .unwrap_or(name);
            assert!(typed.contains_key(family), "{line}: sample before its TYPE");
            series += 1;
        }
        // 10 pods × (2 codes + 12 latency + 12 page load + orders + 2 payments + cpu +
        // 2 limits + memory + restarts) + users + 2 cache + 2 disk.
        assert_eq!(series, 10 * 34 + 5);
        let names: Vec<&String> = typed.keys().collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(text.contains("\nhttp_request_duration_seconds_bucket{le=\"+Inf\",namespace=\"erp-production\",pod=\"erp-backend-canary-c0\",track=\"canary\",version=\"v1.0.0\"} "));
    }

    /// What `histogram_quantile` computes from cumulative fractions at `LE`, for checking
    /// the bucket shaping on its own.
    fn interpolate(fractions: &[f64; 9], q: f64) -> f64 {
        let mut lo = (0.0, 0.0);
        for (&le, &f) in LE.iter().zip(fractions) {
            if f >= q {
                return lo.0 + (le - lo.0) * (q - lo.1) / (f - lo.1);
            }
            lo = (le, f);
        }
        LE[8]
    }

    #[test]
    fn bucket_shapes_pin_p50_and_p95() {
        for (p50, p95, exact) in [
            (0.12, 0.38, true),
            (0.18, 0.9, true),
            (0.36, 1.14, true),
            (0.4, 3.2, true),
            (1.2, 2.9, true),
            (0.3, 0.3, true),
            // 95% below 40 ms cannot be drawn linearly from 0 inside a 50 ms bucket.
            (0.02, 0.04, false),
            (5.0, 20.0, false),
        ] {
            let f = bucket_fractions(p50, p95);
            assert!(f.windows(2).all(|w| w[0] <= w[1]), "{p50} {p95}: {f:?}");
            assert!(f.iter().all(|&x| (0.0..=1.0).contains(&x)), "{f:?}");
            if exact {
                assert!(
                    within(interpolate(&f, 0.95), p95, 1e-9),
                    "{p50} {p95}: {f:?}"
                );
            }
        }
        // Where the two percentiles sit in different buckets, both are exact.
        for (p50, p95) in [(0.12, 0.38), (0.18, 0.9), (0.4, 3.2)] {
            let f = bucket_fractions(p50, p95);
            assert!(
                within(interpolate(&f, 0.5), p50, 1e-9),
                "{p50} {p95}: {f:?}"
            );
        }
        // Past the last bound the estimate can only say 10 s.
        assert_eq!(interpolate(&bucket_fractions(5.0, 20.0), 0.95), 10.0);
    }

    #[test]
    fn erfc_is_accurate() {
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((normal_cdf(Z95) - 0.95).abs() < 1e-7);
        assert!((normal_cdf(-1.0) - 0.158_655_253_931_457_05).abs() < 1e-7);
    }

    /// The release scenario without noise, its new worker failing a quarter of its jobs.
    fn release(worker_canary_errors: f64) -> Scenario {
        let mut s =
            crate::runbook::parse_scenario(include_str!("../../assets/scenarios/erp-release.yaml"))
                .unwrap();
        s.noise = 0.0;
        let worker = s
            .services
            .iter_mut()
            .find(|x| x.app == "erp-worker")
            .unwrap();
        worker.versions.get_mut("v1.0.0").unwrap().error_rate = worker_canary_errors;
        s
    }

    /// One canary pod next to each service's stable ones (9+1, 5+1, 3+1).
    fn release_pods() -> Vec<PodSample> {
        let mut pods = Vec::new();
        for (app, stable, old, new) in [
            ("erp-backend", 9, "v0.9.3", "v1.0.0"),
            ("erp-frontend", 5, "v2.3.0", "v2.4.0"),
            ("erp-worker", 3, "v0.9.3", "v1.0.0"),
        ] {
            for i in 0..stable {
                let mut p = pod(&format!("{app}-s{i}"), "stable", old, true);
                p.app = app.into();
                pods.push(p);
            }
            let mut p = pod(&format!("{app}-canary-c0"), "canary", new, true);
            p.app = app.into();
            pods.push(p);
        }
        pods
    }

    fn series_count(sim: &MetricsSim, q: &str, t: f64) -> usize {
        match promql::instant(sim.tsdb(), q, ms(t)).unwrap() {
            Value::Vector(v) => v.len(),
            other => panic!("{q}: {other:?}"),
        }
    }

    #[test]
    fn each_service_reads_as_its_own_job_and_version() {
        let mut sim = MetricsSim::new(&release(0.25));
        let t = run(&mut sim, T_START, 120.0, 1.0, &release_pods());
        let q = |s: &str| query(&sim, s, t);
        let errors = |job: &str, track: &str| {
            q(&format!(
                r#"sum(rate(http_requests_total{{job="{job}",track="{track}",code=~"5.."}}[1m])) / sum(rate(http_requests_total{{job="{job}",track="{track}"}}[1m]))"#
            ))
        };
        // The front end's new build errs at 8%; the backend's, with the same kind of
        // tag, at its own 0.05%.
        assert!(
            within(errors("erp-frontend", "canary"), 0.08, 1e-4),
            "{}",
            errors("erp-frontend", "canary")
        );
        assert!(within(errors("erp-frontend", "stable"), 0.001, 1e-3));
        assert!(within(errors("erp-backend", "canary"), 0.0005, 1e-3));
        let frontend = r#"sum(rate(http_requests_total{job="erp-frontend",code=~"5.."}[1m])) / sum(rate(http_requests_total{job="erp-frontend"}[1m]))"#;
        assert!(
            within(q(frontend), (5.0 * 0.001 + 0.08) / 6.0, 1e-4),
            "{}",
            q(frontend)
        );
        // Each service's own traffic, over its own pods.
        let rps = |job: &str| {
            q(&format!(
                r#"sum(rate(http_requests_total{{job="{job}"}}[1m]))"#
            ))
        };
        assert!(within(rps("erp-backend"), 400.0, 1e-6));
        assert!(within(rps("erp-frontend"), 250.0, 1e-6));
        let p95 = |job: &str, track: &str| {
            q(&format!(
                r#"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{job="{job}",track="{track}"}}[1m])))"#
            ))
        };
        assert!(within(p95("erp-frontend", "canary"), 2.4, 0.01));
        assert!(within(p95("erp-frontend", "stable"), 0.45, 0.01));
        assert!(within(p95("erp-backend", "canary"), 0.36, 0.01));

        // The worker takes no requests: it counts jobs, failed as often as its version errs.
        assert_eq!(
            series_count(&sim, r#"http_requests_total{job="erp-worker"}"#, t),
            0
        );
        let failed = |track: &str| {
            q(&format!(
                r#"sum(rate(worker_jobs_total{{job="erp-worker",track="{track}",outcome="failed"}}[1m])) / sum(rate(worker_jobs_total{{job="erp-worker",track="{track}"}}[1m]))"#
            ))
        };
        assert!(within(failed("canary"), 0.25, 1e-4), "{}", failed("canary"));
        assert!(
            within(failed("stable"), 0.002, 1e-3),
            "{}",
            failed("stable")
        );
        let jobs = r#"sum(rate(worker_jobs_total{job="erp-worker"}[1m]))"#;
        assert!(within(q(jobs), 20.0, 1e-6), "{}", q(jobs));
        let job_p95 = r#"histogram_quantile(0.95, sum by (le) (rate(worker_job_duration_seconds_bucket{job="erp-worker",track="canary"}[1m])))"#;
        assert!(within(q(job_p95), 1.4, 0.01), "{}", q(job_p95));

        // Containers of every service, under its own job and container name.
        for (job, pods) in [("erp-backend", 10), ("erp-frontend", 6), ("erp-worker", 4)] {
            let cpu =
                format!(r#"container_cpu_usage_seconds_total{{job="{job}",container="{job}"}}"#);
            assert_eq!(series_count(&sim, &cpu, t), pods, "{job}");
            let restarts = format!(r#"kube_pod_container_status_restarts_total{{job="{job}"}}"#);
            assert_eq!(series_count(&sim, &restarts, t), pods, "{job}");
        }
        // The business metrics stay with the first service.
        assert_eq!(series_count(&sim, "erp_orders_total", t), 10);
        assert_eq!(
            series_count(&sim, r#"erp_orders_total{job="erp-backend"}"#, t),
            10
        );
        assert_eq!(q("erp_active_users"), 1250.0);

        // A range query reads one service alone too.
        match promql::range(
            sim.tsdb(),
            r#"sum(rate(http_requests_total{job="erp-frontend",track="canary",code="500"}[1m]))"#,
            ms(t - 30.0),
            ms(t),
            5000,
        )
        .unwrap()
        {
            Value::Matrix(m) => {
                assert_eq!(m.len(), 1);
                assert_eq!(m[0].points.len(), 7);
                assert!(
                    m[0].points
                        .iter()
                        .all(|p| within(p.1, 250.0 / 6.0 * 0.08, 1e-4))
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_service_has_its_own_exposition() {
        let mut sim = MetricsSim::new(&release(0.25));
        run(&mut sim, T_START, 5.0, 1.0, &release_pods());
        assert_eq!(
            sim.apps().collect::<Vec<_>>(),
            ["erp-backend", "erp-frontend", "erp-worker"]
        );
        let first = sim.exposition();
        assert_eq!(sim.exposition_of("erp-backend").as_deref(), Some(&*first));
        assert!(first.contains("erp_orders_total{"));
        assert!(!first.contains("erp-frontend"));

        let frontend = sim.exposition_of("erp-frontend").unwrap();
        assert!(frontend.contains("http_requests_total{code=\"500\",namespace=\"erp-production\",pod=\"erp-frontend-canary-c0\",track=\"canary\",version=\"v2.4.0\"} "));
        assert!(
            !frontend.contains("erp_orders_total"),
            "business metrics are the first's"
        );
        assert!(
            !frontend.contains("job="),
            "a scrape adds job, the target doesn't"
        );

        let worker = sim.exposition_of("erp-worker").unwrap();
        assert!(!worker.contains("http_requests_total"));
        assert!(worker.contains("# TYPE worker_jobs_total counter\n"));
        assert!(worker.contains("# TYPE worker_job_duration_seconds histogram\n"));
        assert!(worker.contains("worker_jobs_total{namespace=\"erp-production\",outcome=\"failed\",pod=\"erp-worker-canary-c0\",track=\"canary\",version=\"v1.0.0\"} "));
        assert!(worker.contains("container_memory_working_set_bytes{container=\"erp-worker\","));
        assert_eq!(sim.exposition_of("erp-nope"), None);
    }

    #[test]
    fn a_pod_going_away_in_one_service_leaves_the_others_alone() {
        let mut sim = MetricsSim::new(&release(0.25));
        let mut pods = release_pods();
        let t = run(&mut sim, T_START, 60.0, 1.0, &pods);
        pods.retain(|p| p.name != "erp-frontend-canary-c0");
        let t = run(&mut sim, t, 1.0, 1.0, &pods);
        assert_eq!(
            series_count(
                &sim,
                r#"http_requests_total{job="erp-frontend",track="canary"}"#,
                t
            ),
            0
        );
        // Every other service's series are still there, scraped in the same round.
        assert_eq!(
            series_count(
                &sim,
                r#"http_requests_total{job="erp-backend",track="canary"}"#,
                t
            ),
            2
        );
        assert_eq!(
            series_count(&sim, r#"worker_jobs_total{track="canary"}"#, t),
            2
        );
        // Traffic now follows the front end's remaining ready pods.
        let t = run(&mut sim, t, 60.0, 1.0, &pods);
        let per_pod = r#"sum(rate(http_requests_total{pod="erp-frontend-s0"}[30s]))"#;
        assert!(within(query(&sim, per_pod, t), 250.0 / 5.0, 1e-6));
    }
}
