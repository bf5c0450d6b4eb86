//! A two-hour session compressed in time: what the console's state and the simulator's
//! metric history hold, every ten minutes of the session, with no wall-clock wait.
//!
//! The console: the demo runbook, a stage in force, the clock every second and every
//! gauge answering every refresh (values that move, so the sparklines and the gauges'
//! record in the journal move too), the cluster every ten seconds. The simulator: the
//! demo scenario's pods scraped every second into its time-series store, which keeps an
//! hour. Memory is the heap the process holds (every allocation counted), and its RSS.
//!
//! Run: `cargo bench --bench session` (add `-- 4` for four hours, and a scenario file,
//! `-- assets/scenarios/scale.yaml`, for the simulator's store at 1000 pods).

mod support;
use support::rss_kib;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};
use warroom::event::Event;
use warroom::journal::{Entry, Record};
use warroom::runbook::{Scenario, parse_runbook, parse_scenario};
use warroom::sim::metrics::{MetricsSim, PodSample};
use warroom::state::cluster::{DeployView, Snapshot};
use warroom::state::metrics::Reading;
use warroom::state::{Driver, State};
use warroom::update::update;

/// Counts the bytes the program holds on the heap.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            LIVE.fetch_add(l.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, size) };
        if !q.is_null() {
            LIVE.fetch_add(size, Ordering::Relaxed);
            LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live_kib() -> usize {
    LIVE.load(Ordering::Relaxed) / 1024
}

/// Every pod of the scenario with the canary at one pod: what the simulator scrapes.
fn pods(sc: &Scenario) -> Vec<PodSample> {
    let mut out = Vec::new();
    let services = std::iter::once((&sc.app, &sc.stable, &sc.canary))
        .chain(sc.services.iter().map(|s| (&s.app, &s.stable, &s.canary)));
    for (app, stable, canary) in services {
        for (d, n) in [(stable, stable.replicas.saturating_sub(1)), (canary, 1)] {
            for i in 0..n {
                out.push(PodSample {
                    name: format!("{}-{i:05x}", d.name),
                    app: app.clone(),
                    track: d.track.clone(),
                    version: Scenario::tag(&d.image).to_string(),
                    ready: true,
                    restarts: 0,
                });
            }
        }
    }
    out
}

/// The demo's Deployments as the console sees them at 10%.
fn snapshot() -> Snapshot {
    let mut s = Snapshot::default();
    for (name, n, image) in [
        ("erp-backend", 9, "registry.local/erp-backend:v0.9.3"),
        ("erp-backend-canary", 1, "registry.local/erp-backend:v1.0.0"),
    ] {
        s.deployments.push(DeployView {
            name: name.into(),
            desired: n,
            replicas: n,
            updated: n,
            ready: n,
            available: n,
            revision: "1".into(),
            image: image.into(),
            ..Default::default()
        });
    }
    s
}

fn console(t0: DateTime<Utc>) -> State {
    let rb = parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK)
        .expect("the demo runbook");
    let mut s = State::new(Arc::new(rb), "lin", t0);
    s.driver = Driver::Driving {
        lease: "erp-production/warroom-erp".into(),
        fence: "1-0000abcd".into(),
    };
    s.lease_until = Some(t0 + Duration::days(1));
    let to = s.rb.stages[0].id.clone();
    for (seq, entry) in [
        Entry::Advance {
            to,
            plan: "Shift traffic to 10%".into(),
            overridden: Vec::new(),
            override_reason: None,
        },
        Entry::Outcome {
            of: 1,
            ok: true,
            message: "erp-backend-canary scaled to 1, erp-backend scaled to 9".into(),
        },
    ]
    .into_iter()
    .enumerate()
    {
        s.apply(&Record {
            seq: seq as u64 + 1,
            at: t0,
            who: "lin".into(),
            entry,
        });
    }
    s.seq = 2;
    s
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let hours: i64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(2);
    // Another scenario's pods (a YAML file), for the simulator's side at scale.
    let scenario = args
        .iter()
        .find(|a| a.ends_with(".yaml"))
        .map(|p| std::fs::read_to_string(p).expect("the scenario file"));
    let secs = hours * 3600;
    let t0 = Utc::now() - Duration::seconds(secs);
    let started = std::time::Instant::now();

    let sc = parse_scenario(
        scenario
            .as_deref()
            .unwrap_or(warroom::builtin::DEFAULT_SCENARIO),
    )
    .expect("the scenario");
    let pods = pods(&sc);
    let split = BTreeMap::new();
    let base = live_kib();
    let mut sim = MetricsSim::new(&sc);
    let mut s = console(t0);
    let refresh =
        s.rb.prometheus
            .as_ref()
            .map_or(2, |p| p.refresh.secs() as i64)
            .max(1);
    let gauges = s.metrics.len();
    let mut journaled = 0usize;
    let mut sim_bytes: isize = 0;
    println!(
        "{hours} h of the demo runbook in compressed time: {} pods of {} scraped every second, {gauges} gauges every {refresh} s",
        pods.len(),
        sc.name
    );
    println!("  minute  console heap  simulator heap  RSS         journal records written");
    for k in 0..=secs {
        let now = t0 + Duration::seconds(k);
        // The simulator scrapes once a second; what its store holds is counted apart.
        let before = LIVE.load(Ordering::Relaxed) as isize;
        sim.step_routes(t0.timestamp() as f64 + k as f64, 1.0, &pods, &split);
        sim_bytes += LIVE.load(Ordering::Relaxed) as isize - before;
        // The console: its clock, its gauges, the cluster.
        let mut fx = update(&mut s, Event::Tick(now));
        if k % refresh == 0 {
            for index in 0..gauges {
                // A value that moves: a slow wave, as a live gauge does.
                let value = 0.5 + ((k as f64 / 300.0) + index as f64).sin().abs() * 0.3;
                fx.extend(update(
                    &mut s,
                    Event::Metric {
                        index,
                        at: now,
                        reading: Reading::Value { value, at: now },
                    },
                ));
            }
        }
        if k % 10 == 0 {
            fx.extend(update(&mut s, Event::Cluster(snapshot())));
        }
        journaled += fx
            .iter()
            .filter(|e| matches!(e, warroom::effect::Effect::Journal(_)))
            .count();
        if k % 600 == 0 {
            let sim_kib = sim_bytes.max(0) as usize / 1024;
            println!(
                "  {:>6}  {:>8} KiB  {:>10} KiB  {:>7} KiB  {journaled}",
                k / 60,
                live_kib().saturating_sub(base).saturating_sub(sim_kib),
                sim_kib,
                rss_kib()
            );
        }
    }
    println!(
        "  ({} s of session in {:.1} s; the simulator's store keeps an hour)",
        secs,
        started.elapsed().as_secs_f64()
    );
}
