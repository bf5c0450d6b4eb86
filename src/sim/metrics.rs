//! The simulated application's metrics: what its pods would expose on `/metrics`, and
//! the scrape history the simulated Prometheus answers queries from.
//!
//! The numbers come from the scenario: traffic is spread over ready pods the way a
//! Service balances it, and each pod behaves as its version says.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::runbook::scenario::{Behavior, Scenario, TrafficModel};

use super::promql::format_value;
use super::tsdb::{Labels, METRIC_NAME, Tsdb};

/// A pod as the simulated cluster sees it at one step.
#[derive(Debug, Clone, PartialEq)]
pub struct PodSample {
    pub name: String,
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

pub struct MetricsSim {
    namespace: String,
    /// The container name, which is also the scrape job.
    app: String,
    profiles: BTreeMap<String, Profile>,
    /// For a pod whose version the scenario doesn't describe: behave like stable.
    fallback: Profile,
    traffic: TrafficModel,
    noise: f64,
    rng: SplitMix64,
    pods: BTreeMap<String, PodState>,
    cache_hits: f64,
    cache_misses: f64,
    active_users: f64,
    tsdb: Tsdb,
    /// Requests the gateway could not route, by (track, status code).
    unrouted: BTreeMap<(String, &'static str), f64>,
}

impl MetricsSim {
    pub fn new(scenario: &Scenario) -> Self {
        let profiles: BTreeMap<String, Profile> = scenario
            .versions
            .iter()
            .map(|(tag, b)| (tag.clone(), Profile::from(b)))
            .collect();
        let fallback = scenario
            .behavior(&scenario.stable.image)
            .map(Profile::from)
            .or_else(|| profiles.values().next().copied())
            .unwrap_or(DEFAULT_PROFILE);
        MetricsSim {
            namespace: scenario.namespace.clone(),
            app: scenario.app.clone(),
            profiles,
            fallback,
            traffic: scenario.traffic.clone(),
            noise: scenario.noise.max(0.0),
            rng: SplitMix64(0x5eed_0fc0_ffee),
            pods: BTreeMap::new(),
            cache_hits: 0.0,
            cache_misses: 0.0,
            active_users: scenario.traffic.active_users.round(),
            tsdb: Tsdb::with_target(&scenario.app, "sim"),
            unrouted: BTreeMap::new(),
        }
    }

    /// A random factor in `1 ± noise` (exactly 1 without noise).
    fn jitter(&mut self) -> f64 {
        1.0 + self.noise * (2.0 * self.rng.next_f64() - 1.0)
    }

    /// Advance the counters by `dt` seconds ending at unix time `t` (seconds) with
    /// these pods, then record every series into the TSDB at `t`, as a scrape would.
    /// Call it at a scrape-like interval: the TSDB keeps an hour of every step.
    pub fn step(&mut self, t: f64, dt: f64, pods: &[PodSample]) {
        self.step_split(t, dt, pods, None);
    }

    /// `step` with traffic split between tracks by weight (an HTTPRoute's backendRef
    /// weights, keyed by track): a track gets weight / total of the requests, spread over
    /// its ready pods; a track with weight but no ready pod answers its share with 503,
    /// as a gateway does. None = every ready pod gets an equal share.
    pub fn step_split(
        &mut self,
        t: f64,
        dt: f64,
        pods: &[PodSample],
        split: Option<&BTreeMap<String, f64>>,
    ) {
        let dt = dt.max(0.0);
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
        let mut order: Vec<&PodSample> = pods.iter().collect();
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
                // A Service sends each ready endpoint an equal share.
                let share = if split.is_some() {
                    share_of(p)
                } else {
                    1.0 / ready as f64
                };
                let n = quantize(self.traffic.rps * share * dt * f_traffic);
                let error_rate = (profile.error_rate * f_errors).clamp(0.0, 1.0);
                let errors = quantize(n * error_rate);
                state.errors += errors;
                state.ok += n - errors;
                let (p50, p95) = (profile.p50_s * f_latency, profile.p95_s * f_latency);
                state.latency.observe(n, p50, p95);
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
        let hits = quantize(served * CACHE_HIT_RATIO);
        self.cache_hits += hits;
        self.cache_misses += served - hits;
        self.active_users = (self.traffic.active_users * self.jitter()).round();

        let t_ms = (t * 1000.0).round() as i64;
        let samples =
            self.families()
                .into_iter()
                .flat_map(|f| f.samples)
                .map(|(name, mut labels, v)| {
                    labels.insert(METRIC_NAME.into(), name);
                    (labels, v)
                });
        self.tsdb.append_scrape(t_ms, samples);
    }

    /// The Prometheus text exposition format (0.0.4) of the current values: families
    /// sorted by name, each with `# HELP` and `# TYPE`, then its series in pod order.
    pub fn exposition(&self) -> String {
        let mut out = String::new();
        for f in self.families() {
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

    fn families(&self) -> Vec<Family> {
        let ns = self.namespace.as_str();
        let container = self.app.as_str();
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

        for (pod, s) in &self.pods {
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
            requests.push(with("code", "200"), s.ok);
            requests.push(with("code", "500"), s.errors);
            latency.push_histogram(&app, &s.latency);
            page_load.push_histogram(&app, &s.page_load);
            orders.push(app.clone(), s.orders);
            payments.push(with("result", "failure"), s.payments_failed);
            payments.push(with("result", "success"), s.payments_ok);

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

        for ((track, code), n) in &self.unrouted {
            requests.push(
                labels(&[("namespace", ns), ("track", track), ("code", code)]),
                *n,
            );
        }

        let mut users = Family::new("erp_active_users", "gauge", "Users with an active session.");
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

        let mut all = vec![
            requests, latency, cpu, limits, memory, restarts, orders, payments, page_load, users,
            cache, disk_size, disk_avail,
        ];
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
}
