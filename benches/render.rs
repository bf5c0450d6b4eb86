//! Time to render a full frame: every pane of the war-room layout at 200x60 (and the
//! compact one at 80x24), with a checklist, full gauges, a rollout with pods and a long log.

use std::path::Path;
use std::sync::Arc;

use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use warroom::event::Event;
use warroom::journal::{Entry, Level, Mark, Record};
use warroom::layout;
use warroom::runbook::load;
use warroom::state::cluster::{DeployView, PodView, RsView, Snapshot};
use warroom::state::metrics::Reading;
use warroom::state::{Driver, State};
use warroom::ui::{self, View};
use warroom::update::update;

fn busy() -> State {
    let rb = load(Path::new("assets/runbooks/erp-v1.0.0.zh.yaml")).unwrap();
    let t0 = Utc::now() - Duration::minutes(30);
    let mut s = State::new(Arc::new(rb), "lin", t0);
    s.driver = Driver::Driving {
        lease: "prod/warroom-erp".into(),
        fence: "1-0000abcd".into(),
    };
    let ids: Vec<String> = s
        .checklist
        .items
        .iter()
        .filter(|i| i.kind.tickable())
        .take(60)
        .map(|i| i.id.clone())
        .collect();
    for (n, id) in ids.into_iter().enumerate() {
        s.apply(&Record {
            seq: n as u64 + 1,
            at: t0 + Duration::seconds(n as i64),
            who: "lin".into(),
            entry: Entry::Mark {
                item: id,
                mark: Mark::Done,
                signer: None,
            },
        });
    }
    for n in 0..200u64 {
        s.apply(&Record {
            seq: 100 + n,
            at: t0 + Duration::seconds(100 + n as i64),
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
    let pods = (0..10)
        .map(|i| PodView {
            name: format!("erp-backend-7c9d5f-{i:05}"),
            owner: "erp-backend-7c9d5f".into(),
            ready_containers: 1,
            containers: 1,
            status: "Running".into(),
            restarts: 0,
            created: Some(t0),
            message: None,
        })
        .collect();
    let d = DeployView {
        name: "erp-backend".into(),
        desired: 10,
        replicas: 10,
        updated: 10,
        ready: 10,
        available: 10,
        revision: "3".into(),
        image: "erp:v1".into(),
        ..Default::default()
    };
    s.now = Utc::now();
    update(
        &mut s,
        Event::Cluster(Snapshot {
            deployments: vec![
                d.clone(),
                DeployView {
                    name: "erp-backend-canary".into(),
                    ..d
                },
            ],
            replicasets: vec![RsView {
                name: "erp-backend-7c9d5f".into(),
                owner: "erp-backend".into(),
                revision: "3".into(),
                image: "erp:v1".into(),
                desired: 10,
                ready: 10,
                created: None,
            }],
            pods,
            routes: Vec::new(),
        }),
    );
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
                    value: 1.5 + i as f64,
                    at,
                },
            },
        );
    }
    s
}

fn frames(c: &mut Criterion) {
    let s = busy();
    for (name, w, h) in [("war-room", 200, 60), ("compact", 80, 24)] {
        let view = View::new(layout::builtin(name));
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        c.bench_function(&format!("render {name} {w}x{h}"), |b| {
            b.iter(|| {
                term.draw(|f| ui::draw_into(&s, &view, f.buffer_mut()))
                    .unwrap();
            })
        });
    }
}

criterion_group!(benches, frames);
criterion_main!(benches);
