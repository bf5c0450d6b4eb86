//! The gauges against a real Prometheus (Debian's `prometheus` package) scraping the
//! simulator: the console shows what Prometheus says, the simulator's own query API gives
//! the same numbers, and a broken query, an empty result and a stopped Prometheus each
//! show as such. Plus TLS with a client certificate, and credentials that never leak.
//!
//! The real-server tests skip, saying why, only when the binary is missing; `.ci/run`
//! installs it.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use tokio::sync::{mpsc, watch};
use warroom::event::Event;
use warroom::layout::{self, Pane};
use warroom::prom::{self, Answer, Gauge, Overrides, Prom, Settings};
use warroom::runbook::{Metric, Runbook, parse_runbook};
use warroom::state::State;
use warroom::state::cluster::Snapshot;
use warroom::state::metrics::{Level, Reading, window_points};
use warroom::ui::{self, View};
use warroom::update::update;

// ---------------------------------------------------------------------------------------
// A real Prometheus as a child process

fn prometheus_bin() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("prometheus"))
        .chain([PathBuf::from("/usr/bin/prometheus")])
        .find(|p| p.is_file())
}

macro_rules! need_prometheus {
    () => {
        match prometheus_bin() {
            Some(p) => p,
            None => {
                eprintln!(
                    "SKIPPED: the `prometheus` binary is not installed (apt-get install prometheus; .ci/run does)"
                );
                return;
            }
        }
    };
}

/// Debian's Prometheus on 127.0.0.1 with its own temp storage; killed when dropped, even
/// when an assertion fails.
struct RealProm {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    web_config: Option<PathBuf>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl RealProm {
    fn start(bin: &Path, targets: &[String], web_config: Option<&str>) -> RealProm {
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             scrape_configs:\n  - job_name: erp-backend\n    \
             static_configs: [{{targets: [{}]}}]\n",
            targets.join(",")
        );
        Self::with_config(bin, &config, web_config)
    }

    /// A Prometheus with this `prometheus.yml`.
    fn with_config(bin: &Path, config: &str, web_config: Option<&str>) -> RealProm {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("prom.yml"), config).unwrap();
        let web_config = web_config.map(|w| {
            let p = dir.path().join("web.yml");
            std::fs::write(&p, w).unwrap();
            p
        });
        let mut p = RealProm {
            bin: bin.to_path_buf(),
            dir,
            port: free_port(),
            child: None,
            web_config,
        };
        p.spawn();
        p
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("prometheus.log"))
            .unwrap();
        let mut cmd = Command::new(&self.bin);
        cmd.arg(format!(
            "--config.file={}",
            self.dir.path().join("prom.yml").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
        .arg(format!(
            "--storage.tsdb.path={}",
            self.dir.path().join("data").display()
        ));
        if let Some(w) = &self.web_config {
            cmd.arg(format!("--web.config.file={}", w.display()));
        }
        self.child = Some(
            cmd.stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start prometheus"),
        );
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// Until `/-/ready` answers 200 (plain HTTP only).
    fn wait_ready(&self) {
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if let Some((200, _)) = http_get(self.port, "/-/ready") {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("Prometheus did not become ready:\n{}", self.log());
    }
}

impl Drop for RealProm {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A bare HTTP/1.0 GET, so "what Prometheus says" does not go through the client under
/// test.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let (head, body) = resp.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn secs(t: DateTime<Utc>) -> String {
    format!("{:.3}", t.timestamp_millis() as f64 / 1000.0)
}

/// An instant query answered by the server on `port`, at `t`: each series' labels and
/// value (a scalar has no labels).
fn raw_query(port: u16, q: &str, t: DateTime<Utc>) -> Vec<(BTreeMap<String, String>, f64)> {
    let (code, body) = http_get(
        port,
        &format!("/api/v1/query?query={}&time={}", url_encode(q), secs(t)),
    )
    .unwrap_or_else(|| panic!("no answer from port {port} for {q}"));
    assert_eq!(code, 200, "{q}: {body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let num = |v: &serde_json::Value| match v.as_str().unwrap() {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().unwrap(),
    };
    let result = &json["data"]["result"];
    match json["data"]["resultType"].as_str().unwrap() {
        "scalar" => vec![(BTreeMap::new(), num(&result[1]))],
        _ => result
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let labels = s["metric"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect();
                (labels, num(&s["value"][1]))
            })
            .collect(),
    }
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

// ---------------------------------------------------------------------------------------
// The simulator, the runbook and the console's state

const SCENARIO: &str = r#"
name: prometheus comparison
namespace: erp-production
app: erp-backend
stable: {name: erp-backend, image: "registry.local/erp-backend:v0.9.3", replicas: 9, track: stable}
canary: {name: erp-backend-canary, image: "registry.local/erp-backend:v1.0.0", replicas: 1, track: canary}
versions:
  v0.9.3: {error_rate: 0.002, latency_p50_ms: 120, latency_p95_ms: 380, cpu: 0.42, memory: 0.61}
  v1.0.0: {error_rate: 0.06, latency_p50_ms: 180, latency_p95_ms: 900, cpu: 0.55, memory: 0.66, payment_success: 0.97}
traffic: {rps: 400, orders_per_min: 180, active_users: 1250}
noise: 0
"#;

async fn simulator() -> warroom::sim::SimHandle {
    let sc = warroom::runbook::parse_scenario(SCENARIO).unwrap();
    warroom::sim::start(sc, 0, 0).await.unwrap()
}

fn demo_runbook() -> Runbook {
    warroom::runbook::load(Path::new("assets/runbooks/demo.yaml")).unwrap()
}

fn metric_like(rb: &Runbook, id: &str, title: &str, query: &str) -> Metric {
    let mut m = rb.metrics[0].clone();
    m.id = id.into();
    m.title = title.into();
    m.query = query.into();
    m
}

fn gauges(rb: &Runbook) -> Vec<Gauge> {
    rb.metrics
        .iter()
        .map(|m| Gauge {
            metric: m.clone(),
            points: window_points(rb, m),
        })
        .collect()
}

fn state_for(rb: Runbook) -> State {
    let mut s = State::new(Arc::new(rb), "tester", Utc::now());
    s.ui.focus = Pane::Gauges;
    update(&mut s, Event::Cluster(Snapshot::default()));
    s
}

/// Feed the poller's events (and the clock) into the state until `done` holds.
async fn pump(
    s: &mut State,
    rx: &mut mpsc::UnboundedReceiver<Event>,
    within: Duration,
    what: &str,
    done: impl Fn(&State) -> bool,
) {
    let until = Instant::now() + within;
    loop {
        update(s, Event::Tick(Utc::now()));
        if done(s) {
            return;
        }
        assert!(
            Instant::now() < until,
            "timed out waiting for {what}; readings: {:#?}",
            s.metrics.iter().map(|m| &m.reading).collect::<Vec<_>>()
        );
        while let Ok(ev) = rx.try_recv() {
            update(s, ev);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn render(s: &State, w: u16, h: u16) -> Buffer {
    let view = View::new(layout::builtin("compact"));
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw_into(s, &view, f.buffer_mut())).unwrap();
    t.backend().buffer().clone()
}

fn text(b: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..b.area.height {
        let mut skip = 0;
        for x in 0..b.area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = b[(x, y)].symbol();
            out.push_str(sym);
            skip = unicode_width::UnicodeWidthStr::width(sym).saturating_sub(1);
        }
        out.push('\n');
    }
    out
}

fn line_with<'a>(screen: &'a str, needle: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in\n{screen}"))
}

fn index(s: &State, id: &str) -> usize {
    s.rb.metrics.iter().position(|m| m.id == id).unwrap()
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

// ---------------------------------------------------------------------------------------
// The console against a real Prometheus

/// The demo runbook's gauges read through the console equal Prometheus' own answers to
/// the same queries at the same instant, bit for bit; and the simulator's query API
/// agrees with Prometheus within the stated tolerance.
///
/// Tolerance: Prometheus scrapes at its own offset within each second, while the
/// simulator steps its counters on whole seconds, so a scrape can land just before a step
/// and see the previous second's value. A 1-minute `rate()` then spans one step fewer on
/// one side: up to 1/60 of its value (1.7%), so plain rates (orders/min, CPU) must agree
/// within 2%. Ratios of counters stepped together (error rates, payment success, cache
/// hits, availability) and `histogram_quantile` over buckets stepped together lose or gain
/// the same step top and bottom, so they agree to 1e-6; gauges (memory, disk, users)
/// exactly. The scenario has no noise, so these bounds are about timing alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_gauges_equal_a_real_prometheus_scraping_the_simulator() {
    let bin = need_prometheus!();
    let sim = simulator().await;
    let sim_port = port_of(&sim.prom_url);
    let prom = RealProm::start(&bin, &[format!("127.0.0.1:{sim_port}")], None);
    prom.wait_ready();
    let started = Utc::now();

    // rate(...[1m]) over a Prometheus that started a minute ago has full windows.
    let mut rb = demo_runbook();
    let demo_refresh = rb.prometheus.as_ref().unwrap().refresh;
    tokio::time::sleep(Duration::from_secs(68)).await;

    rb.prometheus.as_mut().unwrap().refresh = warroom::runbook::Dur::from_secs(1);
    let mut s = state_for(rb);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let settings = Settings::new(&prom.url(), Duration::from_secs(1));
    let poller = prom::spawn_poller(
        Prom::new(&settings).unwrap(),
        gauges(&s.rb),
        Duration::from_secs(1),
        warroom::beat::start().0.rounds(Duration::from_secs(1)),
        tx,
    );
    pump(
        &mut s,
        &mut rx,
        Duration::from_secs(20),
        "every gauge",
        |s| {
            s.metrics.iter().all(|m| {
                matches!(
                    m.reading,
                    Some(Reading::Value { .. } | Reading::Split(_) | Reading::NoData)
                )
            })
        },
    )
    .await;
    poller.abort();

    let mut checked = 0;
    for (i, def) in s.rb.metrics.iter().enumerate() {
        let m = &s.metrics[i];
        match m.reading.as_ref().unwrap() {
            Reading::Value { value, at } => {
                let theirs = raw_query(prom.port, &def.query, *at);
                assert_eq!(theirs.len(), 1, "{}: {theirs:?}", def.id);
                assert!(
                    same(*value, theirs[0].1),
                    "{}: console {value}, Prometheus {}",
                    def.id,
                    theirs[0].1
                );
                eprintln!(
                    "{:<20} console {:>14.6}  Prometheus {:>14.6}  at {}",
                    def.id, value, theirs[0].1, at
                );
                checked += 1;
            }
            Reading::Split(parts) => {
                let theirs = raw_query(prom.port, &def.query, parts[0].at);
                let by = def.split_by.as_ref().unwrap();
                assert_eq!(
                    parts.len(),
                    theirs.len(),
                    "{}: {parts:?} {theirs:?}",
                    def.id
                );
                for p in parts {
                    let t = theirs.iter().find(|(l, _)| l[by] == p.key).unwrap();
                    assert!(
                        same(p.value, t.1),
                        "{} {}: {} vs {}",
                        def.id,
                        p.key,
                        p.value,
                        t.1
                    );
                    eprintln!(
                        "{:<20} console {:>14.6}  Prometheus {:>14.6}  {by}={}",
                        def.id, p.value, t.1, p.key
                    );
                }
                assert_eq!(
                    parts.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
                    ["stable", "canary"],
                    "the runbook's order"
                );
                checked += 1;
            }
            other => panic!("{}: {other:?}", def.id),
        }
    }
    assert_eq!(checked, s.rb.metrics.len());

    // And on screen, as the room reads them.
    let screen = text(&render(&s, 120, 40));
    for (i, def) in s.rb.metrics.iter().enumerate() {
        if let Some(Reading::Value { value, .. }) = &s.metrics[i].reading {
            let line = line_with(&screen, &def.title);
            let shown = warroom::format::format_value(def, Some(*value));
            assert!(line.contains(&shown), "{line} should show {shown}");
            let level = s.metrics[i].level(def, s.now, s.stale_after);
            assert!(line.contains(level.word()), "{line}");
        }
    }
    let canary = index(&s, "canary-error-rate");
    let line = line_with(&screen, &s.rb.metrics[canary].title);
    assert!(
        line.contains("stable") && line.contains("│ canary") && line.contains("CRITICAL"),
        "{line}"
    );

    // The simulator's own query API against Prometheus, at one instant.
    let t = Utc::now() - chrono::Duration::milliseconds(1500);
    let tolerance = |id: &str| match id {
        "orders" | "cpu" => 0.02,
        _ => 1e-6,
    };
    let mut rows = Vec::new();
    for def in &s.rb.metrics {
        let ours = raw_query(sim_port, &def.query, t);
        let theirs = raw_query(prom.port, &def.query, t);
        assert_eq!(
            ours.len(),
            theirs.len(),
            "{}: {ours:?} vs {theirs:?}",
            def.id
        );
        for (labels, theirs_v) in &theirs {
            let ours_v = ours
                .iter()
                .find(|(l, _)| l.get("track") == labels.get("track"))
                .map(|(_, v)| *v)
                .unwrap();
            let tol = tolerance(&def.id);
            let rel = if theirs_v.abs() > 0.0 {
                (ours_v - theirs_v).abs() / theirs_v.abs()
            } else {
                (ours_v - theirs_v).abs()
            };
            rows.push(format!(
                "{:<20} {:<8} simulator {:>12.6}  Prometheus {:>12.6}  rel.diff {rel:.2e} (tolerance {tol:e})",
                def.id,
                labels.get("track").map(String::as_str).unwrap_or(""),
                ours_v,
                theirs_v
            ));
            assert!(
                rel <= tol,
                "{}: simulator {ours_v}, Prometheus {theirs_v}",
                def.id
            );
        }
    }
    // PromQL the runbook does not use but a runbook may: comparison, increase, count,
    // and a scalar; plus Prometheus' own word that it parsed every exposed sample.
    for (q, tol) in [
        ("count(http_requests_total > 1000)", 0.0),
        (
            r#"sum(increase(erp_orders_total{job="erp-backend"}[1m]))"#,
            0.02,
        ),
        (
            r#"sum(rate(http_requests_total{job="erp-backend",track="canary"}[1m])) / sum(rate(http_requests_total{job="erp-backend"}[1m])) > bool 0.05"#,
            0.0,
        ),
        ("scalar(sum(erp_active_users))", 0.0),
    ] {
        let (ours, theirs) = (raw_query(sim_port, q, t), raw_query(prom.port, q, t));
        assert_eq!((ours.len(), theirs.len()), (1, 1), "{q}");
        let (o, p) = (ours[0].1, theirs[0].1);
        assert!(
            (o - p).abs() <= tol * p.abs(),
            "{q}: simulator {o}, Prometheus {p}"
        );
        rows.push(format!("{q:<60} simulator {o:>12.6}  Prometheus {p:>12.6}"));
    }
    let scraped = raw_query(prom.port, "scrape_samples_scraped", t);
    let (code, body) = http_get(sim_port, "/metrics").unwrap();
    assert_eq!(code, 200);
    let samples = body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count();
    assert_eq!(
        scraped[0].1, samples as f64,
        "Prometheus parsed every exposed sample"
    );
    eprintln!("{}", rows.join("\n"));
    eprintln!(
        "compared {}s after Prometheus started (demo refresh {demo_refresh})",
        (Utc::now() - started).num_seconds()
    );
    sim.shutdown().await;
}

/// A broken query, an empty result, too many series and NaN each say so on the gauge;
/// when Prometheus stops the gauges fail in plain words, then go stale (dimmed, with their
/// age, and counted in the header), and they recover when it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_empty_stopped_and_back() {
    let bin = need_prometheus!();
    let sim = simulator().await;
    let mut prom = RealProm::start(
        &bin,
        &[format!("127.0.0.1:{}", port_of(&sim.prom_url))],
        None,
    );
    prom.wait_ready();

    let mut rb = demo_runbook();
    rb.prometheus.as_mut().unwrap().refresh = warroom::runbook::Dur::from_secs(1);
    let good = rb
        .metrics
        .iter()
        .find(|m| m.id == "error-rate")
        .unwrap()
        .clone();
    let split = rb
        .metrics
        .iter()
        .find(|m| m.id == "canary-error-rate")
        .unwrap()
        .clone();
    let mut top = metric_like(
        &rb,
        "top-pods",
        "Errors, worst pods",
        r#"sum by (pod) (rate(http_requests_total{job="erp-backend",code="500"}[1m]))"#,
    );
    top.split_by = Some("pod".into());
    top.top = Some(2);
    rb.metrics = vec![
        good,
        metric_like(
            &rb,
            "broken",
            "Broken query",
            "sum(rate(http_requests_total[1m]",
        ),
        metric_like(
            &rb,
            "empty",
            "Empty result",
            r#"sum(http_requests_total{job="no-such-job"})"#,
        ),
        metric_like(&rb, "several", "Several series", "http_requests_total"),
        metric_like(&rb, "nan", "Not a number", "0/0"),
        split,
        top,
    ];
    let mut s = state_for(rb);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let poller = prom::spawn_poller(
        Prom::new(&Settings::new(&prom.url(), Duration::from_secs(1))).unwrap(),
        gauges(&s.rb),
        Duration::from_secs(1),
        warroom::beat::start().0.rounds(Duration::from_secs(1)),
        tx,
    );
    let i_good = index(&s, "error-rate");
    pump(
        &mut s,
        &mut rx,
        Duration::from_secs(30),
        "first answers",
        |s| {
            matches!(s.metrics[0].reading, Some(Reading::Value { .. }))
                && s.metrics.iter().all(|m| m.reading.is_some())
                // Two scrapes of errors at least, so the worst pod's rate is a rate: on a
                // loaded machine the first answers can come before it.
                && matches!(&s.metrics[6].reading, Some(Reading::Split(p)) if p.len() == 2 && p[0].value > 0.0)
        },
    )
    .await;

    let reading = |s: &State, id: &str| s.metrics[index(s, id)].reading.clone().unwrap();
    match reading(&s, "broken") {
        Reading::Error(e) => assert!(
            e.starts_with("the query is not valid PromQL: ") && e.contains("parse error"),
            "{e}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(reading(&s, "empty"), Reading::NoData);
    match reading(&s, "several") {
        Reading::Error(e) => assert!(e.contains("series") && e.contains("split_by"), "{e}"),
        other => panic!("{other:?}"),
    }
    match reading(&s, "nan") {
        Reading::Value { value, .. } => assert!(value.is_nan()),
        other => panic!("{other:?}"),
    }
    match reading(&s, "top-pods") {
        // The canary pod fails 6%, every stable one 0.2%: it is first.
        Reading::Split(p) => assert!(p[0].key.starts_with("erp-backend-canary"), "{p:?}"),
        other => panic!("{other:?}"),
    }

    s.ui.gauge_cursor = index(&s, "broken");
    let screen = text(&render(&s, 120, 40));
    assert!(line_with(&screen, "Broken query").contains("ERROR"));
    assert!(
        screen.contains("query failed: the query is not valid PromQL"),
        "{screen}"
    );
    assert!(
        screen.contains("sum(rate(http_requests_total[1m]"),
        "{screen}"
    );
    let empty = line_with(&screen, "Empty result");
    assert!(
        empty.contains("no data") && empty.contains("NO DATA"),
        "{empty}"
    );
    assert!(line_with(&screen, "Not a number").contains("NaN"));
    // Two queries fail and never had a value: the data is not all live, and the header
    // says so rather than LIVE.
    assert!(screen.contains("DATA 2 gauges failing"), "{screen}");
    assert_eq!(
        s.metrics[i_good].level(&s.rb.metrics[i_good], s.now, s.stale_after),
        Level::Ok
    );

    // Prometheus stops.
    prom.stop();
    let stopped = Instant::now();
    pump(&mut s, &mut rx, Duration::from_secs(15), "the failure", |s| {
        matches!(&s.metrics[0].reading, Some(Reading::Error(e)) if e.starts_with("cannot reach Prometheus"))
    })
    .await;
    let fail_after = stopped.elapsed();
    pump(&mut s, &mut rx, Duration::from_secs(15), "staleness", |s| {
        s.metrics[0].is_stale(s.now, s.stale_after)
    })
    .await;
    let b = render(&s, 120, 40);
    let screen = text(&b);
    let line = line_with(&screen, "Error rate ");
    assert!(line.contains("ERR ") && line.contains('%'), "{line}");
    assert!(screen.contains("STALE: "), "{screen}");
    assert_eq!(
        s.metrics[i_good].level(&s.rb.metrics[i_good], s.now, s.stale_after),
        Level::Unknown,
        "an old value has no level"
    );
    // The stale value is drawn dimmed.
    let y = (0..b.area.height)
        .find(|y| {
            (0..b.area.width)
                .map(|x| b[(x, *y)].symbol())
                .collect::<String>()
                .contains("Error rate ")
        })
        .unwrap();
    let x = (0..b.area.width)
        .find(|x| b[(*x, y)].symbol() == "%")
        .unwrap();
    assert!(
        b[(x, y)].modifier.contains(ratatui::style::Modifier::DIM),
        "{:?}",
        b[(x, y)]
    );

    // And comes back on the same port with its data.
    prom.spawn();
    prom.wait_ready();
    let back = Instant::now();
    pump(&mut s, &mut rx, Duration::from_secs(30), "recovery", |s| {
        matches!(s.metrics[0].reading, Some(Reading::Value { .. }))
            && !s.metrics[0].is_stale(s.now, s.stale_after)
    })
    .await;
    let screen = text(&render(&s, 120, 40));
    // Fresh again: nothing stale; only the two queries that always fail are counted.
    assert!(!screen.contains("STALE"), "{screen}");
    assert!(screen.contains("DATA 2 gauges failing"), "{screen}");
    assert!(line_with(&screen, "Error rate ").contains("OK"));
    eprintln!(
        "failure shown {:.1}s after the stop; recovered {:.1}s after the restart",
        fail_after.as_secs_f64(),
        back.elapsed().as_secs_f64()
    );
    poller.abort();
    sim.shutdown().await;
}

/// TLS: Prometheus asks for a client certificate signed by the test CA. With the CA and
/// the certificate the query answers; without the CA verification fails (TLS is checked
/// by default); without a client certificate Prometheus refuses; `insecure` skips only
/// the server's check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_custom_ca_and_a_client_certificate() {
    let bin = need_prometheus!();
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let web = format!(
        "tls_server_config:\n  cert_file: {0}/server.pem\n  key_file: {0}/server.key\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {0}/ca.pem\n",
        fx.display()
    );
    let prom = RealProm::start(&bin, &[], Some(&web));
    let url = format!("https://127.0.0.1:{}", prom.port);
    let settings = |ca: bool, cert: bool, insecure: bool| Settings {
        ca_file: ca.then(|| fx.join("ca.pem")),
        client_cert: cert.then(|| (fx.join("client.pem"), fx.join("client.key"))),
        insecure,
        ..Settings::new(&url, Duration::from_secs(2))
    };
    let good = Prom::new(&settings(true, true, false)).unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    let answer = loop {
        match good.instant("1 + 1").await {
            Ok(a) => break a,
            Err(e) if Instant::now() > until => panic!("{e}\n{}", prom.log()),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    assert!(
        matches!(answer, Answer::Scalar { value, .. } if value == 2.0),
        "{answer:?}"
    );

    let e = Prom::new(&settings(false, true, false))
        .unwrap()
        .instant("1 + 1")
        .await
        .unwrap_err();
    assert!(e.contains("certificate") || e.contains("issuer"), "{e}");
    eprintln!("without the CA: {e}");
    let e = Prom::new(&settings(true, false, false))
        .unwrap()
        .instant("1 + 1")
        .await
        .unwrap_err();
    eprintln!("without a client certificate: {e}");
    let insecure = Prom::new(&settings(false, true, true)).unwrap();
    assert!(insecure.instant("1 + 1").await.is_ok());
}

// ---------------------------------------------------------------------------------------
// Credentials, against a small server that checks them

const TOKEN: &str = "tok-7f3a-SECRET-do-not-print";
const PASSWORD: &str = "pw-91c2-SECRET-do-not-print";

/// Every log line of this test process, to prove no secret reaches one.
struct Capture;
static LINES: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        LINES
            .get_or_init(Default::default)
            .lock()
            .unwrap()
            .push(format!("{} {} {}", r.level(), r.target(), r.args()));
    }
    fn flush(&self) {}
}

/// Answers the query API only to `Authorization: <expected>`, 401 otherwise; remembers
/// every request's headers.
async fn auth_server(expected: String) -> (String, Arc<Mutex<Vec<BTreeMap<String, String>>>>) {
    use http_body_util::Full;
    use hyper::{Request, Response};
    let seen: Arc<Mutex<Vec<BTreeMap<String, String>>>> = Default::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (expected, seen) = (expected.clone(), seen2.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let headers: BTreeMap<String, String> = req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                        .collect();
                    let ok = headers.get("authorization") == Some(&expected);
                    seen.lock().unwrap().push(headers);
                    let now = Utc::now().timestamp();
                    let (code, body) = if !ok {
                        (401, "Unauthorized\n".to_string())
                    } else if req.uri().path() == "/api/v1/query" {
                        (
                            200,
                            format!(
                                r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[{now},"0.42"]}}]}}}}"#
                            ),
                        )
                    } else {
                        (
                            200,
                            format!(
                                r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{}},"values":[[{now},"0.42"]]}}]}}}}"#
                            ),
                        )
                    };
                    async move {
                        let mut r = Response::new(Full::new(bytes::Bytes::from(body)));
                        *r.status_mut() = hyper::StatusCode::from_u16(code).unwrap();
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

/// Runs the real console (journal, update, screen) against `url` with this runbook
/// section until the first gauge has an answer; returns the journal and the screen.
async fn console_with(dir: &Path, section: &str, o: &Overrides) -> (String, String) {
    let base = std::fs::read_to_string("assets/runbooks/demo.yaml").unwrap();
    let src = base.replace("prometheus: {refresh: 2s}", section);
    assert_ne!(src, base);
    let path = dir.join("runbook.yaml");
    let rb = parse_runbook(&path, &src).unwrap_or_else(|e| panic!("{e}"));
    let settings = Settings::resolve(rb.prometheus.as_ref(), o)
        .unwrap()
        .unwrap();
    assert!(!format!("{settings:?}").contains("SECRET"));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let journal = dir.join(format!("journal-{}.jsonl", rand_suffix()));
    let mut app = warroom::app::App::open(
        rb,
        "runbook.yaml",
        &journal,
        "tester",
        layout::builtin("war-room"),
        warroom::format::Zone::Local,
        tx.clone(),
    )
    .unwrap();
    let gs = gauges(&app.state.rb)[..1].to_vec();
    let poller = prom::spawn_poller(
        Prom::new(&settings).unwrap(),
        gs,
        settings.refresh,
        warroom::beat::start().0.rounds(settings.refresh),
        tx,
    );
    let until = Instant::now() + Duration::from_secs(20);
    while app.state.metrics[0].reading.is_none() {
        assert!(Instant::now() < until, "no answer");
        if let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            app.handle(ev);
        }
    }
    poller.abort();
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    app.state.ui.focus = Pane::Gauges;
    app.state.ui.dirty = true;
    app.draw(&mut term).unwrap();
    let screen = text(term.backend().buffer());
    drop(app);
    (std::fs::read_to_string(&journal).unwrap(), screen)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A bearer token from a file and a basic-auth password from a file reach Prometheus, and
/// neither the token nor the password appears in the journal, any log line or the screen,
/// whether the credentials are accepted or refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_reach_prometheus_and_nowhere_else() {
    let _ = log::set_logger(&Capture);
    log::set_max_level(log::LevelFilter::Trace);
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let wrong_file = dir.path().join("wrong");
    std::fs::write(&wrong_file, "tok-wrong-SECRET-too\n").unwrap();
    let pw_file = dir.path().join("password");
    std::fs::write(&pw_file, PASSWORD).unwrap();

    // Bearer from the runbook, accepted.
    let (url, seen) = auth_server(format!("Bearer {TOKEN}")).await;
    let section = format!(
        "prometheus:\n  url: {url}\n  refresh: 1s\n  auth: {{bearer_token_file: {}}}\n  headers: {{X-Scope-OrgID: tenant-a}}",
        token_file.display()
    );
    let (journal, screen) = console_with(dir.path(), &section, &Overrides::default()).await;
    assert!(
        line_with(&screen, "Error rate ").contains("0.42 %"),
        "{screen}"
    );
    let h = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(h["x-scope-orgid"], "tenant-a");
    let mut all = vec![journal, screen];

    // The same runbook with a wrong token given on the command line: refused, in words.
    let o = Overrides {
        bearer_token_file: Some(wrong_file.clone()),
        ..Default::default()
    };
    let (journal, screen) = console_with(dir.path(), &section, &o).await;
    assert!(
        line_with(&screen, "Error rate ").contains("ERROR"),
        "{screen}"
    );
    assert!(
        journal.contains("Prometheus refused the credentials (HTTP 401)"),
        "{journal}"
    );
    all.extend([journal, screen]);

    // Basic auth from the flags.
    let (url, _) = auth_server(format!(
        "Basic {}",
        b64(&format!("release-lead:{PASSWORD}"))
    ))
    .await;
    let o = Overrides {
        url: Some(url),
        username: Some("release-lead".into()),
        password_file: Some(pw_file),
        ..Default::default()
    };
    let (journal, screen) = console_with(
        dir.path(),
        "prometheus: {url: http://127.0.0.1:1, refresh: 1s}",
        &o,
    )
    .await;
    assert!(
        line_with(&screen, "Error rate ").contains("0.42 %"),
        "{screen}"
    );
    all.extend([journal, screen]);

    all.extend(
        LINES
            .get_or_init(Default::default)
            .lock()
            .unwrap()
            .iter()
            .cloned(),
    );
    for text in &all {
        for secret in [
            TOKEN,
            PASSWORD,
            "tok-wrong",
            &b64(&format!("release-lead:{PASSWORD}")),
        ] {
            assert!(!text.contains(secret), "a secret leaked into:\n{text}");
        }
    }
}

fn b64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            out.push(if i <= c.len() {
                T[(n >> (18 - 6 * i)) as usize & 63] as char
            } else {
                '='
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// The runbook's syntax

fn problems(section: &str) -> String {
    let base = std::fs::read_to_string("assets/runbooks/demo.yaml").unwrap();
    let src = base.replace("prometheus: {refresh: 2s}", section);
    match parse_runbook(Path::new("rb.yaml"), &src) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_prometheus_section_is_strict_and_points_at_the_problem() {
    assert_eq!(
        problems(
            "prometheus:\n  url: https://prom.example:9090\n  refresh: 5s\n  timeout: 3s\n  window: 15m\n  auth:\n    basic: {username: lead, password_file: /run/secrets/pw}\n  headers: {X-Scope-OrgID: erp}\n  ca_file: /etc/ssl/ca.pem\n  client_cert: c.pem\n  client_key: c.key"
        ),
        ""
    );
    // Positions are in the file: the section starts on this line of the demo runbook.
    let base = std::fs::read_to_string("assets/runbooks/demo.yaml").unwrap();
    let line0 = base
        .lines()
        .position(|l| l.starts_with("prometheus:"))
        .unwrap();
    let e = problems("prometheus:\n  url: http://p:9090\n  auth:\n    bearer_token: abc");
    let at = format!("rb.yaml:{}:5: unknown field `bearer_token`", line0 + 4);
    assert!(e.starts_with(&at), "{e}");
    let e = problems(
        "prometheus:\n  url: http://p:9090\n  auth:\n    bearer_token_env: T\n    bearer_token_file: f",
    );
    assert!(
        e.contains(&format!("rb.yaml:{}:", line0 + 3)) && e.contains("exactly one of"),
        "{e}"
    );
    let e = problems("prometheus:\n  url: http://user:pw@p:9090");
    assert!(
        e.starts_with(&format!("rb.yaml:{}:", line0 + 2))
            && e.contains("carries credentials")
            && !e.contains("pw@"),
        "{e}"
    );
    let e = problems("prometheus:\n  url: p:9090");
    assert!(e.contains("must start with http"), "{e}");
    let e = problems("prometheus:\n  url: http://p\n  client_cert: c.pem");
    assert!(e.contains("needs its key"), "{e}");
    let e = problems("prometheus:\n  url: http://p\n  headers: {Authorization: x}");
    assert!(e.contains("do not write credentials in headers"), "{e}");
}

#[test]
fn series_options_are_checked() {
    let base = std::fs::read_to_string("assets/runbooks/demo.yaml").unwrap();
    let bad = base.replace(
        "    split_by: track\n",
        "    split_by: track-name\n    top: 0\n",
    );
    assert_ne!(bad, base);
    let e = parse_runbook(Path::new("rb.yaml"), &bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`track-name` is not a label name"), "{e}");
    assert!(e.contains("top must be at least 1"), "{e}");
    let bad = base.replace("    split_by: track\n", "");
    let e = parse_runbook(Path::new("rb.yaml"), &bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`order:` needs `split_by:`"), "{e}");
}

#[test]
fn flags_override_the_runbook_and_secrets_stay_out_of_errors() {
    let mut cfg = warroom::runbook::PromConfig {
        url: Some("http://runbook:9090".into()),
        ..Default::default()
    };
    cfg.refresh = warroom::runbook::Dur::from_secs(5);
    let s = Settings::resolve(Some(&cfg), &Overrides::default())
        .unwrap()
        .unwrap();
    assert_eq!(s.url, "http://runbook:9090");
    assert_eq!(s.timeout, Duration::from_secs(5));
    let o = Overrides {
        url: Some("http://flag:9090".into()),
        headers: vec!["X-Scope-OrgID: t1".into()],
        insecure: true,
        ..Default::default()
    };
    let s = Settings::resolve(Some(&cfg), &o).unwrap().unwrap();
    assert_eq!(s.url, "http://flag:9090");
    assert_eq!(
        s.headers,
        vec![("X-Scope-OrgID".to_string(), "t1".to_string())]
    );
    assert!(s.insecure);
    assert!(
        Settings::resolve(None, &Overrides::default())
            .unwrap()
            .is_none()
    );

    let o = Overrides {
        bearer_token_env: Some("WARROOM_TEST_NO_SUCH_VARIABLE".into()),
        ..Default::default()
    };
    let e = Settings::resolve(Some(&cfg), &o).unwrap_err();
    assert!(
        e.contains("WARROOM_TEST_NO_SUCH_VARIABLE") && e.contains("not set"),
        "{e}"
    );
    let o = Overrides {
        bearer_token_file: Some("/nonexistent/token".into()),
        ..Default::default()
    };
    let e = Settings::resolve(Some(&cfg), &o).unwrap_err();
    assert!(e.contains("/nonexistent/token"), "{e}");
}

/// Several series: picked, split in the runbook's order, or cut to the worst N; NaN and
/// infinities pass through as values; an empty vector is no data.
#[test]
fn answers_become_readings() {
    let rb = demo_runbook();
    let at = Utc::now();
    let series = |pairs: &[(&str, f64)]| {
        Answer::Vector(
            pairs
                .iter()
                .map(|(track, v)| warroom::prom::Sample {
                    labels: [("track".to_string(), track.to_string())].into(),
                    value: *v,
                    at,
                })
                .collect(),
        )
    };
    let mut m = metric_like(&rb, "x", "X", "q");
    assert_eq!(
        prom::reading_for(&m, Answer::Vector(vec![])),
        Reading::NoData
    );
    assert!(matches!(
        prom::reading_for(&m, series(&[("stable", 1.0), ("canary", 2.0)])),
        Reading::Error(e) if e.contains("2 series")
    ));
    m.pick = [("track".to_string(), "canary".to_string())].into();
    assert_eq!(
        prom::reading_for(&m, series(&[("stable", 1.0), ("canary", 2.0)])),
        Reading::Value { value: 2.0, at }
    );
    assert_eq!(
        prom::reading_for(&m, series(&[("stable", 1.0)])),
        Reading::NoData
    );
    m.pick.clear();
    m.split_by = Some("track".into());
    m.order = vec!["stable".into(), "canary".into()];
    match prom::reading_for(&m, series(&[("canary", 6.0), ("stable", f64::NAN)])) {
        Reading::Split(p) => {
            assert_eq!(p[0].key, "stable");
            assert!(p[0].value.is_nan());
            assert_eq!(p[1].value, 6.0);
        }
        other => panic!("{other:?}"),
    }
    m.top = Some(1);
    match prom::reading_for(&m, series(&[("a", 1.0), ("b", f64::INFINITY), ("c", 3.0)])) {
        Reading::Split(p) => assert_eq!((p.len(), p[0].key.as_str()), (1, "b")),
        other => panic!("{other:?}"),
    }
}

/// Prometheus is asked about the triggers armed at the stage in force, and no others: before
/// the canary nothing, at 10 % the canary's trigger, at 100 % the full stage's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_armed_triggers_are_asked_about() {
    let sim = simulator().await;
    let rb = demo_runbook();
    let step = Duration::from_secs(1);
    let mut s = state_for(rb.clone());
    let at = |s: &mut State, stage: Option<usize>| {
        s.stages.current = stage;
        s.stages.since = stage.map(|_| Utc::now());
        warroom::update::armed_triggers(s)
    };
    let (armed, armed_rx) = watch::channel(at(&mut s, None));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let beat = warroom::beat::start().0;
    let task = prom::triggers::spawn(
        Prom::new(&Settings::new(&sim.prom_url, step)).unwrap(),
        prom::triggers::watches(&rb, step),
        step,
        beat.clone().rounds(step),
        armed_rx,
        tx,
    );
    // The source's rounds, counted on the same heartbeat.
    let mut rounds = beat.rounds(step);
    let mut wait_rounds = async |n: usize| {
        for _ in 0..n {
            rounds.next().await.unwrap();
        }
    };
    // Which conditions were judged since the last look.
    let heard_now = |rx: &mut mpsc::UnboundedReceiver<Event>| {
        let mut heard = std::collections::BTreeSet::new();
        while let Ok(ev) = rx.try_recv() {
            if let Event::Trigger { trigger, cond, .. } = ev {
                heard.insert((trigger, cond));
            }
        }
        heard
    };
    // Wait until each of `want` is judged, refusing any other; however loaded the machine.
    async fn hear_all(rx: &mut mpsc::UnboundedReceiver<Event>, want: [(usize, usize); 2]) {
        let mut left: std::collections::BTreeSet<_> = want.into();
        while !left.is_empty() {
            let ev = tokio::time::timeout(Duration::from_secs(120), rx.recv())
                .await
                .expect("no verdict within 120 s")
                .unwrap();
            if let Event::Trigger { trigger, cond, .. } = ev {
                assert!(
                    want.contains(&(trigger, cond)),
                    "asked about {trigger}/{cond}"
                );
                left.remove(&(trigger, cond));
            }
        }
    }
    let id = |i: usize| rb.rollback_triggers[i].id.as_str();
    assert_eq!((id(0), id(1)), ("auto-canary", "auto-full"));

    wait_rounds(3).await;
    assert_eq!(
        heard_now(&mut rx),
        Default::default(),
        "asked before the canary"
    );

    armed.send(at(&mut s, Some(0))).unwrap();
    hear_all(&mut rx, [(0, 0), (0, 1)]).await;
    wait_rounds(2).await;
    assert!(
        heard_now(&mut rx).iter().all(|&(t, _)| t == 0),
        "at 10 % the canary's trigger alone"
    );

    armed.send(at(&mut s, Some(1))).unwrap();
    // A round on its way when the stage changed ends first: its verdicts come before any
    // of the next stage's.
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(120), rx.recv())
            .await
            .expect("no verdict within 120 s")
            .unwrap();
        if let Event::Trigger { trigger: 1, .. } = ev {
            break;
        }
    }
    hear_all(&mut rx, [(1, 0), (1, 1)]).await;
    wait_rounds(2).await;
    assert!(
        heard_now(&mut rx).iter().all(|&(t, _)| t == 1),
        "at 100 % the full stage's trigger alone"
    );
    task.abort();
}

/// A met trigger against a real Prometheus: Prometheus is stopped while the trigger is
/// met and the trigger stays met ("data lost"); when Prometheus comes back the trigger
/// is met at the same moment as before, and a console started afresh reads the same
/// moment from the history: no clock starts over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_met_trigger_survives_a_prometheus_outage_and_a_restart_reads_the_same_history() {
    let bin = need_prometheus!();
    let sim = simulator().await;
    let mut prom = RealProm::start(
        &bin,
        &[format!("127.0.0.1:{}", port_of(&sim.prom_url))],
        None,
    );
    prom.wait_ready();
    let text = std::fs::read_to_string("assets/runbooks/demo.yaml")
        .unwrap()
        .replace("prometheus: {refresh: 2s}", "prometheus: {refresh: 1s}")
        .replace(
            "{metric: canary-error-rate, series: {track: canary}, above: 5, for: 1m}",
            "{metric: canary-error-rate, series: {track: canary}, above: 5, for: 5s}",
        )
        .replacen("countdown: 30s", "countdown: 10m", 1);
    let rb = parse_runbook(Path::new("demo.yaml"), &text).unwrap();
    let step = Duration::from_secs(1);
    let url = prom.url();
    let console = |rb: &Runbook| {
        let mut s = state_for(rb.clone());
        // The canary stage in force: the trigger is armed.
        s.stages.current = Some(0);
        s.stages.since = Some(Utc::now());
        let (tx, rx) = mpsc::unbounded_channel();
        let task = prom::triggers::spawn(
            Prom::new(&Settings::new(&url, step)).unwrap(),
            prom::triggers::watches(rb, step),
            step,
            warroom::beat::start().0.rounds(step),
            watch::channel(warroom::update::armed_triggers(&s)).1,
            tx,
        );
        (s, rx, task)
    };
    let (mut s, mut rx, task) = console(&rb);
    pump(
        &mut s,
        &mut rx,
        Duration::from_secs(90),
        "the trigger met",
        |s| s.triggers[0].met.is_some(),
    )
    .await;
    let met_at = s.triggers[0].met.as_ref().unwrap().at;
    let evidence = s.triggers[0].met.as_ref().unwrap().evidence.clone();
    assert!(
        evidence.starts_with("Error rate by track canary 6.00 % > 5.00 % for 5s"),
        "{evidence}"
    );

    prom.stop();
    pump(
        &mut s,
        &mut rx,
        Duration::from_secs(30),
        "the data lost",
        |s| {
            s.triggers[0]
                .met
                .as_ref()
                .is_some_and(|m| m.data_lost.is_some())
        },
    )
    .await;
    // The outage goes on; the trigger stays met, however long.
    let lost_until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < lost_until {
        pump(&mut s, &mut rx, Duration::from_secs(1), "", |_| true).await;
        assert!(
            s.triggers[0].met.is_some(),
            "a lost Prometheus cleared the trigger"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(warroom::ui::header::health(&s) != Level::Ok);

    prom.spawn();
    prom.wait_ready();
    pump(
        &mut s,
        &mut rx,
        Duration::from_secs(60),
        "fresh data again",
        |s| {
            s.triggers[0]
                .met
                .as_ref()
                .is_some_and(|m| m.data_lost.is_none())
        },
    )
    .await;
    assert_eq!(
        s.triggers[0].met.as_ref().unwrap().at,
        met_at,
        "the outage did not start the clock over"
    );
    task.abort();

    // A console started now reads the same moment from Prometheus' history.
    let (mut again, mut rx2, task2) = console(&rb);
    pump(
        &mut again,
        &mut rx2,
        Duration::from_secs(30),
        "the trigger met, fresh",
        |s| s.triggers[0].met.is_some(),
    )
    .await;
    let restarted_at = again.triggers[0].met.as_ref().unwrap().at;
    assert!(
        (restarted_at - met_at).num_milliseconds().abs() <= 1000,
        "restarted console: met at {restarted_at}, first console {met_at}"
    );
    task2.abort();
    sim.shutdown().await;
}

/// Each service of a scenario scraped as a job of its own (`metrics_path:
/// /metrics/<app>`): a real Prometheus reads the release scenario's front-end canary at
/// its version's 8% errors, the backend's at its own, and the worker's failed jobs, as
/// the simulator's own query API does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_each_service_as_its_own_job() {
    let bin = need_prometheus!();
    let mut sc =
        warroom::runbook::parse_scenario(include_str!("../assets/scenarios/erp-release.yaml"))
            .unwrap();
    sc.noise = 0.0;
    // One canary pod per service from the start.
    sc.canary.replicas = 1;
    for svc in &mut sc.services {
        svc.canary.replicas = 1;
    }
    let sim = warroom::sim::start(sc, 0, 0).await.unwrap();
    let sim_port = port_of(&sim.prom_url);
    let jobs: String = ["erp-backend", "erp-frontend", "erp-worker"]
        .iter()
        .map(|app| {
            format!(
                "  - job_name: {app}\n    metrics_path: /metrics/{app}\n    \
                 static_configs: [{{targets: ['127.0.0.1:{sim_port}'], labels: {{instance: sim}}}}]\n"
            )
        })
        .collect();
    let config = format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n{jobs}"
    );
    let prom = RealProm::with_config(&bin, &config, None);
    prom.wait_ready();

    let canary_errors = |job: &str| {
        format!(
            r#"sum(rate(http_requests_total{{job="{job}",track="canary",code=~"5.."}}[1m])) / sum(rate(http_requests_total{{job="{job}",track="canary"}}[1m]))"#
        )
    };
    let failed_jobs = r#"sum(rate(worker_jobs_total{job="erp-worker",outcome="failed"}[1m])) / sum(rate(worker_jobs_total{job="erp-worker"}[1m]))"#;
    let queries = [
        canary_errors("erp-frontend"),
        canary_errors("erp-backend"),
        failed_jobs.to_string(),
        r#"count(up{job=~"erp-.*"} == 1)"#.to_string(),
        r#"count(http_requests_total{job="erp-worker"})"#.to_string(),
    ];
    // A few scrapes of every job.
    let until = Instant::now() + Duration::from_secs(60);
    let at = loop {
        let t = Utc::now();
        let ups = raw_query(prom.port, &queries[3], t);
        let samples = raw_query(
            prom.port,
            r#"min(count_over_time(up{job=~"erp-.*"}[1m]))"#,
            t,
        );
        if ups.first().is_some_and(|u| u.1 == 3.0) && samples.first().is_some_and(|s| s.1 >= 4.0) {
            break t;
        }
        assert!(
            Instant::now() < until,
            "Prometheus did not scrape the three jobs: {ups:?}\n{}",
            prom.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let theirs: Vec<Option<f64>> = queries
        .iter()
        .map(|q| raw_query(prom.port, q, at).first().map(|s| s.1))
        .collect();
    let ours: Vec<Option<f64>> = queries
        .iter()
        .map(|q| raw_query(sim_port, q, at).first().map(|s| s.1))
        .collect();
    eprintln!("Prometheus {theirs:?}\nsimulator  {ours:?}");
    let frontend = theirs[0].unwrap();
    assert!((frontend - 0.08).abs() < 1e-3, "{frontend}");
    let backend = theirs[1].unwrap();
    assert!(backend < 0.001, "{backend}");
    let failed = theirs[2].unwrap();
    assert!((failed - 0.002).abs() < 1e-4, "{failed}");
    assert_eq!(theirs[4], None, "a worker serves no requests");
    // The simulator's own history says the same: ratios of counters stepped together
    // agree to 1e-6 whatever the scrape offset (see the test above).
    for (q, (a, b)) in queries.iter().zip(theirs.iter().zip(&ours)).take(3) {
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(
            (a - b).abs() <= 1e-6 * b.abs(),
            "{q}: Prometheus {a}, simulator {b}"
        );
    }
    assert_eq!(ours[4], None);
    sim.shutdown().await;
}
