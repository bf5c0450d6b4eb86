//! After the release: `warroom report` (the post-deployment summary from journals of the
//! demo and the ERP runbook, one with a rollback, one with a crash, as the binary writes
//! them) and `warroom replay` (the session again on the full console, from the journal
//! alone).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use warroom::effect::Effect;
use warroom::event::Event;
use warroom::journal::{Entry, Level, Record};
use warroom::runbook::parse_runbook;
use warroom::state::cluster::{DeployView, Snapshot};
use warroom::state::metrics::Reading;
use warroom::state::{Driver, Mode, Row, State};
use warroom::update::update;

mod common;

use common::screen;

const BIN: &str = env!("CARGO_BIN_EXE_warroom");

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T20:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A driving console on `runbook`, whose journal is kept as its file would be.
struct Run {
    s: State,
    journal: Vec<Record>,
}

impl Run {
    fn new(file: &str, runbook: &str) -> Run {
        let rb = parse_runbook(Path::new(file), runbook).unwrap();
        let s = State::new(Arc::new(rb), "lin", t0());
        let mut run = Run {
            s,
            journal: Vec::new(),
        };
        let session = run.s.record(
            "lin",
            Entry::Session {
                runbook: file.into(),
                release: run.s.rb.release.name.clone(),
                version: run.s.rb.release.version.clone(),
            },
        );
        run.s.apply(&session);
        run.journal.push(session);
        let k = run.s.rb.targets[0].clone();
        let d = |name: &str, n: u32| DeployView {
            name: name.into(),
            desired: n,
            replicas: n,
            updated: n,
            ready: n,
            available: n,
            generation: 1,
            observed_generation: 1,
            revision: "1".into(),
            ..Default::default()
        };
        run.ev(Event::Cluster(Snapshot {
            deployments: vec![d(&k.stable, 10), d(&k.canary, 0)],
            ..Default::default()
        }));
        run.ev(Event::Lease(Driver::Driving {
            lease: "erp-production/warroom-erp".into(),
            fence: "1-0000abcd".into(),
        }));
        run
    }

    fn ev(&mut self, ev: Event) -> Vec<Effect> {
        let fx = update(&mut self.s, ev);
        self.journal.extend(fx.iter().filter_map(|e| match e {
            Effect::Journal(r) => Some(r.clone()),
            _ => None,
        }));
        fx
    }

    fn key(&mut self, c: KeyCode) -> Vec<Effect> {
        self.ev(Event::Key(KeyEvent::new(c, KeyModifiers::NONE)))
    }

    fn typed(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
        self.key(KeyCode::Enter);
    }

    fn at(&mut self, secs: i64) {
        self.ev(Event::Tick(t0() + Duration::seconds(secs)));
    }

    /// Every gauge reads `f(metric)` now.
    fn gauges(&mut self, value: impl Fn(&warroom::runbook::Metric) -> f64) {
        let now = self.s.now;
        for i in 0..self.s.rb.metrics.len() {
            let v = value(&self.s.rb.metrics[i]);
            self.ev(Event::Metric {
                index: i,
                at: now,
                reading: Reading::Value { value: v, at: now },
            });
        }
    }

    fn healthy(&mut self) {
        self.gauges(|m| match m.bad {
            warroom::runbook::Bad::Above => m.warn / 2.0,
            warroom::runbook::Bad::Below => m.warn.abs() * 1.001 + 1.0,
        });
    }

    /// Tick (and sign) what gates `stage`.
    fn tick_gates(&mut self, stage: &str, signer: &str) {
        for i in 0..self.s.checklist.items.len() {
            let it = &self.s.checklist.items[i];
            if it.gates.as_deref() != Some(stage)
                || !it.required
                || !it.kind.tickable()
                || self.s.checklist.settled(i)
                || self.s.checklist.children(i).next().is_some()
            {
                continue;
            }
            let phase = it.phase;
            self.s.checklist.collapsed[phase] = false;
            self.s.ui.focus = warroom::layout::Pane::Checklist;
            self.s.checklist.cursor = self
                .s
                .checklist
                .rows()
                .iter()
                .position(|r| *r == Row::Item(i))
                .unwrap();
            self.key(KeyCode::Char(' '));
            if matches!(self.s.ui.mode, Mode::Signer { .. }) {
                self.typed(signer);
            }
        }
    }

    /// Confirm what is open, then have the API say yes.
    fn confirm_and_answer(&mut self, reason: Option<&str>) {
        let fx = match reason {
            Some(r) => {
                for c in r.chars() {
                    self.key(KeyCode::Char(c));
                }
                self.key(KeyCode::Enter)
            }
            None => self.key(KeyCode::Char('y')),
        };
        let seq = fx
            .iter()
            .find_map(|e| match e {
                Effect::Kube { seq, .. } => Some(*seq),
                _ => None,
            })
            .unwrap_or_else(|| panic!("nothing sent: {fx:?} {:?}", self.s.ui.mode));
        self.ev(Event::Outcome {
            seq,
            ok: true,
            message: "the cluster took it".into(),
        });
    }

    fn write(&self, path: &Path) {
        let mut text = String::new();
        for r in &self.journal {
            text.push_str(&serde_json::to_string(r).unwrap());
            text.push('\n');
        }
        std::fs::write(path, text).unwrap();
    }
}

fn report(journal: &Path, runbook: &str, extra: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("report")
        .arg(journal)
        .args(["--runbook", runbook, "--utc"])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The demo release to 10 %, its canary failing, rolled back by the lead.
fn demo_with_rollback() -> Run {
    let mut r = Run::new("demo.yaml", warroom::builtin::DEMO_RUNBOOK);
    r.healthy();
    r.tick_gates("canary-10", "Zhang Wei");
    r.key(KeyCode::Char('n'));
    r.typed("DBA on the bridge");
    r.at(30);
    r.healthy();
    r.key(KeyCode::Char('a'));
    r.confirm_and_answer(None);
    for t in (40..=100).step_by(10) {
        r.at(t);
        r.healthy();
    }
    let err =
        r.s.rb
            .metrics
            .iter()
            .position(|m| m.id == "error-rate")
            .unwrap();
    let now = r.s.now;
    r.ev(Event::Metric {
        index: err,
        at: now,
        reading: Reading::Value {
            value: 7.5,
            at: now,
        },
    });
    r.key(KeyCode::Char('R'));
    r.confirm_and_answer(Some("canary errors at 7.5 %"));
    r.at(130);
    r
}

#[test]
fn the_report_of_a_release_rolled_back_tells_who_did_what_when_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("demo.jsonl");
    let run = demo_with_rollback();
    run.write(&j);
    let before = std::fs::read(&j).unwrap();
    let md = report(&j, "assets/runbooks/demo.yaml", &[]);
    assert!(
        md.starts_with("# Post-deployment report: ERP backend (demo) v1.0.0\n"),
        "{md}"
    );
    for heading in [
        "## Overview",
        "## Timeline",
        "## Decisions",
        "## Sign-offs",
        "## Notes",
        "## Checklist",
    ] {
        assert!(md.contains(heading), "{heading}: {md}");
    }
    assert!(
        md.contains("- **Deployment time**: 2026-11-25 20:00:30 UTC"),
        "{md}"
    );
    // The stages against the plan: 10 % held 1m10s of its planned 1m, then the rollback.
    assert!(
        md.contains(
            "| 2026-11-25 20:00:30 UTC | Canary 10% (10%) | 1m10s | 1m00s | ROLLBACK [manual] |"
        ),
        "{md}"
    );
    // Every decision, with who and why.
    assert!(md.contains("| lin | Shift traffic to 10%"), "{md}");
    assert!(md.contains("ROLLBACK [manual]"), "{md}");
    assert!(md.contains("canary errors at 7.5 %"), "{md}");
    // Sign-offs with their signers, and who entered them.
    assert!(md.contains("| Tech lead | Zhang Wei | lin |"), "{md}");
    assert!(md.contains("DBA on the bridge"), "{md}");
    // The gauges of the stage, from the flight recorder: the error rate's worst is there.
    assert!(
        md.contains("Canary 10% (10%) (2026-11-25 20:00:30 UTC)"),
        "{md}"
    );
    let err_row = md
        .lines()
        .find(|l| l.starts_with("| Error rate |"))
        .unwrap_or_else(|| panic!("{md}"));
    assert!(err_row.contains("7.50 %"), "{err_row}");
    // What the console verified itself, with its evidence.
    assert!(md.contains("## Verified by the console"), "{md}");
    assert!(
        md.contains(
            "| 2026-11-25 20:00:00 UTC | Rollback image ready (erp-backend:v0.9.3) | PASS | erp-backend 10/10 available |"
        ),
        "{md}"
    );
    // Reading the journal changes nothing in it.
    assert_eq!(std::fs::read(&j).unwrap(), before);

    // The same as one self-contained page.
    let out = dir.path().join("report.html");
    report(
        &j,
        "assets/runbooks/demo.yaml",
        &["--html", "-o", out.to_str().unwrap()],
    );
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("<h2>Decisions</h2>"), "{html}");
    assert!(html.contains("Zhang Wei"));
    for outside in ["<script", "http://", "https://", "<link"] {
        assert!(!html.contains(outside), "{outside} in {html}");
    }
}

#[test]
fn the_report_of_a_crashed_erp_release_is_in_chinese_and_names_the_crash() {
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("erp.jsonl");
    let mut r = Run::new(
        "erp-v1.0.0.zh.yaml",
        include_str!("../assets/runbooks/erp-v1.0.0.zh.yaml"),
    );
    r.healthy();
    r.tick_gates("canary-10", "王五");
    r.key(KeyCode::Char('n'));
    r.typed("<b>数据库</b> 已备份");
    r.write(&j);
    // The console crashes, as its panic hook records it, and is started again.
    let crash = Record {
        seq: r.s.seq + 1,
        at: r.s.now + Duration::seconds(5),
        who: "lin".into(),
        entry: Entry::System {
            level: Level::Error,
            text: "the console crashed (panicked at src/ui/gauges.rs:1:1); the cluster stays as it is: start the console again with the same journal".into(),
        },
    };
    let mut text = std::fs::read_to_string(&j).unwrap();
    text.push_str(&serde_json::to_string(&crash).unwrap());
    text.push('\n');
    std::fs::write(&j, text).unwrap();
    {
        let rb = parse_runbook(
            Path::new("erp.yaml"),
            include_str!("../assets/runbooks/erp-v1.0.0.zh.yaml"),
        )
        .unwrap();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        warroom::app::App::open(
            rb,
            "erp-v1.0.0.zh.yaml",
            &j,
            "lin",
            warroom::layout::builtin("war-room"),
            warroom::format::Zone::Utc,
            tx,
        )
        .unwrap();
    }
    let md = report(&j, "assets/runbooks/erp-v1.0.0.zh.yaml", &[]);
    assert!(
        md.starts_with("# 部署后总结: ERP系统生产部署 v1.0.0\n"),
        "{md}"
    );
    for heading in [
        "## 概览",
        "## 时间线",
        "## 决策",
        "## 签字确认",
        "## 备注",
        "## 检查清单",
    ] {
        assert!(md.contains(heading), "{heading}: {md}");
    }
    assert!(md.contains("未开始任何阶段"), "no stage started: {md}");
    assert!(md.contains("| 项目经理 | 王五 | lin |"), "{md}");
    assert!(
        md.contains("the console crashed (panicked at src/ui/gauges.rs"),
        "{md}"
    );
    // Two sessions, both named: the one that crashed and the one started after it.
    let consoles = md.lines().find(|l| l.starts_with("- **控制台**")).unwrap();
    assert_eq!(consoles.matches("lin 2026-").count(), 2, "{consoles}");
    // Outside text is escaped in HTML.
    let html = Command::new(BIN)
        .arg("report")
        .arg(&j)
        .args(["--runbook", "assets/runbooks/erp-v1.0.0.zh.yaml", "--html"])
        .output()
        .unwrap();
    let html = String::from_utf8(html.stdout).unwrap();
    assert!(html.contains("&lt;b&gt;数据库&lt;/b&gt; 已备份"), "{html}");
    assert!(!html.contains("<b>数据库"), "{html}");
}

#[test]
fn a_replay_shows_the_session_again_from_the_journal_alone_and_can_pause_and_step() {
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("demo.jsonl");
    let run = demo_with_rollback();
    run.write(&j);
    let before = std::fs::read(&j).unwrap();
    let rb = parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    // No cluster, no Prometheus: only the journal.
    let mut app = warroom::app::App::replay(
        rb,
        &j,
        "wang",
        warroom::layout::builtin("war-room"),
        warroom::format::Zone::Utc,
        10.0,
        tx,
    )
    .unwrap();
    let real = Utc::now();
    let tick = |app: &mut warroom::app::App, secs: i64| {
        app.handle(Event::Tick(real + Duration::seconds(secs)));
    };
    tick(&mut app, 0);
    assert_eq!(
        app.state.stages.current, None,
        "the start: nothing decided yet"
    );
    // Four real seconds at ×10: the journal's clock at 20:00:40, the 10 % stage begun.
    tick(&mut app, 4);
    assert_eq!(app.state.now, t0() + Duration::seconds(40));
    assert_eq!(app.state.stage_name(), "Canary 10%");
    let shown = screen(&app);
    assert!(shown.contains("REPLAY  20:00:40 · ×10"), "{shown}");
    assert!(
        app.state
            .comms
            .iter()
            .any(|c| c.who == "lin" && c.text.contains("DBA on the bridge"))
    );
    // The gauges are the flight recorder's, as the room saw them then.
    let err = app
        .state
        .rb
        .metrics
        .iter()
        .position(|m| m.id == "error-rate")
        .unwrap();
    assert_eq!(app.state.metrics[err].last_value.map(|v| v.0), Some(0.5));
    // Paused, the clock stands still; a step shows one record more and stays paused.
    app.handle(Event::Key(KeyEvent::new(
        KeyCode::Char(' '),
        KeyModifiers::NONE,
    )));
    tick(&mut app, 10);
    assert_eq!(app.state.now, t0() + Duration::seconds(40));
    assert!(screen(&app).contains("PAUSED"));
    let seq = app.state.seq;
    app.handle(Event::Key(KeyEvent::new(
        KeyCode::Char('.'),
        KeyModifiers::NONE,
    )));
    assert!(app.state.seq > seq || app.state.recorded.is_some());
    // On to the end: the rollback, the error rate the lead saw when deciding it.
    app.handle(Event::Key(KeyEvent::new(
        KeyCode::Char(' '),
        KeyModifiers::NONE,
    )));
    tick(&mut app, 11);
    tick(&mut app, 30);
    assert!(app.state.stages.rolled_back.is_some());
    assert_eq!(app.state.metrics[err].last_value.map(|v| v.0), Some(7.5));
    let shown = screen(&app);
    assert!(shown.contains("REPLAY  20:02:10 · END"), "{shown}");
    assert!(shown.contains("STAGE ROLLED BACK"), "{shown}");
    // The clock stops at the journal's last record: nothing is known after it.
    assert_eq!(app.state.now, run.journal.last().unwrap().at);
    // The action keys do nothing, and the journal is as it was.
    app.handle(Event::Key(KeyEvent::new(
        KeyCode::Char('a'),
        KeyModifiers::NONE,
    )));
    assert_eq!(app.state.ui.mode, Mode::Normal);
    assert_eq!(std::fs::read(&j).unwrap(), before);
}
