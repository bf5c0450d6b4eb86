//! The console at scale: a release of 10 services (20 Deployments) with 1000 pods, 300
//! checklist items, 40 gauges and 100 000 log lines. Reports what one frame at 200x60
//! costs, what one watch snapshot costs the pure core (a pod changed), a key from press to
//! drawn screen, and the memory the state holds (RSS before and after it is built).
//!
//! Run: `cargo bench --bench scale`.

mod support;
use support::rss_kib;

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use warroom::event::Event;
use warroom::journal::{Entry, Level, Record};
use warroom::layout;
use warroom::runbook::parse_runbook;
use warroom::state::cluster::{DeployView, PodView, RsView, Snapshot};
use warroom::state::metrics::Reading;
use warroom::state::{Driver, State};
use warroom::ui::{self, View};
use warroom::update::update;

const SERVICES: usize = 10;
const PODS: usize = 1000;
const ITEMS: usize = 300;
const GAUGES: usize = 40;
const LOG_LINES: u64 = 100_000;

fn runbook_yaml() -> String {
    let mut y = String::from(
        "release: {name: ERP at scale, version: v2.0.0, date: \"2026-12-01\", owner: Release team, planned_duration: 1h}\n\
         prometheus: {refresh: 2s}\n\
         stages:\n  - {id: canary-10, title: \"Canary 10%\", traffic: 10, hold: 10m}\n  - {id: full, title: \"Full 100%\", traffic: 100, hold: 10m}\n\
         targets:\n",
    );
    for t in 0..SERVICES {
        let _ = writeln!(
            y,
            "  - {{name: svc{t:02}, namespace: erp-production, stable: erp-svc{t:02}, canary: erp-svc{t:02}-canary, traffic: {{strategy: replica-ratio, replicas: {}}}, canary_series: {{track: canary}}}}",
            PODS / SERVICES
        );
    }
    y.push_str("metrics:\n");
    for g in 0..GAUGES {
        let _ = writeln!(
            y,
            "  - {{id: m{g:02}, title: \"Service {} error rate\", short: \"5xx {g}\", target: svc{:02}, unit: percent, bad: above, warn: 1, critical: 5, query: 'sum(rate(http_requests_total{{job=\"erp-svc{:02}\"}}[1m]))'}}",
            g % SERVICES,
            g % SERVICES,
            g % SERVICES
        );
    }
    y.push_str("phases:\n");
    let phases = 13;
    for p in 0..phases {
        let _ = writeln!(
            y,
            "  - id: phase-{p}\n    title: \"阶段 {p}: checks of phase {p}\"\n    groups:\n      - title: Checks\n        items:"
        );
        let per = ITEMS / phases + usize::from(p < ITEMS % phases);
        for i in 0..per {
            let _ = writeln!(
                y,
                "          - {{id: p{p}-i{i}, text: \"检查项 {i} of phase {p}: a check long enough to need most of the pane\", role: SRE}}"
            );
        }
    }
    y
}

fn pod(t: usize, rs: &str, i: usize, ready: bool) -> PodView {
    PodView {
        name: format!("{rs}-{i:05x}"),
        owner: rs.to_string(),
        ready_containers: u32::from(ready),
        containers: 1,
        status: if ready {
            "Running"
        } else {
            "ContainerCreating"
        }
        .into(),
        restarts: (t % 3) as u32,
        created: Some(Utc::now()),
        message: None,
    }
}

/// The cluster mid-rollout: each service's stable half rolled to a new ReplicaSet, its
/// canary at 10%.
fn snapshot(flip: usize) -> Snapshot {
    let per = PODS / SERVICES;
    let mut s = Snapshot::default();
    let mut n = 0;
    for t in 0..SERVICES {
        for (name, pods) in [
            (format!("erp-svc{t:02}"), per * 9 / 10),
            (format!("erp-svc{t:02}-canary"), per / 10),
        ] {
            s.deployments.push(DeployView {
                name: name.clone(),
                desired: pods as u32,
                replicas: pods as u32,
                updated: pods as u32 / 2,
                ready: pods as u32,
                available: pods as u32,
                revision: "4".into(),
                image: "registry.local/erp:v2.0.0".into(),
                ..Default::default()
            });
            for (r, image) in [("5d8f7c", "v2.0.0"), ("7c9d5f", "v1.9.0")] {
                let rs = format!("{name}-{r}");
                s.replicasets.push(RsView {
                    name: rs.clone(),
                    owner: name.clone(),
                    revision: if r == "5d8f7c" { "4" } else { "3" }.into(),
                    image: format!("registry.local/erp:{image}"),
                    desired: (pods / 2) as u32,
                    ready: (pods / 2) as u32,
                    created: None,
                });
                for i in 0..pods / 2 {
                    s.pods.push(pod(t, &rs, i, n != flip));
                    n += 1;
                }
            }
        }
    }
    s.pods.sort_by(|a, b| a.name.cmp(&b.name));
    s
}

fn busy() -> State {
    let rb = parse_runbook(Path::new("scale.yaml"), &runbook_yaml()).expect("the scale runbook");
    assert_eq!(rb.metrics.len(), GAUGES);
    let t0 = Utc::now() - Duration::hours(2);
    let mut s = State::new(Arc::new(rb), "lin", t0);
    assert!(s.checklist.items.len() >= ITEMS, "300 checklist items");
    s.driver = Driver::Driving {
        lease: "erp-production/warroom-erp".into(),
        fence: "1-0000abcd".into(),
    };
    for n in 0..LOG_LINES {
        s.apply(&Record {
            seq: n + 1,
            at: t0 + Duration::milliseconds(n as i64 * 70),
            who: "console".into(),
            entry: Entry::System {
                level: Level::Info,
                text: format!(
                    "note {n}: 数据库备份执行 and a line long enough to wrap in the comms pane"
                ),
            },
        });
    }
    for p in 0..s.checklist.collapsed.len() {
        s.checklist.collapsed[p] = false;
    }
    s.now = Utc::now();
    update(&mut s, Event::Cluster(snapshot(usize::MAX)));
    for i in 0..s.metrics.len() {
        for k in 0..120 {
            s.metrics[i].push_history((k % 17) as f64);
        }
        let at = s.now;
        update(
            &mut s,
            Event::Metric {
                index: i,
                at,
                reading: Reading::Value {
                    value: 0.5 + (i % 7) as f64,
                    at,
                },
            },
        );
    }
    s
}

fn scale(c: &mut Criterion) {
    let before = rss_kib();
    let mut s = busy();
    let after = rss_kib();
    eprintln!(
        "state of {SERVICES} services, {PODS} pods, {ITEMS} items, {GAUGES} gauges, {LOG_LINES} log lines: RSS {before} KiB before, {after} KiB after ({} KiB for the state)",
        after.saturating_sub(before)
    );
    let view = View::new(layout::builtin("war-room"));
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    c.bench_function("render war-room 200x60 at scale", |b| {
        b.iter(|| {
            term.draw(|f| ui::draw_into(&s, &view, f.buffer_mut()))
                .unwrap();
        })
    });
    // One watch snapshot in which one pod changed, as the core takes it (without drawing).
    let snaps = [snapshot(17), snapshot(18)];
    let mut k = 0;
    c.bench_function("update: a snapshot of 1000 pods, one changed", |b| {
        b.iter(|| {
            k += 1;
            update(&mut s, Event::Cluster(snaps[k % 2].clone()))
        })
    });
    // A key, from press to the drawn screen: the cursor moves down the checklist.
    c.bench_function("key to screen at scale (200x60)", |b| {
        b.iter(|| {
            let fx = update(&mut s, Event::Key(KeyEvent::from(KeyCode::Down)));
            term.draw(|f| ui::draw_into(&s, &view, f.buffer_mut()))
                .unwrap();
            fx
        })
    });
}

criterion_group!(benches, scale);
criterion_main!(benches);
