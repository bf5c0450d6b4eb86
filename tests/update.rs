//! Pure state transitions: keys in, state and effects out. No runtime, no terminal, no
//! cluster.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use warroom::canary::split;
use warroom::effect::{Effect, KubeOp};
use warroom::event::Event;
use warroom::journal::{Entry, Mark, Record};
use warroom::layout::Pane;
use warroom::runbook::{Lang, parse_runbook};
use warroom::state::cluster::{DeployView, PodView, RouteKind, RouteView, RsView, Snapshot};
use warroom::state::metrics::Reading;
use warroom::state::triggers::Verdict;
use warroom::state::{Driver, Mode, Proposal, Row, State};
use warroom::update::update;

pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T20:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Every gauge reads a fresh OK value and every trigger condition a fresh clear verdict,
/// at the state's clock: a healthy release, so that only what a test changes matters.
fn fresh(s: &mut State) {
    let at = s.now;
    for i in 0..s.rb.metrics.len() {
        let m = &s.rb.metrics[i];
        let value = match m.bad {
            warroom::runbook::Bad::Above => m.warn / 2.0,
            warroom::runbook::Bad::Below => m.warn.abs() * 1.001 + 1.0,
        };
        update(
            s,
            Event::Metric {
                index: i,
                at,
                reading: Reading::Value { value, at },
            },
        );
    }
    for t in 0..s.triggers.len() {
        for c in 0..s.triggers[t].conds.len() {
            update(
                s,
                Event::Trigger {
                    trigger: t,
                    cond: c,
                    at,
                    verdict: Verdict::Clear { value: 0.0 },
                },
            );
        }
    }
}

fn state() -> State {
    let mut s = bare();
    fresh(&mut s);
    s
}

/// The release of runbook `src` driven by this console (lin), its cluster at 10 stable
/// pods, before any gauge has answered.
fn driving(src: &str) -> State {
    let rb = parse_runbook(Path::new("runbook.yaml"), src).unwrap();
    let mut s = State::new(Arc::new(rb), "lin", t0());
    update(&mut s, Event::Cluster(cluster(10, 0)));
    update(
        &mut s,
        Event::Lease(Driver::Driving {
            lease: "default/warroom-erp-v1.0.0".into(),
            fence: "1-0000abcd".into(),
        }),
    );
    s
}

/// The demo release driven by this console, before any gauge has answered.
fn bare() -> State {
    driving(warroom::builtin::DEMO_RUNBOOK)
}

fn cluster(stable: u32, canary: u32) -> Snapshot {
    let d = |name: &str, n: u32, image: &str| DeployView {
        name: name.into(),
        desired: n,
        replicas: n,
        updated: n,
        ready: n,
        available: n,
        generation: 1,
        observed_generation: 1,
        revision: "1".into(),
        image: image.into(),
        ..Default::default()
    };
    Snapshot {
        deployments: vec![
            d("erp-backend", stable, "erp:v0.9.3"),
            d("erp-backend-canary", canary, "erp:v1.0.0"),
        ],
        replicasets: vec![
            RsView {
                name: "erp-backend-abc".into(),
                owner: "erp-backend".into(),
                revision: "1".into(),
                image: "erp:v0.9.3".into(),
                desired: stable,
                ready: stable,
                created: None,
            },
            RsView {
                name: "erp-backend-canary-def".into(),
                owner: "erp-backend-canary".into(),
                revision: "1".into(),
                image: "erp:v1.0.0".into(),
                desired: canary,
                ready: canary,
                created: None,
            },
        ],
        // Every pod ready, none restarted, started long ago.
        pods: (0..stable)
            .map(|i| ("erp-backend-abc", i))
            .chain((0..canary).map(|i| ("erp-backend-canary-def", i)))
            .map(|(rs, i)| PodView {
                name: format!("{rs}-{i}"),
                owner: rs.into(),
                ready_containers: 1,
                containers: 1,
                status: "Running".into(),
                restarts: 0,
                created: Some(t0() - Duration::hours(1)),
                message: None,
            })
            .collect(),
        routes: Vec::new(),
    }
}

fn key(s: &mut State, c: KeyCode) -> Vec<Effect> {
    update(s, Event::Key(KeyEvent::new(c, KeyModifiers::NONE)))
}

fn ch(s: &mut State, c: char) -> Vec<Effect> {
    key(s, KeyCode::Char(c))
}

fn select_item(s: &mut State, id: &str) {
    let i = s.checklist.index_of(id).unwrap();
    let phase = s.checklist.items[i].phase;
    s.checklist.collapsed[phase] = false;
    s.checklist.cursor = s
        .checklist
        .rows()
        .iter()
        .position(|r| *r == Row::Item(i))
        .unwrap();
    s.ui.focus = Pane::Checklist;
}

/// A sign-off asks whose it is: type `name` and Enter (nothing when no one is asked).
fn sign_as(s: &mut State, name: &str) -> Vec<Effect> {
    if !matches!(s.ui.mode, Mode::Signer { .. }) {
        return Vec::new();
    }
    for c in name.chars() {
        ch(s, c);
    }
    key(s, KeyCode::Enter)
}

fn tick_all_gating(s: &mut State, stage: &str) {
    let ids: Vec<String> = s
        .checklist
        .items
        .iter()
        .filter(|i| i.gates.as_deref() == Some(stage) && i.required)
        .map(|i| i.id.clone())
        .collect();
    for id in ids {
        let i = s.checklist.index_of(&id).unwrap();
        if s.checklist.marks[i].mark != Mark::Done {
            select_item(s, &id);
            ch(s, ' ');
            sign_as(s, "Zhang Wei");
        }
    }
    probes_pass(s);
}

/// Every probe the console sent (PromQL, a one-off read, HTTP) answers that all is well,
/// as a healthy cluster, Prometheus and service would.
fn probes_pass(s: &mut State) {
    let asked: Vec<usize> = (0..s.checklist.items.len())
        .filter(|&i| s.checklist.checks[i].asked.is_some())
        .collect();
    for item in asked {
        let at = s.now;
        update(
            s,
            Event::Probed {
                item,
                at,
                outcome: warroom::state::verify::Outcome::pass("answered by the test".into()),
            },
        );
    }
}

/// Tick what gates the 10% stage, confirm the advance, and have the API say yes.
fn advance_to_ten_percent(s: &mut State) {
    tick_all_gating(s, "canary-10");
    fresh(s);
    ch(s, 'a');
    let fx = ch(s, 'y');
    let Some(Effect::Kube { seq, .. }) = kube_fx(&fx) else {
        panic!(
            "the advance sends a kube effect: {fx:?} {:?} {:?}",
            s.ui.mode, s.ui.flash
        )
    };
    update(
        s,
        Event::Outcome {
            seq,
            ok: true,
            message: "ok".into(),
        },
    );
    // The cluster as the action left it.
    update(s, Event::Cluster(cluster(9, 1)));
}

/// A fresh reading of the gauge `id`, sampled at `at`.
fn reading(s: &mut State, id: &str, value: f64, at: DateTime<Utc>) -> Vec<Effect> {
    let index = s.rb.metrics.iter().position(|m| m.id == id).unwrap();
    update(
        s,
        Event::Metric {
            index,
            at,
            reading: Reading::Value { value, at },
        },
    )
}

/// Type `text` into the open confirmation's reason field, then press Enter.
fn reason(s: &mut State, text: &str) -> Vec<Effect> {
    for c in text.chars() {
        assert!(ch(s, c).is_empty(), "typing a reason does nothing yet");
    }
    key(s, KeyCode::Enter)
}

/// The change sent to the cluster, if any.
fn kube_fx(fx: &[Effect]) -> Option<Effect> {
    fx.iter()
        .find(|e| matches!(e, Effect::Kube { .. }))
        .cloned()
}

fn kube_ref(fx: &[Effect]) -> Option<&Effect> {
    fx.iter().find(|e| matches!(e, Effect::Kube { .. }))
}

/// The records journaled, but for the flight recorder's (its own tests look at those).
fn journaled(fx: &[Effect]) -> Vec<&Entry> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Journal(r) if !matches!(r.entry, Entry::Gauges { .. }) => Some(&r.entry),
            _ => None,
        })
        .collect()
}

#[test]
fn space_ticks_and_unticks_with_who_and_when() {
    let mut s = state();
    select_item(&mut s, "prep-baseline");
    let fx = ch(&mut s, ' ');
    assert_eq!(
        journaled(&fx),
        [&Entry::Mark {
            item: "prep-baseline".into(),
            mark: Mark::Done,
            signer: None,
        }]
    );
    let i = s.checklist.index_of("prep-baseline").unwrap();
    assert_eq!(s.checklist.marks[i].mark, Mark::Done);
    assert_eq!(s.checklist.marks[i].by.as_deref(), Some("lin"));
    assert_eq!(s.checklist.marks[i].at, Some(t0()));
    assert!(s.comms.last().unwrap().text.contains("✔"));
    ch(&mut s, ' ');
    assert_eq!(s.checklist.marks[i].mark, Mark::Todo);
    ch(&mut s, 's');
    assert_eq!(s.checklist.marks[i].mark, Mark::Skipped);
    ch(&mut s, 'x');
    assert_eq!(s.checklist.marks[i].mark, Mark::Failed);
}

#[test]
fn contacts_cannot_be_ticked() {
    let mut s = state();
    select_item(&mut s, "ct-on-call");
    let fx = ch(&mut s, ' ');
    assert!(fx.is_empty());
    assert!(s.ui.flash.as_deref().unwrap().contains("for reading"));
}

#[test]
fn advance_is_blocked_until_required_items_are_done() {
    let mut s = state();
    let fx = ch(&mut s, 'a');
    assert!(fx.is_empty(), "opening a confirmation does nothing yet");
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("a confirmation opens")
    };
    assert_eq!(
        c.title,
        "Shift traffic to 10%: scale erp-backend-canary to 1 and erp-backend to 9"
    );
    assert!(
        c.blockers.iter().any(|b| b.starts_with("not done: ")),
        "{:?}",
        c.blockers
    );
    // y does nothing while blocked
    let fx = ch(&mut s, 'y');
    assert!(fx.is_empty());
    assert!(matches!(s.ui.mode, Mode::Confirm(_)));
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.ui.mode, Mode::Normal);
}

#[test]
fn advance_journals_the_intent_before_the_kube_effect_and_waits_for_the_outcome() {
    let mut s = state();
    tick_all_gating(&mut s, "canary-10");
    ch(&mut s, 'a');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!()
    };
    assert!(c.blockers.is_empty(), "{:?}", c.blockers);
    let fx = key(&mut s, KeyCode::Enter);
    assert_eq!(fx.len(), 2);
    let Effect::Journal(rec) = &fx[0] else {
        panic!("journal first: {fx:?}")
    };
    assert!(matches!(&rec.entry, Entry::Advance { to, .. } if to == "canary-10"));
    let Some(Effect::Kube { seq, op, audit }) = kube_ref(&fx) else {
        panic!()
    };
    assert_eq!(*seq, rec.seq);
    assert_eq!(
        op,
        &KubeOp::Scale {
            targets: vec![("erp-backend-canary".into(), 1), ("erp-backend".into(), 9)],
        }
    );
    // who did it and why, for the Deployments' Events
    assert_eq!(audit.reason, "WarroomAdvance");
    assert_eq!(
        audit.message,
        "lin advanced ERP backend (demo) v1.0.0 to Canary 10% (10%): Shift traffic to 10%: scale erp-backend-canary to 1 and erp-backend to 9"
    );
    // not in force until the API says so
    assert_eq!(s.stages.current, None);
    assert!(s.stage_name().contains("waiting for the API"));
    update(
        &mut s,
        Event::Outcome {
            seq: *seq,
            ok: true,
            message: "scaled".into(),
        },
    );
    assert_eq!(s.stages.current, Some(0));
    assert_eq!(s.stage_name(), "Canary 10%");
}

#[test]
fn a_failed_action_is_logged_and_changes_no_stage() {
    let mut s = state();
    tick_all_gating(&mut s, "canary-10");
    ch(&mut s, 'a');
    let fx = ch(&mut s, 'y');
    let Some(Effect::Kube { seq, .. }) = kube_fx(&fx) else {
        panic!()
    };
    let fx = update(
        &mut s,
        Event::Outcome {
            seq,
            ok: false,
            message: "forbidden (403): no".into(),
        },
    );
    assert!(matches!(
        journaled(&fx)[0],
        Entry::Outcome { ok: false, .. }
    ));
    assert_eq!(s.stages.current, None);
    assert!(s.stages.pending.is_none());
    assert!(
        s.comms
            .last()
            .unwrap()
            .text
            .contains("FAILED: forbidden (403)")
    );
}

#[test]
fn hold_time_blocks_the_next_stage_until_served() {
    let mut s = state();
    advance_to_ten_percent(&mut s);
    update(&mut s, Event::Cluster(cluster(9, 1)));
    tick_all_gating(&mut s, "full");
    ch(&mut s, 'a');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!()
    };
    assert!(
        c.blockers
            .iter()
            .any(|b| b.contains("holds for 1m0s") || b.contains("holds for 1m")),
        "{:?}",
        c.blockers
    );
    key(&mut s, KeyCode::Esc);
    update(&mut s, Event::Tick(t0() + Duration::seconds(61)));
    ch(&mut s, 'a');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!()
    };
    assert!(c.blockers.is_empty(), "{:?}", c.blockers);
    assert!(
        c.title
            .starts_with("Promote to 100%: roll erp-backend to erp:v1.0.0"),
        "{}",
        c.title
    );
    assert!(matches!(
        &c.proposal,
        Proposal::Advance {
            op: KubeOp::Promote { replicas: 10, .. },
            ..
        }
    ));
}

#[test]
fn rollback_at_a_canary_stage_sends_all_traffic_to_stable() {
    let mut s = state();
    advance_to_ten_percent(&mut s);
    ch(&mut s, 'R');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!()
    };
    assert_eq!(
        c.title,
        "Roll back: scale erp-backend-canary to 0 and erp-backend to 10"
    );
    assert!(
        key(&mut s, KeyCode::Enter).is_empty(),
        "a rollback asks why before it acts"
    );
    let fx = reason(&mut s, "yes, errors");
    assert!(matches!(journaled(&fx)[0], Entry::Rollback { .. }));
    let Some(Effect::Kube { seq, op, .. }) = kube_ref(&fx) else {
        panic!()
    };
    assert_eq!(
        op,
        &KubeOp::Scale {
            targets: vec![("erp-backend".into(), 10), ("erp-backend-canary".into(), 0)],
        }
    );
    update(
        &mut s,
        Event::Outcome {
            seq: *seq,
            ok: true,
            message: "ok".into(),
        },
    );
    assert_eq!(s.stage_name(), "ROLLED BACK");
    assert_eq!(s.stages.current, None);
}

#[test]
fn rollback_after_promotion_is_an_undo() {
    let mut s = state();
    s.stages.promoted = true;
    s.cluster.snap.replicasets.push(RsView {
        name: "erp-backend-new".into(),
        owner: "erp-backend".into(),
        revision: "2".into(),
        image: "erp:v1.0.0".into(),
        desired: 10,
        ready: 10,
        created: None,
    });
    ch(&mut s, 'R');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!()
    };
    assert_eq!(
        c.title,
        "Roll back erp-backend to revision 1 (erp:v0.9.3), as kubectl rollout undo does"
    );
    assert!(
        matches!(&c.proposal, Proposal::Rollback { op: KubeOp::Undo { deployment, .. } } if deployment == "erp-backend")
    );
}

/// Rolled back before the promotion retired the canary: the canary still serves the new
/// version beside the stable pods, so it goes to 0 first, then the undo.
#[test]
fn a_rollback_before_the_canary_is_retired_stops_the_canary_too() {
    let mut s = state();
    s.stages.promoted = true;
    update(&mut s, Event::Cluster(cluster(10, 3)));
    s.cluster.snap.replicasets.push(RsView {
        name: "erp-backend-new".into(),
        owner: "erp-backend".into(),
        revision: "2".into(),
        image: "erp:v1.0.0".into(),
        desired: 10,
        ready: 10,
        created: None,
    });
    ch(&mut s, 'R');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("{:?}", s.ui.flash)
    };
    assert_eq!(
        c.plan[0],
        "erp-backend-canary still runs 3 pods of the new version (the promotion had not retired it yet): it goes to 0 first."
    );
    let Proposal::Rollback { op } = &c.proposal else {
        panic!()
    };
    assert_eq!(
        op,
        &KubeOp::Steps(vec![
            KubeOp::Scale {
                targets: vec![("erp-backend-canary".into(), 0)],
            },
            KubeOp::Undo {
                deployment: "erp-backend".into(),
            },
        ])
    );
}

#[test]
fn nothing_to_roll_back_before_the_canary_has_pods() {
    let mut s = state();
    let fx = ch(&mut s, 'R');
    assert!(fx.is_empty());
    assert_eq!(s.ui.mode, Mode::Normal);
    assert!(
        s.ui.flash
            .as_deref()
            .unwrap()
            .starts_with("nothing to roll back")
    );
}

#[test]
fn pause_confirms_then_journals() {
    let mut s = state();
    ch(&mut s, 'p');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!()
    };
    assert!(c.title.starts_with(
        "Pause the rollout: set spec.paused=true on erp-backend and erp-backend-canary"
    ));
    let fx = ch(&mut s, 'n');
    assert!(fx.is_empty(), "n cancels and does nothing");
    ch(&mut s, 'p');
    let fx = ch(&mut s, 'y');
    assert!(matches!(
        journaled(&fx)[0],
        Entry::Pause { paused: true, .. }
    ));
}

#[test]
fn notes_are_typed_and_logged() {
    let mut s = state();
    ch(&mut s, 'n');
    for c in "DBA: 备份完成".chars() {
        ch(&mut s, c);
    }
    key(&mut s, KeyCode::Backspace);
    update(&mut s, Event::Paste("成\x1b[2J".into()));
    let fx = key(&mut s, KeyCode::Enter);
    assert_eq!(
        journaled(&fx),
        [&Entry::Note {
            text: "DBA: 备份完成\u{FFFD}[2J".into()
        }]
    );
    assert_eq!(s.comms.last().unwrap().who, "lin");
    // keys typed into a note are text, not commands
    ch(&mut s, 'n');
    let fx = ch(&mut s, 'q');
    assert!(fx.is_empty() && !s.ui.quit);
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.ui.mode, Mode::Normal);
}

#[test]
fn quitting_mid_stage_asks_first() {
    let mut s = state();
    let fx = ch(&mut s, 'q');
    assert_eq!(
        fx.last(),
        Some(&Effect::Quit),
        "nothing in progress: quit at once"
    );
    // and the journal records that the session ended, by whom
    let Effect::Journal(rec) = &fx[0] else {
        panic!("{fx:?}")
    };
    assert_eq!(rec.who, "lin");
    assert!(
        matches!(&rec.entry, Entry::System { text, .. } if text == "closed the console at preparation"),
        "{rec:?}"
    );
    let mut s = state();
    advance_to_ten_percent(&mut s);
    let fx = ch(&mut s, 'q');
    assert!(fx.is_empty());
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!()
    };
    assert_eq!(c.proposal, Proposal::Quit);
    assert!(
        c.plan[0].starts_with("The cluster stays exactly as it is"),
        "{:?}",
        c.plan
    );
    let fx = ch(&mut s, 'y');
    assert_eq!(fx.len(), 2);
    assert_eq!(fx[1], Effect::Quit);
    // In the demo the cluster is the simulator, which ends with the console: the dialog
    // does not promise it stays.
    let mut s = state();
    s.simulated = true;
    advance_to_ten_percent(&mut s);
    ch(&mut s, 'q');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!()
    };
    assert!(
        c.plan[0].starts_with("This is the demo: the simulated cluster ends with the console"),
        "{:?}",
        c.plan
    );
    assert!(!c.plan.iter().any(|l| l.contains("stays")), "{:?}", c.plan);
}

#[test]
fn thresholds_crossed_are_logged_once_with_the_numbers() {
    let mut s = state();
    let i =
        s.rb.metrics
            .iter()
            .position(|m| m.id == "canary-error-rate")
            .unwrap();
    let at = t0();
    let fx = update(
        &mut s,
        Event::Metric {
            index: i,
            at,
            reading: Reading::Value { value: 6.02, at },
        },
    );
    let e = journaled(&fx);
    assert_eq!(e.len(), 1);
    let Entry::System { text, .. } = e[0] else {
        panic!()
    };
    assert!(
        text.contains("CRITICAL at 6.02 %") && text.contains("critical threshold 5.00 %"),
        "{text}"
    );
    let fx = update(
        &mut s,
        Event::Metric {
            index: i,
            at,
            reading: Reading::Value { value: 6.5, at },
        },
    );
    assert!(fx.is_empty(), "still critical: not logged again");
    // no data is not zero, and not OK
    let fx = update(
        &mut s,
        Event::Metric {
            index: i,
            at,
            reading: Reading::NoData,
        },
    );
    assert!(matches!(journaled(&fx)[0], Entry::System { text, .. } if text.contains("no data")));
}

#[test]
fn a_value_goes_stale_when_no_fresh_sample_comes() {
    let mut s = state();
    let at = t0();
    update(
        &mut s,
        Event::Metric {
            index: 0,
            at,
            reading: Reading::Value { value: 0.2, at },
        },
    );
    assert_eq!(
        warroom::ui::header::health(&s),
        warroom::state::metrics::Level::Ok
    );
    let later = at + Duration::seconds(s.stale_after + 1);
    update(&mut s, Event::Tick(later));
    // every gauge but the first answers again
    let first = s.metrics[0].clone();
    fresh(&mut s);
    s.metrics[0] = first;
    update(&mut s, Event::Tick(later));
    assert!(s.metrics[0].is_stale(s.now, s.stale_after));
    assert_eq!(
        warroom::ui::header::health(&s),
        warroom::state::metrics::Level::Unknown
    );
    assert!(
        warroom::ui::header::freshness(&s)
            .0
            .starts_with("STALE: 1 gauges")
    );
    // A gauge last seen CRITICAL that then goes quiet keeps HEALTH at CRITICAL: losing
    // the data does not clear the alarm.
    let crit = s.rb.metrics[0].critical + 1.0;
    let at = later;
    update(
        &mut s,
        Event::Metric {
            index: 0,
            at,
            reading: Reading::Value { value: crit, at },
        },
    );
    assert_eq!(
        warroom::ui::header::health(&s),
        warroom::state::metrics::Level::Critical
    );
    let gone = at + Duration::seconds(s.stale_after + 1);
    update(
        &mut s,
        Event::Metric {
            index: 0,
            at: gone,
            reading: Reading::Error("cannot reach Prometheus".into()),
        },
    );
    update(&mut s, Event::Tick(gone));
    assert!(s.metrics[0].is_stale(s.now, s.stale_after));
    assert_eq!(
        warroom::ui::header::health(&s),
        warroom::state::metrics::Level::Critical
    );
}

#[test]
fn the_split_shows_its_rounding() {
    assert_eq!(split(10, 10, Lang::En), (1, 9, None));
    let (c, s, note) = split(4, 10, Lang::En);
    assert_eq!((c, s), (1, 3));
    assert!(
        note.unwrap()
            .contains("10% of 4 replicas is 0.4; rounded to 1 canary")
    );
    // The same rounding, said to a Chinese team.
    let (_, _, note) = split(4, 10, Lang::Zh);
    assert_eq!(
        note.as_deref(),
        Some("10% × 4 个副本 = 0.4；取整为 1 个灰度副本，灰度版占 Pod 的 25%")
    );
    assert_eq!(split(10, 100, Lang::En).0, 10);
}

#[test]
fn a_quiet_start_logs_only_what_is_bad() {
    let mut s = bare();
    let at = t0();
    let err =
        s.rb.metrics
            .iter()
            .position(|m| m.id == "error-rate")
            .unwrap();
    let orders = s.rb.metrics.iter().position(|m| m.id == "orders").unwrap();
    let mut logged = Vec::new();
    logged.extend(update(
        &mut s,
        Event::Metric {
            index: err,
            at,
            reading: Reading::NoData,
        },
    ));
    logged.extend(update(
        &mut s,
        Event::Metric {
            index: err,
            at,
            reading: Reading::Value { value: 0.2, at },
        },
    ));
    assert!(
        logged.is_empty(),
        "no data at start, then a good value: nothing to announce"
    );
    let fx = update(
        &mut s,
        Event::Metric {
            index: orders,
            at,
            reading: Reading::Error("cannot reach Prometheus".into()),
        },
    );
    assert!(
        matches!(journaled(&fx)[..], [Entry::System { text, .. }] if text.contains("query failed: cannot reach Prometheus"))
    );
    // after a good value, losing the data is news
    let fx = update(
        &mut s,
        Event::Metric {
            index: err,
            at,
            reading: Reading::NoData,
        },
    );
    assert_eq!(journaled(&fx).len(), 1);
}

#[test]
fn a_quiet_second_redraws_nothing() {
    let mut s = bare();
    s.ui.dirty = false;
    update(&mut s, Event::Tick(t0() + Duration::seconds(1)));
    assert!(
        !s.ui.dirty,
        "the header clock shows minutes: nothing visible changed"
    );
    update(&mut s, Event::Tick(t0() + Duration::seconds(60)));
    assert!(s.ui.dirty, "a new minute shows");
    // An answer shows only if its value or its sparkline changes. The sparkline spans
    // the gauge's window; it moves until the whole window holds one value.
    let points = warroom::state::metrics::window_points(&s.rb, &s.rb.metrics[0]);
    assert!(points > 10, "{points}");
    let start = s.now;
    let answer = |s: &mut State, k: usize, value: f64| {
        let at = start + Duration::seconds(2 * k as i64);
        s.ui.dirty = false;
        update(
            s,
            Event::Metric {
                index: 0,
                at,
                reading: Reading::Value { value, at },
            },
        );
        s.ui.dirty
    };
    assert!(answer(&mut s, 0, 0.3));
    for k in 1..=points {
        assert!(
            answer(&mut s, k, 0.2),
            "answer {k}: the sparkline still shows 0.3 or is still filling its {points} points"
        );
    }
    assert!(
        !answer(&mut s, points + 1, 0.2),
        "the window holds 0.2 alone: the same value again changes nothing on screen"
    );
    assert!(!answer(&mut s, points + 2, 0.2));
    assert!(answer(&mut s, points + 3, 0.3), "a new value shows");
}

#[test]
fn a_read_only_console_refuses_every_action_key_and_says_why() {
    let mut s = state();
    tick_all_gating(&mut s, "canary-10");
    update(
        &mut s,
        Event::Lease(Driver::ReadOnly {
            why: "alice@bastion-1 (pid 7) drives this release".into(),
            holder: Some("alice@bastion-1 (pid 7)".into()),
        }),
    );
    for c in ['a', 'R', 'p'] {
        let fx = ch(&mut s, c);
        assert!(fx.is_empty(), "{c}: nothing journaled, nothing sent");
        assert_eq!(s.ui.mode, Mode::Normal, "{c}: no confirmation opens");
        let flash = s.ui.flash.clone().unwrap_or_default();
        assert!(
            flash.contains("read-only") && flash.contains("alice@bastion-1"),
            "{c}: {flash}"
        );
        assert!(flash.contains("nothing was done"), "{flash}");
    }
    // The change of driver is in the log, once.
    let said: Vec<_> = s
        .comms
        .iter()
        .filter(|c| c.text.contains("read-only"))
        .collect();
    assert_eq!(said.len(), 1);
    // It follows the driver now: no tick of its own either, only the driver's story.
    select_item(&mut s, "prep-db-backup");
    assert!(ch(&mut s, ' ').is_empty());
    assert!(s.follow.as_ref().is_some_and(|f| f.from_cluster));
}

#[test]
fn no_action_before_the_lease_is_held_nor_after_it_is_lost() {
    let rb = parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK).unwrap();
    let mut s = State::new(Arc::new(rb), "lin", t0());
    update(&mut s, Event::Cluster(cluster(10, 0)));
    tick_all_gating(&mut s, "canary-10");
    assert!(ch(&mut s, 'a').is_empty());
    assert!(
        s.ui.flash
            .as_deref()
            .is_some_and(|f| f.contains("claiming the release's Lease")),
        "{:?}",
        s.ui.flash
    );
    update(
        &mut s,
        Event::Lease(Driver::Driving {
            lease: "default/warroom-x".into(),
            fence: "1-0000abcd".into(),
        }),
    );
    ch(&mut s, 'a');
    assert!(matches!(s.ui.mode, Mode::Confirm(_)));
    // The Lease is lost while the confirmation is open: y must not act.
    update(&mut s, Event::Lease(Driver::Claiming));
    let fx = ch(&mut s, 'y');
    assert!(fx.is_empty());
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("the confirmation stays open, blocked")
    };
    assert!(
        c.blockers.iter().any(|b| b.contains("Lease")),
        "{:?}",
        c.blockers
    );
}

#[test]
fn a_rollback_records_who_and_the_evidence_for_the_cluster_events() {
    let mut s = state();
    advance_to_ten_percent(&mut s);
    let at = s.now;
    reading(&mut s, "canary-error-rate", 6.02, at);
    ch(&mut s, 'R');
    let fx = reason(&mut s, "canary errors");
    let Entry::Rollback {
        reason, trigger, ..
    } = journaled(&fx)[0]
    else {
        panic!()
    };
    assert_eq!(trigger.as_deref(), Some("manual"));
    assert!(
        reason.starts_with("Manual rollback: business functions failing")
            && reason.contains("lin: “canary errors”"),
        "{reason}"
    );
    assert!(
        reason.contains("CRITICAL") && reason.contains("6.02"),
        "{reason}"
    );
    let Some(Effect::Kube { audit, .. }) = kube_ref(&fx) else {
        panic!()
    };
    assert_eq!(audit.reason, "WarroomRollback");
    assert!(audit.message.contains(reason.as_str()), "{}", audit.message);
}

/// The demo runbook with the Gateway API strategy, and a cluster whose HTTPRoute sends
/// everything to stable while the canary runs 2 pods.
fn gateway_state() -> State {
    let text = warroom::builtin::DEMO_RUNBOOK.replace(
        "traffic: {strategy: replica-ratio, replicas: 10}",
        "traffic: {strategy: gateway-api}",
    );
    let rb = parse_runbook(Path::new("demo-gateway.yaml"), &text).unwrap();
    let mut s = State::new(Arc::new(rb), "lin", t0());
    let mut snap = cluster(10, 2);
    snap.routes = vec![RouteView {
        kind: RouteKind::HttpRoute,
        name: "erp-backend".into(),
        backends: vec![
            ("erp-backend".into(), 100),
            ("erp-backend-canary".into(), 0),
        ],
    }];
    update(&mut s, Event::Cluster(snap));
    update(
        &mut s,
        Event::Lease(Driver::Driving {
            lease: "default/warroom".into(),
            fence: "1-0000abcd".into(),
        }),
    );
    fresh(&mut s);
    s
}

#[test]
fn gateway_stages_set_route_weights_and_grow_the_canary_for_its_share() {
    let mut s = gateway_state();
    tick_all_gating(&mut s, "canary-10");
    ch(&mut s, 'a');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("{:?}", s.ui.flash)
    };
    assert_eq!(
        c.title,
        "Shift traffic to 10%: HTTPRoute erp-backend weights erp-backend=90, erp-backend-canary=10"
    );
    assert!(c.blockers.is_empty(), "{:?}", c.blockers);
    assert!(
        c.plan
            .iter()
            .any(|l| l
                .contains("HTTPRoute erp-backend weights erp-backend=100, erp-backend-canary=0")),
        "the confirmation shows the weights now: {:?}",
        c.plan
    );
    let fx = ch(&mut s, 'y');
    let Some(Effect::Kube { seq, op, .. }) = kube_ref(&fx) else {
        panic!()
    };
    // 10% of 10 stable pods is 1; the canary already has 2: no scaling.
    assert_eq!(
        op,
        &KubeOp::Weights {
            kind: RouteKind::HttpRoute,
            route: "erp-backend".into(),
            weights: vec![
                ("erp-backend".into(), 90),
                ("erp-backend-canary".into(), 10)
            ],
            canary: "erp-backend-canary".into(),
            canary_replicas: None,
            deployments: vec!["erp-backend-canary".into(), "erp-backend".into()],
        }
    );
    update(
        &mut s,
        Event::Outcome {
            seq: *seq,
            ok: true,
            message: "ok".into(),
        },
    );
    // Past the hold, the 100% stage sends everything to the canary, scaled to carry it.
    s.now += Duration::minutes(2);
    tick_all_gating(&mut s, "full");
    ch(&mut s, 'a');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("{:?}", s.ui.flash)
    };
    assert_eq!(
        c.title,
        "Send all traffic to the canary: HTTPRoute erp-backend weights erp-backend=0, erp-backend-canary=100"
    );
    assert!(
        c.plan
            .iter()
            .any(|l| l.contains("scale erp-backend-canary from 2 to 10")),
        "{:?}",
        c.plan
    );
    let Proposal::Advance {
        op: KubeOp::Weights {
            canary_replicas, ..
        },
        ..
    } = &c.proposal
    else {
        panic!()
    };
    assert_eq!(*canary_replicas, Some(10));
}

#[test]
fn gateway_rollback_flips_the_weights_back_at_once() {
    let mut s = gateway_state();
    tick_all_gating(&mut s, "canary-10");
    ch(&mut s, 'a');
    let fx = ch(&mut s, 'y');
    let Some(Effect::Kube { seq, .. }) = kube_fx(&fx) else {
        panic!()
    };
    update(
        &mut s,
        Event::Outcome {
            seq,
            ok: true,
            message: "ok".into(),
        },
    );
    ch(&mut s, 'R');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("{:?}", s.ui.flash)
    };
    assert_eq!(
        c.title,
        "Roll back: HTTPRoute erp-backend sends all traffic to erp-backend (erp-backend=100, erp-backend-canary=0)"
    );
    let Proposal::Rollback {
        op:
            KubeOp::Weights {
                weights,
                canary_replicas,
                ..
            },
    } = &c.proposal
    else {
        panic!()
    };
    assert_eq!(
        weights,
        &vec![
            ("erp-backend".to_string(), 100),
            ("erp-backend-canary".to_string(), 0)
        ]
    );
    assert_eq!(*canary_replicas, None, "a rollback never scales");
}

#[test]
fn gateway_advance_waits_for_the_route_and_ready_canary_pods() {
    let mut s = gateway_state();
    let mut snap = cluster(10, 0);
    snap.routes.clear();
    update(&mut s, Event::Cluster(snap));
    tick_all_gating(&mut s, "canary-10");
    ch(&mut s, 'a');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!()
    };
    assert!(
        c.blockers
            .iter()
            .any(|b| b == "HTTPRoute erp-backend has not been seen in the cluster"),
        "{:?}",
        c.blockers
    );
    assert!(
        c.blockers
            .iter()
            .any(|b| b.starts_with("erp-backend-canary has no ready pods")),
        "{:?}",
        c.blockers
    );
    assert!(ch(&mut s, 'y').is_empty());
}

/// A verdict for condition `cond` of the trigger `id`, judged for the step at `at`.
fn judged(s: &mut State, id: &str, cond: usize, at: DateTime<Utc>, v: Verdict) -> Vec<Effect> {
    let trigger =
        s.rb.rollback_triggers
            .iter()
            .position(|t| t.id == id)
            .unwrap();
    update(
        s,
        Event::Trigger {
            trigger,
            cond,
            at,
            verdict: v,
        },
    )
}

fn said(fx: &[Effect]) -> Vec<String> {
    journaled(fx)
        .into_iter()
        .filter_map(|e| match e {
            Entry::System { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// The canary stage in force for two minutes, every gauge fresh.
fn ten_percent_for_two_minutes(s: &mut State) {
    advance_to_ten_percent(s);
    s.now += Duration::seconds(120);
    fresh(s);
}

/// The canary at 10%, its error rate past 5% in Prometheus' history since `since`.
fn canary_erring_since(s: &mut State, since: DateTime<Utc>) -> Vec<Effect> {
    let at = s.now;
    judged(
        s,
        "auto-canary",
        0,
        at,
        Verdict::Holds { since, value: 6.0 },
    )
}

#[test]
fn a_trigger_met_in_prometheus_history_counts_down_then_rolls_back_by_itself() {
    let mut s = state();
    ten_percent_for_two_minutes(&mut s);
    let start = s.now;
    // 40 s of errors: not yet met; the header shows how far along it is.
    let fx = canary_erring_since(&mut s, start - Duration::seconds(40));
    assert!(s.triggers[0].met.is_none(), "{:?}", said(&fx));
    assert_eq!(
        warroom::ui::header::trigger_progress(&s).as_deref(),
        Some("▲ canary Error rate by track 6.00 % > 5.00 % for 40s of 1m")
    );
    s.lang = Lang::Zh;
    assert_eq!(
        warroom::ui::header::trigger_progress(&s).as_deref(),
        Some("▲ canary Error rate by track 6.00 % > 5.00 % 已持续 40s/1m")
    );
    s.lang = Lang::En;
    // The history says it has held for 1m since 20 s ago: met then, rollback 30 s later.
    let fx = canary_erring_since(&mut s, start - Duration::seconds(80));
    let met_at = start - Duration::seconds(20);
    assert_eq!(s.triggers[0].met.as_ref().map(|m| m.at), Some(met_at));
    let text = said(&fx);
    assert_eq!(text.len(), 1, "{text:?}");
    assert!(
        text[0].starts_with("ROLLBACK TRIGGER MET: Automatic rollback at 10%")
            && text[0].contains("Error rate by track canary 6.00 % > 5.00 % for 1m")
            && text[0].contains("rolls back at"),
        "{}",
        text[0]
    );
    let (_, deadline) = warroom::update::countdown_running(&s).unwrap();
    assert_eq!(deadline, met_at + Duration::seconds(30));
    // The clock runs; nothing happens before the deadline, and no key is pressed.
    let fx = update(&mut s, Event::Tick(deadline - Duration::seconds(1)));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Kube { .. })));
    let fx = update(&mut s, Event::Tick(deadline));
    let Entry::Rollback {
        reason, trigger, ..
    } = journaled(&fx)[0]
    else {
        panic!("{fx:?}")
    };
    assert_eq!(trigger.as_deref(), Some("auto-canary"));
    assert!(
        reason.contains("6.00 % > 5.00 % for 1m") && reason.contains("countdown ran out"),
        "{reason}"
    );
    let Some(Effect::Kube { op, audit, .. }) = kube_ref(&fx) else {
        panic!("the intent is journaled before the rollback is sent: {fx:?}")
    };
    assert_eq!(
        op,
        &KubeOp::Scale {
            targets: vec![("erp-backend".into(), 10), ("erp-backend-canary".into(), 0)],
        }
    );
    assert!(audit.message.contains("auto-canary"), "{}", audit.message);
    // Sent once: the next second sends nothing more.
    let fx = update(&mut s, Event::Tick(deadline + Duration::seconds(1)));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Kube { .. })));
}

#[test]
fn a_restarted_or_second_console_reaches_the_same_deadline() {
    let mut a = state();
    ten_percent_for_two_minutes(&mut a);
    let mut b = state();
    ten_percent_for_two_minutes(&mut b);
    // b starts 50 s later; both read the same history from Prometheus.
    let since = a.now - Duration::seconds(70);
    canary_erring_since(&mut a, since);
    b.now += Duration::seconds(5);
    canary_erring_since(&mut b, since);
    assert_eq!(
        warroom::update::countdown_running(&a).map(|x| x.1),
        warroom::update::countdown_running(&b).map(|x| x.1)
    );
}

#[test]
fn a_met_trigger_stays_met_while_its_data_is_lost_and_clears_only_on_fresh_data() {
    let mut s = state();
    ten_percent_for_two_minutes(&mut s);
    let t = s.now;
    canary_erring_since(&mut s, t - Duration::seconds(61));
    assert!(s.triggers[0].met.is_some());
    // Prometheus stops answering.
    s.now = t + Duration::seconds(20);
    let lost = s.now;
    let fx = judged(
        &mut s,
        "auto-canary",
        0,
        lost,
        Verdict::Unknown {
            why: "the query fails: cannot reach Prometheus".into(),
        },
    );
    let m = s.triggers[0].met.clone().expect("still met");
    // The other condition's last fresh verdict was at t: nothing is known since then.
    assert_eq!(m.data_lost, Some(t));
    assert!(
        said(&fx)
            .iter()
            .any(|t| t
                .starts_with("rollback trigger still counts as met, but its data is lost since")),
        "{:?}",
        said(&fx)
    );
    // The clock alone clears nothing.
    for i in 1..9 {
        let fx = update(&mut s, Event::Tick(lost + Duration::seconds(i)));
        assert!(
            !said(&fx).iter().any(|t| t.contains("no longer holds")),
            "{:?}",
            said(&fx)
        );
    }
    assert!(s.triggers[0].met.is_some());
    // Advancing stays blocked, with the data loss said.
    tick_all_gating(&mut s, "full");
    ch(&mut s, 'a');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("{:?}", s.ui.flash)
    };
    assert!(
        c.blockers.iter().any(
            |b| b.starts_with("rollback trigger met: Automatic rollback at 10%")
                && b.contains("data lost since")
        ),
        "{:?}",
        c.blockers
    );
    assert!(ch(&mut s, 'y').is_empty());
    ch(&mut s, 'n');
    // Lost data does not stop the countdown: at its end the rollback goes out.
    let mut dark = s.clone();
    let (_, deadline) = warroom::update::countdown_running(&dark).unwrap();
    let fx = update(&mut dark, Event::Tick(deadline));
    assert!(
        matches!(journaled(&fx)[..], [Entry::Rollback { .. }, ..]),
        "{fx:?}"
    );
    // Fresh data shows every condition clear: now it clears, and says so.
    let at = s.now;
    judged(&mut s, "auto-canary", 0, at, Verdict::Clear { value: 0.3 });
    assert!(
        s.triggers[0].met.is_some(),
        "one condition clear is not all"
    );
    let fx = judged(&mut s, "auto-canary", 1, at, Verdict::Clear { value: 0.4 });
    assert!(s.triggers[0].met.is_none());
    assert!(
        said(&fx)
            .iter()
            .any(|t| t.starts_with("rollback trigger no longer holds")),
        "{:?}",
        said(&fx)
    );
}

#[test]
fn the_lead_cancels_a_countdown_with_a_reason_and_a_new_episode_counts_again() {
    let mut s = state();
    ten_percent_for_two_minutes(&mut s);
    let t = s.now;
    canary_erring_since(&mut s, t - Duration::seconds(60));
    assert!(warroom::update::countdown_running(&s).is_some());
    ch(&mut s, 'c');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("{:?}", s.ui.flash)
    };
    assert!(c.title.starts_with("Cancel the automatic rollback due at"));
    assert!(
        key(&mut s, KeyCode::Enter).is_empty(),
        "a reason is required"
    );
    let fx = reason(&mut s, "errors are a known probe");
    assert!(matches!(
        journaled(&fx)[0],
        Entry::Cancel { trigger, reason } if trigger == "auto-canary" && reason == "errors are a known probe"
    ));
    assert!(warroom::update::countdown_running(&s).is_none());
    let fx = update(&mut s, Event::Tick(t + Duration::seconds(60)));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Kube { .. })));
    // Still met: still blocks advancing, and R still rolls back.
    assert!(s.triggers[0].met.is_some());
    // It clears, then errs again: a new episode counts down again.
    let at = s.now;
    judged(&mut s, "auto-canary", 0, at, Verdict::Clear { value: 0.2 });
    judged(&mut s, "auto-canary", 1, at, Verdict::Clear { value: 0.2 });
    assert!(s.triggers[0].met.is_none());
    s.now = at + Duration::seconds(90);
    canary_erring_since(&mut s, at + Duration::seconds(10));
    assert!(warroom::update::countdown_running(&s).is_some());
}

#[test]
fn a_read_only_console_shows_the_countdown_but_never_acts() {
    let mut s = state();
    ten_percent_for_two_minutes(&mut s);
    update(
        &mut s,
        Event::Lease(Driver::ReadOnly {
            why: "lin@bastion drives this release".into(),
            holder: Some("lin@bastion".into()),
        }),
    );
    let t = s.now;
    canary_erring_since(&mut s, t - Duration::seconds(60));
    let (_, deadline) = warroom::update::countdown_running(&s).unwrap();
    for i in 0..60 {
        let fx = update(&mut s, Event::Tick(deadline + Duration::seconds(i)));
        assert!(!fx.iter().any(|e| matches!(
            e,
            Effect::Kube { .. }
                | Effect::Journal(Record {
                    entry: Entry::Rollback { .. },
                    ..
                })
        )));
    }
    let screen = render(&s, 120, 40);
    assert!(screen.contains("AUTO ROLLBACK NOW"), "{screen}");
    assert!(screen.contains("the driving console acts"), "{screen}");
}

#[test]
fn a_trigger_outside_its_stages_is_not_armed() {
    let mut s = state();
    // preparation: nothing runs that the canary trigger protects
    let at = s.now;
    judged(
        &mut s,
        "auto-canary",
        0,
        at,
        Verdict::Holds {
            since: at - Duration::seconds(300),
            value: 9.0,
        },
    );
    assert!(s.triggers[0].met.is_none());
    assert!(warroom::update::countdown_running(&s).is_none());
}

#[test]
fn an_unknown_gauge_blocks_advancing_until_overridden_with_a_reason() {
    let mut s = state();
    tick_all_gating(&mut s, "canary-10");
    let orders = s.rb.metrics.iter().position(|m| m.id == "orders").unwrap();
    let at = s.now;
    update(
        &mut s,
        Event::Metric {
            index: orders,
            at,
            reading: Reading::Error("cannot reach Prometheus at http://127.0.0.1:9/".into()),
        },
    );
    assert_eq!(
        warroom::ui::header::health(&s),
        warroom::state::metrics::Level::Unknown,
        "a gauge without fresh data is not OK"
    );
    ch(&mut s, 'a');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("{:?}", s.ui.flash)
    };
    assert!(c.blockers.is_empty(), "{:?}", c.blockers);
    assert!(
        c.unknown.iter().any(|u| u
            .starts_with("Orders: the query fails, no fresh value since 20:00:00")
            && u.contains("cannot reach Prometheus")),
        "{:?}",
        c.unknown
    );
    assert!(ch(&mut s, 'y').is_empty(), "unknown blocks like CRITICAL");
    assert!(
        s.ui.flash
            .as_deref()
            .unwrap()
            .starts_with("health is unknown")
    );
    ch(&mut s, 'o');
    assert!(
        key(&mut s, KeyCode::Enter).is_empty(),
        "an override needs a reason"
    );
    let fx = reason(&mut s, "orders exporter is down, checked by hand");
    let Entry::Advance {
        overridden,
        override_reason,
        ..
    } = journaled(&fx)[0]
    else {
        panic!("{fx:?}")
    };
    assert_eq!(overridden.len(), 1);
    assert!(overridden[0].starts_with("Orders"));
    assert_eq!(
        override_reason.as_deref(),
        Some("orders exporter is down, checked by hand")
    );
    let Some(Effect::Kube { audit, .. }) = kube_ref(&fx) else {
        panic!()
    };
    assert!(
        audit.message.contains("OVERRIDE of unknown health")
            && audit.message.contains("orders exporter is down"),
        "{}",
        audit.message
    );
    assert!(
        s.comms
            .last()
            .unwrap()
            .text
            .starts_with("OVERRIDE of unknown health"),
        "{:?}",
        s.comms.last()
    );
}

#[test]
fn confirming_plans_again_and_refuses_what_changed_while_the_dialog_was_open() {
    let mut s = state();
    tick_all_gating(&mut s, "canary-10");
    ch(&mut s, 'a');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!()
    };
    assert!(c.blockers.is_empty() && c.unknown.is_empty());
    // While the dialog is open, the error rate turns CRITICAL.
    let at = s.now;
    reading(&mut s, "error-rate", 7.5, at);
    let fx = ch(&mut s, 'y');
    assert!(fx.is_empty(), "nothing acts on a stale plan: {fx:?}");
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("the dialog stays, refreshed")
    };
    assert!(c.replanned);
    assert!(
        c.blockers
            .iter()
            .any(|b| b == "Error rate is CRITICAL at 7.50 %"),
        "{:?}",
        c.blockers
    );
    assert!(
        s.ui.flash
            .as_deref()
            .unwrap()
            .starts_with("the situation changed")
    );
    assert!(ch(&mut s, 'y').is_empty(), "and now it is blocked");
    // A trigger met while a rollback dialog is open changes its plan's kind list? No: but
    // a rollback dialog re-plans too: a pause taken meanwhile now resumes first.
}

#[test]
fn a_rollback_asks_its_kind_and_resumes_a_paused_rollout_first() {
    let mut s = state();
    advance_to_ten_percent(&mut s);
    s.stages.paused = true;
    ch(&mut s, 'R');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("{:?}", s.ui.flash)
    };
    let kinds: Vec<&str> = c.kinds.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        kinds,
        ["auto-canary", "manual", "emergency"],
        "the automatic kinds armed now, and the lead's own"
    );
    assert_eq!(
        c.kinds[c.kind].0, "manual",
        "no trigger met: a manual rollback"
    );
    assert!(
        c.plan
            .iter()
            .any(|p| p.contains("the rollback resumes them first")),
        "{:?}",
        c.plan
    );
    key(&mut s, KeyCode::Down);
    let fx = reason(&mut s, "data loss risk");
    let Entry::Rollback {
        trigger, reason, ..
    } = journaled(&fx)[0]
    else {
        panic!("{fx:?}")
    };
    assert_eq!(trigger.as_deref(), Some("emergency"));
    assert!(reason.starts_with("Emergency rollback"), "{reason}");
    let Some(Effect::Kube { op, .. }) = kube_ref(&fx) else {
        panic!()
    };
    assert_eq!(
        op,
        &KubeOp::Steps(vec![
            KubeOp::Pause {
                deployments: vec!["erp-backend".into(), "erp-backend-canary".into()],
                paused: false,
            },
            KubeOp::Scale {
                targets: vec![("erp-backend".into(), 10), ("erp-backend-canary".into(), 0)],
            },
        ])
    );
}

#[test]
fn a_cluster_changed_behind_the_consoles_back_is_flagged_not_trusted() {
    let mut s = state();
    // Someone scales the canary by hand: the stage still says preparation.
    update(&mut s, Event::Cluster(cluster(9, 1)));
    let mut said = Vec::new();
    for secs in 1..=6 {
        let fx = update(&mut s, Event::Tick(t0() + Duration::seconds(secs)));
        said.extend(journaled(&fx).into_iter().cloned());
    }
    let warned: Vec<_> = said
        .iter()
        .filter_map(|e| match e {
            Entry::System { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].starts_with("the cluster does not match this console's stage: the cluster runs erp-backend-canary at 1 and erp-backend at 9 replicas; preparation means 0 and 10"),
        "{}",
        warned[0]
    );
    assert!(s.mismatch.as_ref().is_some_and(|m| m.announced));
    // Put back: said once more, and the flag goes.
    let fx = update(&mut s, Event::Cluster(cluster(10, 0)));
    assert!(journaled(&fx).iter().any(
        |e| matches!(e, Entry::System { text, .. } if text == "the cluster matches the stage again")
    ));
    assert_eq!(s.mismatch, None);
}

#[test]
fn a_value_and_its_threshold_never_read_the_same_when_they_differ() {
    use warroom::format::format_pair;
    let s = state();
    let metric = |id: &str| s.rb.metrics.iter().find(|m| m.id == id).unwrap().clone();
    let p95 = metric("p95-latency"); // seconds
    assert_eq!(
        format_pair(&p95, Some(0.4004), 0.4),
        ("400.4 ms".to_string(), "400.0 ms".to_string())
    );
    assert_eq!(
        format_pair(&p95, Some(3.2), 3.0),
        ("3.20 s".to_string(), "3.00 s".to_string()),
        "already apart: as the gauge shows them"
    );
    let err = metric("error-rate"); // percent
    assert_eq!(
        format_pair(&err, Some(1.0004), 1.0),
        ("1.0004 %".to_string(), "1.0000 %".to_string())
    );
    assert_eq!(
        format_pair(&err, Some(1.0), 1.0),
        ("1.00 %".to_string(), "1.00 %".to_string()),
        "equal values may read the same"
    );
}

fn render(s: &State, w: u16, h: u16) -> String {
    let view = warroom::ui::View::new(warroom::layout::builtin("war-room"));
    let mut buf = ratatui::buffer::Buffer::empty(ratatui::layout::Rect::new(0, 0, w, h));
    warroom::ui::draw_into(s, &view, &mut buf);
    let mut out = String::new();
    for y in 0..h {
        let mut x = 0;
        while x < w {
            // A wide character fills two cells: read it once, as the eye does.
            let sym = buf[(x, y)].symbol();
            out.push_str(sym);
            x += unicode_width::UnicodeWidthStr::width(sym).max(1) as u16;
        }
        out.push('\n');
    }
    out
}

#[test]
fn a_new_attempt_after_a_rollback_starts_its_stage_checks_fresh() {
    let mut s = state();
    advance_to_ten_percent(&mut s);
    tick_all_gating(&mut s, "full");
    let full_checks: Vec<usize> = (0..s.checklist.items.len())
        .filter(|i| s.checklist.items[*i].gates.as_deref() == Some("full"))
        .collect();
    assert!(!full_checks.is_empty());
    assert!(
        full_checks
            .iter()
            .all(|i| s.checklist.marks[*i].mark == Mark::Done)
    );
    let prep_done: Vec<usize> = (0..s.checklist.items.len())
        .filter(|i| s.checklist.marks[*i].mark == Mark::Done)
        .filter(|i| s.checklist.items[*i].gates.as_deref() == Some("canary-10"))
        .collect();
    ch(&mut s, 'R');
    let fx = reason(&mut s, "errors");
    let Some(Effect::Kube { seq, .. }) = kube_ref(&fx) else {
        panic!()
    };
    update(
        &mut s,
        Event::Outcome {
            seq: *seq,
            ok: true,
            message: "ok".into(),
        },
    );
    assert!(
        full_checks
            .iter()
            .all(|i| s.checklist.marks[*i].mark == Mark::Todo),
        "the rolled-back attempt's checks are cleared"
    );
    assert!(
        prep_done
            .iter()
            .all(|i| s.checklist.marks[*i].mark == Mark::Done),
        "the preparation still stands"
    );
    let log: Vec<&str> = s.comms.iter().map(|c| c.text.as_str()).collect();
    assert!(
        log.iter()
            .any(|t| t.starts_with("a new attempt starts its stage checks fresh")),
        "{log:?}"
    );
    assert!(
        log.iter().filter(|t| t.starts_with("✔")).count() >= full_checks.len(),
        "the old ticks stay in the log"
    );
}

#[test]
fn after_a_rollback_a_track_that_serves_nothing_says_so_instead_of_driving_health() {
    let mut s = state();
    advance_to_ten_percent(&mut s);
    let i =
        s.rb.metrics
            .iter()
            .position(|m| m.id == "canary-error-rate")
            .unwrap();
    let split = |s: &mut State, canary: f64| {
        let at = s.now;
        update(
            s,
            Event::Metric {
                index: i,
                at,
                reading: Reading::Split(vec![
                    warroom::state::metrics::Part {
                        key: "stable".into(),
                        value: 0.2,
                        at,
                    },
                    warroom::state::metrics::Part {
                        key: "canary".into(),
                        value: canary,
                        at,
                    },
                ]),
            },
        );
    };
    update(&mut s, Event::Cluster(cluster(9, 1)));
    split(&mut s, 6.0);
    assert_eq!(
        warroom::ui::header::health(&s),
        warroom::state::metrics::Level::Critical
    );
    ch(&mut s, 'R');
    let fx = reason(&mut s, "canary errors");
    let Some(Effect::Kube { seq, .. }) = kube_ref(&fx) else {
        panic!()
    };
    update(
        &mut s,
        Event::Outcome {
            seq: *seq,
            ok: true,
            message: "ok".into(),
        },
    );
    // The rate window still remembers the canary's errors...
    split(&mut s, 5.8);
    // ...but while the cluster still runs the canary's pod, it counts.
    assert_eq!(
        warroom::ui::header::health(&s),
        warroom::state::metrics::Level::Critical
    );
    // Once the cluster shows the canary serving nothing, its part is history.
    update(&mut s, Event::Cluster(cluster(10, 0)));
    split(&mut s, 5.7);
    assert_eq!(
        warroom::ui::header::health(&s),
        warroom::state::metrics::Level::Ok
    );
    let back = s
        .comms
        .iter()
        .rev()
        .find(|c| c.text.contains("is back to OK"))
        .unwrap();
    assert_eq!(
        back.text,
        "Error rate by track is back to OK at 0.20 % (canary idle)"
    );
    let screen = render(&s, 200, 60);
    assert!(screen.contains("stable 0.20 % │ canary idle"), "{screen}");
}

#[test]
fn a_console_whose_lease_may_have_run_out_refuses_every_action_even_with_a_renewal_in_flight() {
    let mut s = state();
    tick_all_gating(&mut s, "canary-10");
    update(
        &mut s,
        Event::LeaseHeld {
            until: t0() + Duration::seconds(30),
        },
    );
    // 24 s after the last renewal: still surely ours.
    s.now = t0() + Duration::seconds(24);
    fresh(&mut s);
    ch(&mut s, 'a');
    assert!(matches!(s.ui.mode, Mode::Confirm(_)), "{:?}", s.ui.flash);
    // A second later the margin is reached: the dialog's `y` re-checks and refuses.
    s.now = t0() + Duration::seconds(25);
    fresh(&mut s);
    let fx = ch(&mut s, 'y');
    assert!(fx.is_empty(), "{fx:?}");
    ch(&mut s, 'n');
    for k in ['a', 'R', 'p'] {
        assert!(ch(&mut s, k).is_empty());
        assert!(
            s.ui.flash.as_deref().unwrap().contains("Lease ran out"),
            "{k}: {:?}",
            s.ui.flash
        );
        assert_eq!(s.ui.mode, Mode::Normal);
    }
    // The next successful renewal gives it back.
    update(
        &mut s,
        Event::LeaseHeld {
            until: t0() + Duration::seconds(55),
        },
    );
    ch(&mut s, 'a');
    assert!(matches!(s.ui.mode, Mode::Confirm(_)), "{:?}", s.ui.flash);
}

#[test]
fn notes_are_bounded_at_input_and_a_huge_replayed_note_is_shown_cut() {
    let mut s = state();
    ch(&mut s, 'n');
    update(&mut s, Event::Paste("x".repeat(5000)));
    assert!(s.ui.flash.as_deref().unwrap().contains("3000 left out"));
    let fx = key(&mut s, KeyCode::Enter);
    let Entry::Note { text } = journaled(&fx)[0] else {
        panic!()
    };
    assert_eq!(text.chars().count(), warroom::update::MAX_NOTE);
    // A 20 MB note from an older journal: whole in the journal, cut on screen.
    let huge = "备".repeat(7_000_000);
    let rec = s.record("lin", Entry::Note { text: huge });
    s.apply(&rec);
    let shown = &s.comms.last().unwrap().text;
    assert!(
        shown.ends_with("(6998000 more characters in the journal)"),
        "{}",
        &shown[shown.len() - 60..]
    );
    assert!(shown.len() < 10_000);
}

#[test]
fn an_action_unanswered_before_a_restart_is_reconciled_with_the_cluster_once() {
    for (canary, stable, done) in [(1, 9, true), (0, 10, false)] {
        let mut s = state();
        let rec = s.record(
            "lin",
            Entry::Advance {
                to: "canary-10".into(),
                plan: "Shift traffic to 10%".into(),
                overridden: vec![],
                override_reason: None,
            },
        );
        s.apply(&rec);
        // What App::open does with an intent that has no outcome in the journal.
        s.unreconciled = s.stages.pending.take();
        let fx = update(&mut s, Event::Cluster(cluster(stable, canary)));
        let outcomes: Vec<_> = journaled(&fx)
            .into_iter()
            .filter_map(|e| match e {
                Entry::Outcome { of, ok, message } => Some((*of, *ok, message.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(outcomes.len(), 1, "{fx:?}");
        assert_eq!(outcomes[0].0, rec.seq);
        assert_eq!(outcomes[0].1, done, "{}", outcomes[0].2);
        assert!(outcomes[0].2.starts_with("reconciled after a restart"));
        assert_eq!(s.stages.current, done.then_some(0));
        // Settled once: the next snapshot journals nothing more about it.
        let fx = update(&mut s, Event::Cluster(cluster(stable, canary)));
        assert!(
            !journaled(&fx)
                .iter()
                .any(|e| matches!(e, Entry::Outcome { .. }))
        );
    }
}

#[test]
fn a_new_attempt_is_not_rolled_back_for_the_last_attempts_errors() {
    let mut s = state();
    ten_percent_for_two_minutes(&mut s);
    let t = s.now;
    canary_erring_since(&mut s, t - Duration::seconds(70));
    let (_, deadline) = warroom::update::countdown_running(&s).unwrap();
    let fx = update(&mut s, Event::Tick(deadline));
    let Some(Effect::Kube { seq, .. }) = fx.iter().find(|e| matches!(e, Effect::Kube { .. }))
    else {
        panic!("{fx:?}")
    };
    update(
        &mut s,
        Event::Outcome {
            seq: *seq,
            ok: true,
            message: "ok".into(),
        },
    );
    assert_eq!(s.stage_name(), "ROLLED BACK");
    // The lead starts again at once; the canary's rate window still remembers the errors.
    s.now += Duration::seconds(5);
    fresh(&mut s);
    tick_all_gating(&mut s, "canary-10");
    advance_to_ten_percent(&mut s);
    let began = s.now;
    let fx = canary_erring_since(&mut s, t - Duration::seconds(70));
    assert!(
        s.triggers[0].met.is_none(),
        "met at once, from the last attempt's history: {:?}",
        said(&fx)
    );
    assert!(warroom::update::countdown_running(&s).is_none());
    assert_eq!(
        warroom::ui::header::trigger_progress(&s).as_deref(),
        Some("▲ canary Error rate by track 6.00 % > 5.00 % for 0s of 1m"),
        "it counts from this attempt's start"
    );
    // A full minute into this attempt, still erring: met now, with a fresh countdown.
    s.now = began + Duration::seconds(61);
    canary_erring_since(&mut s, t - Duration::seconds(70));
    let (_, deadline) = warroom::update::countdown_running(&s).unwrap();
    assert_eq!(deadline, began + Duration::seconds(60 + 30));
}

#[test]
fn gauges_failing_for_one_reason_are_one_line_in_the_dialog() {
    let mut s = state();
    tick_all_gating(&mut s, "canary-10");
    let at = s.now;
    for index in 0..s.metrics.len() {
        update(
            &mut s,
            Event::Metric {
                index,
                at,
                reading: Reading::Error("cannot reach Prometheus at http://127.0.0.1:9/".into()),
            },
        );
    }
    ch(&mut s, 'a');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("{:?}", s.ui.flash)
    };
    assert_eq!(c.unknown.len(), 1, "{:?}", c.unknown);
    assert!(
        c.unknown[0].starts_with(&format!("{} gauges (Error rate, ", s.metrics.len()))
            && c.unknown[0].ends_with("the query fails, no fresh value since 20:00:00: cannot reach Prometheus at http://127.0.0.1:9/"),
        "{}",
        c.unknown[0]
    );
}

#[test]
fn a_trigger_met_long_ago_says_its_countdown_is_over_and_rolls_back_now() {
    let mut s = state();
    ten_percent_for_two_minutes(&mut s);
    let t = s.now;
    // A restart: the history says it was met 80 s ago, its countdown over 50 s ago.
    let fx = canary_erring_since(&mut s, t - Duration::seconds(140));
    let text = said(&fx);
    assert!(
        text.iter().any(|l| l.starts_with("ROLLBACK TRIGGER MET")
            && l.ends_with("Its countdown ended at 20:01:30: the driving console rolls back now.")),
        "{text:?}"
    );
    assert!(
        journaled(&fx)
            .iter()
            .any(|e| matches!(e, Entry::Rollback { .. }))
    );
}

/// A parent item follows its sub-items: it cannot be ticked by itself, it is done when
/// they are, and a skipped required item never counts as done.
#[test]
fn a_parent_follows_its_children_and_skipped_required_items_are_not_done() {
    let rb = warroom::runbook::load(Path::new("assets/runbooks/erp-v1.0.0.zh.yaml")).unwrap();
    let mut s = State::new(Arc::new(rb), "lin", t0());
    let parent = s.checklist.index_of("mon-alert-rules").unwrap();
    let kids: Vec<usize> = s.checklist.children(parent).collect();
    assert_eq!(kids.len(), 5);
    let phase = s.checklist.items[parent].phase;
    let (done0, total) = s.checklist.progress()[phase];

    select_item(&mut s, "mon-alert-rules");
    let fx = ch(&mut s, ' ');
    assert!(fx.is_empty(), "the parent was ticked by itself: {fx:?}");
    assert!(
        s.ui.flash
            .as_deref()
            .unwrap_or("")
            .contains("随其子项而定（仍有 5 项未完成）"),
        "{:?}",
        s.ui.flash
    );
    assert_eq!(s.checklist.marks[parent].mark, Mark::Todo);

    // A required sub-item skipped does not settle it, nor count as done.
    let first = s.checklist.items[kids[0]].id.clone();
    select_item(&mut s, &first);
    ch(&mut s, 's');
    assert_eq!(s.checklist.marks[kids[0]].mark, Mark::Skipped);
    assert!(s.checklist.items[kids[0]].required);
    assert_eq!(s.checklist.progress()[phase], (done0, total));

    // Every sub-item done: the parent is done, and the log says why.
    for &k in &kids {
        let id = s.checklist.items[k].id.clone();
        select_item(&mut s, &id);
        if s.checklist.marks[k].mark == Mark::Skipped {
            ch(&mut s, 's');
        }
        ch(&mut s, ' ');
    }
    assert_eq!(s.checklist.marks[parent].mark, Mark::Done);
    assert_eq!(s.checklist.progress()[phase], (done0 + 6, total));
    assert!(
        s.comms
            .last()
            .is_some_and(|c| c.text == "✔ 告警规则设置（其子项已全部完成）"),
        "{:?}",
        s.comms.last()
    );
    // And it follows them back.
    let third = s.checklist.items[kids[2]].id.clone();
    select_item(&mut s, &third);
    ch(&mut s, ' ');
    assert_eq!(s.checklist.marks[parent].mark, Mark::Todo);
}

/// What the console does itself it also ticks: the 10% traffic shift is ticked by the
/// console when the API confirms the advance, and not before.
#[test]
fn the_console_ticks_the_traffic_shift_it_performed() {
    let rb = warroom::runbook::load(Path::new("assets/runbooks/erp-v1.0.0.zh.yaml")).unwrap();
    let mut s = State::new(Arc::new(rb), "lin", t0());
    update(&mut s, Event::Cluster(cluster(10, 0)));
    update(
        &mut s,
        Event::Lease(Driver::Driving {
            lease: "default/warroom-erp-v1.0.0".into(),
            fence: "1-0000abcd".into(),
        }),
    );
    let shift = s.checklist.index_of("can-traffic-10").unwrap();
    let full = s.checklist.index_of("full-traffic-100").unwrap();
    tick_all_gating(&mut s, "canary-10");
    fresh(&mut s);
    ch(&mut s, 'a');
    let fx = ch(&mut s, 'y');
    let Some(Effect::Kube { seq, .. }) = kube_fx(&fx) else {
        panic!("the advance sends a kube effect: {fx:?} {:?}", s.ui.mode)
    };
    assert_eq!(
        s.checklist.marks[shift].mark,
        Mark::Todo,
        "ticked before the API answered"
    );
    let fx = update(
        &mut s,
        Event::Outcome {
            seq,
            ok: true,
            message: "ok".into(),
        },
    );
    assert_eq!(s.checklist.marks[shift].mark, Mark::Done);
    assert_eq!(s.checklist.marks[shift].by.as_deref(), Some("console"));
    assert!(
        fx.iter().any(|e| matches!(e, Effect::Journal(r)
            if matches!(&r.entry, Entry::Mark { item, mark: Mark::Done, .. } if item == "can-traffic-10"))),
        "the tick is journaled: {fx:?}"
    );
    assert_eq!(s.checklist.marks[full].mark, Mark::Todo);
}

/// Run `ev` on the driving console and keep what it journals, as its journal file would.
fn drive(s: &mut State, ev: Event, journal: &mut Vec<Record>) -> Vec<Effect> {
    let fx = update(s, ev);
    journal.extend(fx.iter().filter_map(|e| match e {
        Effect::Journal(r) => Some(r.clone()),
        _ => None,
    }));
    fx
}

/// A console following the demo release's journal, as `warroom watch` starts one: it
/// watches the same cluster, and the Lease says who drives.
fn follower(records: &[Record]) -> State {
    let rb = parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK).unwrap();
    let mut f = State::new(Arc::new(rb), "wang", t0());
    let mut follow = warroom::state::Follow::new("/var/lib/warroom/erp.jsonl".into(), false);
    follow.saw(records, t0());
    f.follow = Some(follow);
    for r in records {
        f.apply(r);
    }
    fresh(&mut f);
    update(&mut f, Event::Cluster(cluster(10, 0)));
    update(
        &mut f,
        Event::Lease(Driver::ReadOnly {
            why: "lin@bastion-1 (pid 7) drives this release".into(),
            holder: Some("lin@bastion-1 (pid 7)".into()),
        }),
    );
    f
}

/// What the room reads in a console's log: when, who, what.
fn log_lines(s: &State) -> Vec<(DateTime<Utc>, String, String)> {
    s.comms
        .iter()
        .map(|c| (c.at, c.who.clone(), c.text.clone()))
        .collect()
}

#[test]
fn a_follower_shows_the_drivers_stage_ticks_notes_and_log_as_the_driver_does() {
    let rb = parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK).unwrap();
    let mut d = State::new(Arc::new(rb), "lin", t0());
    let mut journal = Vec::new();
    // What the driver logged before this journal begins is not in it.
    let before_session = d.comms.len();
    let session = d.record(
        "lin",
        Entry::Session {
            runbook: "demo".into(),
            release: "ERP backend (demo)".into(),
            version: "v1.0.0".into(),
        },
    );
    d.apply(&session);
    journal.push(session);
    let mut f = follower(&journal);
    // The driver sees its cluster (and verifies what it can), holds the Lease, and its
    // gauges answer.
    drive(&mut d, Event::Cluster(cluster(10, 0)), &mut journal);
    drive(
        &mut d,
        Event::Lease(Driver::Driving {
            lease: "default/warroom-erp-v1.0.0".into(),
            fence: "1-0000abcd".into(),
        }),
        &mut journal,
    );
    fresh(&mut d);
    // The driver ticks what gates 10 %, writes a note, and advances.
    let gating: Vec<String> = d
        .checklist
        .items
        .iter()
        .filter(|i| i.gates.as_deref() == Some("canary-10") && i.required)
        .map(|i| i.id.clone())
        .collect();
    for id in &gating {
        if d.checklist.marks[d.checklist.index_of(id).unwrap()].mark == Mark::Done {
            continue;
        }
        select_item(&mut d, id);
        drive(
            &mut d,
            Event::Key(KeyEvent::new(KeyCode::Char(' '), KeyModifiers::NONE)),
            &mut journal,
        );
        if matches!(d.ui.mode, Mode::Signer { .. }) {
            for c in "王五".chars().map(KeyCode::Char).chain([KeyCode::Enter]) {
                drive(
                    &mut d,
                    Event::Key(KeyEvent::new(c, KeyModifiers::NONE)),
                    &mut journal,
                );
            }
        }
    }
    drive(
        &mut d,
        Event::Key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::NONE)),
        &mut journal,
    );
    for c in "DBA on the bridge".chars() {
        drive(
            &mut d,
            Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
            &mut journal,
        );
    }
    drive(
        &mut d,
        Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
        &mut journal,
    );
    fresh(&mut d);
    drive(
        &mut d,
        Event::Key(KeyEvent::new(KeyCode::Char('a'), KeyModifiers::NONE)),
        &mut journal,
    );
    let fx = drive(
        &mut d,
        Event::Key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE)),
        &mut journal,
    );
    let Some(Effect::Kube { seq, .. }) = fx.iter().find(|e| matches!(e, Effect::Kube { .. }))
    else {
        panic!("the advance is sent: {fx:?} {:?}", d.ui.mode)
    };
    let seq = *seq;
    // Read in two pieces, the way the journal is read while it grows.
    let (first, rest) = journal.split_at(journal.len() / 2);
    update(
        &mut f,
        Event::Follow(warroom::event::Followed::More(first[1..].to_vec())),
    );
    update(
        &mut f,
        Event::Follow(warroom::event::Followed::More(rest.to_vec())),
    );
    assert_eq!(
        f.stage_name(),
        d.stage_name(),
        "the advance in flight shows alike"
    );
    let before = journal.len();
    drive(
        &mut d,
        Event::Outcome {
            seq,
            ok: true,
            message: "scaled".into(),
        },
        &mut journal,
    );
    update(
        &mut f,
        Event::Follow(warroom::event::Followed::More(journal[before..].to_vec())),
    );
    assert_eq!(f.stages.current, d.stages.current);
    assert_eq!(f.stage_name(), d.stage_name());
    assert!(f.stage_name().contains("10%"), "{}", f.stage_name());
    assert_eq!(
        f.checklist.marks, d.checklist.marks,
        "the same ticks, by whom and when"
    );
    assert_eq!(
        log_lines(&f),
        log_lines(&d)[before_session..],
        "the same log, line for line"
    );
    assert!(
        log_lines(&f)
            .iter()
            .any(|(_, who, text)| who == "lin" && text.contains("DBA on the bridge"))
    );
    // The header says whom it follows.
    let screen = render(&f, 160, 48);
    assert!(screen.contains("FOLLOWING  lin · live"), "{screen}");
    assert!(screen.contains("STAGE Canary 10%"), "{screen}");
}

#[test]
fn a_follower_decides_nothing_records_nothing_and_says_who_decides() {
    let rb = parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK).unwrap();
    let d = State::new(Arc::new(rb), "lin", t0());
    let session = d.record(
        "lin",
        Entry::Session {
            runbook: "demo".into(),
            release: "ERP backend (demo)".into(),
            version: "v1.0.0".into(),
        },
    );
    let mut f = follower(&[session]);
    let seq = f.seq;
    let log = log_lines(&f);
    let marks = f.checklist.marks.clone();
    select_item(&mut f, "prep-db-backup");
    for c in [' ', 's', 'x', 'n', 'a', 'R', 'p', 'c'] {
        let fx = ch(&mut f, c);
        assert!(
            fx.is_empty(),
            "{c}: nothing journaled, nothing sent: {fx:?}"
        );
        assert_eq!(f.ui.mode, Mode::Normal, "{c}: no dialog, no note prompt");
        let flash = f.ui.flash.clone().unwrap_or_default();
        assert!(flash.contains("follows lin's journal"), "{c}: {flash}");
        assert!(flash.contains("nothing was done"), "{c}: {flash}");
    }
    // What it sees for itself (its API gone) is on its own screen, not in the driver's
    // log: nothing of its own is recorded.
    let fx = update(
        &mut f,
        Event::ClusterLost {
            at: t0(),
            error: "connection refused".into(),
        },
    );
    assert!(journaled(&fx).is_empty());
    assert_eq!(f.checklist.marks, marks);
    assert_eq!(log_lines(&f), log, "the log is the driver's alone");
    assert_eq!(f.seq, seq);
    // The key bar offers only what it can do.
    f.ui.flash = None;
    let screen = render(&f, 160, 48);
    let bar = screen.lines().last().unwrap();
    assert!(bar.contains("FOLLOWING"), "{bar}");
    for absent in ["tick", "note", "advance", "ROLLBACK", "pause"] {
        assert!(!bar.contains(absent), "{absent} offered: {bar}");
    }
    for present in ["pane", "help", "quit"] {
        assert!(bar.contains(present), "{present} missing: {bar}");
    }
    // Leaving asks nothing and records nothing, whatever the stage.
    let fx = ch(&mut f, 'q');
    assert_eq!(fx, vec![Effect::Quit]);
}

#[test]
fn a_follower_whose_journal_cannot_be_read_says_so_with_its_age_and_recovers() {
    let rb = parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK).unwrap();
    let d = State::new(Arc::new(rb), "lin", t0());
    let session = d.record(
        "lin",
        Entry::Session {
            runbook: "demo".into(),
            release: "ERP backend (demo)".into(),
            version: "v1.0.0".into(),
        },
    );
    let mut f = follower(&[session]);
    update(
        &mut f,
        Event::Follow(warroom::event::Followed::Lost(
            "/var/lib/warroom/erp.jsonl: cannot read the journal: Permission denied".into(),
        )),
    );
    update(&mut f, Event::Tick(t0() + Duration::seconds(12)));
    let screen = render(&f, 160, 48);
    assert!(screen.contains("JOURNAL LOST 12s "), "{screen}");
    // Another look that fails the same way keeps the first moment it was lost.
    update(
        &mut f,
        Event::Follow(warroom::event::Followed::Lost(
            "/var/lib/warroom/erp.jsonl: cannot read the journal: Permission denied".into(),
        )),
    );
    update(&mut f, Event::Tick(t0() + Duration::seconds(20)));
    assert!(render(&f, 160, 48).contains("JOURNAL LOST 20s "));
    update(
        &mut f,
        Event::Follow(warroom::event::Followed::More(vec![])),
    );
    let screen = render(&f, 160, 48);
    assert!(!screen.contains("LOST"), "{screen}");
    assert!(screen.contains("FOLLOWING  lin · live"), "{screen}");
}

#[test]
fn a_followed_journal_cut_back_shows_what_it_now_holds() {
    let mut d = state();
    let mut journal = Vec::new();
    let session = d.record(
        "lin",
        Entry::Session {
            runbook: "demo".into(),
            release: "ERP backend (demo)".into(),
            version: "v1.0.0".into(),
        },
    );
    d.apply(&session);
    journal.push(session);
    select_item(&mut d, "prep-baseline");
    drive(
        &mut d,
        Event::Key(KeyEvent::new(KeyCode::Char(' '), KeyModifiers::NONE)),
        &mut journal,
    );
    let mut f = follower(&journal);
    let i = f.checklist.index_of("prep-baseline").unwrap();
    assert_eq!(f.checklist.marks[i].mark, Mark::Done);
    // The driver restarted and cut a torn tail: its journal now ends before the tick.
    update(
        &mut f,
        Event::Follow(warroom::event::Followed::Reset(journal[..1].to_vec())),
    );
    assert_eq!(f.checklist.marks[i].mark, Mark::Todo);
    assert_eq!(f.comms.len(), 1, "{:?}", log_lines(&f));
}

#[test]
fn a_sign_off_asks_who_signs_and_records_signer_and_operator() {
    let mut s = state();
    select_item(&mut s, "so-tech-lead");
    assert!(
        ch(&mut s, ' ').is_empty(),
        "nothing is recorded before a name"
    );
    assert!(matches!(s.ui.mode, Mode::Signer { .. }));
    let screen = render(&s, 120, 40);
    assert!(screen.contains("Who signs off as Tech lead?"), "{screen}");
    // Esc records nothing.
    assert!(key(&mut s, KeyCode::Esc).is_empty());
    assert_eq!(s.ui.mode, Mode::Normal);
    let i = s.checklist.index_of("so-tech-lead").unwrap();
    assert_eq!(s.checklist.marks[i].mark, Mark::Todo);
    // An empty name is not a signature.
    ch(&mut s, ' ');
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert!(matches!(s.ui.mode, Mode::Signer { .. }));
    let fx = sign_as(&mut s, "王五");
    assert_eq!(
        journaled(&fx),
        [&Entry::Mark {
            item: "so-tech-lead".into(),
            mark: Mark::Done,
            signer: Some("王五".into()),
        }]
    );
    let Some(Effect::Journal(rec)) = fx
        .iter()
        .find(|e| matches!(e, Effect::Journal(r) if matches!(r.entry, Entry::Mark { .. })))
    else {
        panic!("{fx:?}")
    };
    assert_eq!(rec.who, "lin", "the operator who entered it");
    assert_eq!(s.checklist.marks[i].signer.as_deref(), Some("王五"));
    let last = s.comms.last().unwrap();
    assert_eq!(last.who, "lin");
    assert_eq!(
        last.text,
        "✍ 王五 signed off as Tech lead (Tech lead signs off)"
    );
    // The checklist names the signer; its detail both.
    let screen = render(&s, 160, 48);
    assert!(screen.contains("王五"), "{screen}");
    assert!(
        screen.contains("signed by 王五, entered by lin"),
        "{screen}"
    );
    // Unticking a sign-off asks nothing.
    assert_eq!(journaled(&ch(&mut s, ' ')).len(), 1);
    assert_eq!(s.checklist.marks[i].mark, Mark::Todo);
    assert_eq!(s.checklist.marks[i].signer, None);
}

#[test]
fn the_deployment_time_is_filled_when_the_first_stage_starts_and_survives_a_restart() {
    let mut s = state();
    let row = |s: &State| {
        render(s, 160, 48)
            .lines()
            .find(|l| l.contains("Deployment time"))
            .map(str::to_string)
    };
    select_item(&mut s, "so-deploy-time");
    let before = row(&s).expect("the sign-off phase is open");
    assert!(
        before.contains("Deployment time: — (set when the first stage starts)"),
        "{before}"
    );
    update(&mut s, Event::Tick(t0() + Duration::seconds(90)));
    advance_to_ten_percent(&mut s);
    let when = s.stages.first_stage.expect("set by the first stage");
    let shown = s.zone.date_time(when);
    select_item(&mut s, "so-deploy-time");
    let after = row(&s).unwrap();
    assert!(
        after.contains(&format!("Deployment time: {shown}")),
        "{after}"
    );
    // Later stages and a rollback do not move it.
    update(&mut s, Event::Tick(t0() + Duration::seconds(400)));
    fresh(&mut s);
    ch(&mut s, 'R');
    reason(&mut s, "test");
    assert_eq!(s.stages.first_stage, Some(when));
}

/// The flight recorder's records among the effects.
fn recorded(fx: &[Effect]) -> Vec<Vec<warroom::journal::Seen>> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Journal(r) => match &r.entry {
                Entry::Gauges { gauges } => Some(gauges.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn every_decision_is_preceded_by_the_gauges_the_room_saw() {
    let mut s = state();
    let sampled = t0() - Duration::seconds(2);
    reading(&mut s, "error-rate", 0.42, sampled);
    select_item(&mut s, "prep-baseline");
    let fx = ch(&mut s, ' ');
    // The gauges first, then the tick: the journal alone says what the tick was taken on.
    let Effect::Journal(first) = &fx[0] else {
        panic!("{fx:?}")
    };
    let Effect::Journal(second) = &fx[1] else {
        panic!("{fx:?}")
    };
    assert!(matches!(second.entry, Entry::Mark { .. }));
    assert!(first.seq < second.seq);
    let Entry::Gauges { gauges } = &first.entry else {
        panic!("{first:?}")
    };
    assert_eq!(gauges.len(), s.rb.metrics.len());
    let err = gauges.iter().find(|g| g.gauge == "error-rate").unwrap();
    assert_eq!(err.value, Some(0.42));
    assert_eq!(
        err.at,
        Some(sampled),
        "with the time Prometheus evaluated it"
    );
    assert_eq!(err.level, "OK");
    // The next decision on the same view adds nothing: the last record still holds.
    select_item(&mut s, "prep-baseline");
    assert!(recorded(&ch(&mut s, ' ')).is_empty());
    // A view that changed is recorded again, and a stale gauge says UNKNOWN.
    update(&mut s, Event::Tick(t0() + Duration::seconds(60)));
    select_item(&mut s, "prep-baseline");
    let again = recorded(&ch(&mut s, ' '));
    assert_eq!(again.len(), 1);
    assert!(
        again[0].iter().all(|g| g.level == "UNKNOWN"),
        "{:?}",
        again[0]
    );
    // A restart knows what was last recorded.
    let mut journal: Vec<Record> = Vec::new();
    let rec = s.record(
        warroom::update::CONSOLE,
        Entry::Gauges {
            gauges: again[0].clone(),
        },
    );
    journal.push(rec);
    let mut t = bare();
    for r in &journal {
        t.apply(r);
    }
    assert_eq!(t.recorded.as_ref().map(|(_, g)| g), Some(&again[0]));
}

#[test]
fn during_a_stage_the_gauges_are_recorded_every_thirty_seconds_when_they_change() {
    let mut s = state();
    advance_to_ten_percent(&mut s);
    let mut written = 0;
    for sec in 1..=120 {
        let now = t0() + Duration::seconds(sec);
        fresh_at(&mut s, now);
        written += recorded(&update(&mut s, Event::Tick(now))).len();
    }
    // Two minutes of changing gauges: one record each 30 s, no more.
    assert!((3..=4).contains(&written), "{written} records in 120 s");
    // Before any stage, the interval writes nothing.
    let mut quiet = state();
    let mut before = 0;
    for sec in 1..=120 {
        let now = t0() + Duration::seconds(sec);
        fresh_at(&mut quiet, now);
        before += recorded(&update(&mut quiet, Event::Tick(now))).len();
    }
    assert_eq!(before, 0);
}

/// Every gauge answers afresh at `now`.
fn fresh_at(s: &mut State, now: DateTime<Utc>) {
    for i in 0..s.rb.metrics.len() {
        let m = &s.rb.metrics[i];
        let value = match m.bad {
            warroom::runbook::Bad::Above => m.warn / 2.0,
            warroom::runbook::Bad::Below => m.warn.abs() * 1.001 + 1.0,
        };
        update(
            s,
            Event::Metric {
                index: i,
                at: now,
                reading: Reading::Value { value, at: now },
            },
        );
    }
}

/// The demo release with two chat channels: one hears of everything that needs the
/// team, the other only of rollbacks.
fn with_channels() -> State {
    let src = format!(
        "{}\nnotify:\n  channels:\n    - {{id: ops-feishu, kind: feishu, url_env: FEISHU_HOOK, secret_env: FEISHU_SECRET, events: [stage_started, rollback, signoff, override, driver_changed, monitoring_lost]}}\n    - {{id: sre-slack, kind: slack, url_file: /etc/warroom/slack.url, events: [rollback]}}\n",
        warroom::builtin::DEMO_RUNBOOK
    );
    let mut s = driving(&src);
    fresh(&mut s);
    s
}

/// The notifications asked for: (channels, event, text).
fn notices(fx: &[Effect]) -> Vec<(Vec<String>, warroom::runbook::NotifyEvent, String)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Notify {
                channels,
                event,
                text,
                ..
            } => Some((channels.clone(), *event, text.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn the_team_hears_of_stages_rollbacks_and_sign_offs_on_the_channels_that_asked() {
    use warroom::runbook::NotifyEvent;
    let mut s = with_channels();
    select_item(&mut s, "so-tech-lead");
    ch(&mut s, ' ');
    let n = notices(&sign_as(&mut s, "王五"));
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].1, NotifyEvent::Signoff);
    assert!(
        n[0].2
            .ends_with("Signed off: 王五 signed off as Tech lead (entered by lin)"),
        "{}",
        n[0].2
    );
    tick_all_gating(&mut s, "canary-10");
    ch(&mut s, 'a');
    let fx = ch(&mut s, 'y');
    assert!(notices(&fx).is_empty(), "nothing before the API confirms");
    let Some(Effect::Kube { seq, .. }) = kube_fx(&fx) else {
        panic!("{fx:?}")
    };
    let fx = update(
        &mut s,
        Event::Outcome {
            seq,
            ok: true,
            message: "scaled".into(),
        },
    );
    let n = notices(&fx);
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!(n[0].0, vec!["ops-feishu".to_string()]);
    assert_eq!(n[0].1, NotifyEvent::StageStarted);
    assert_eq!(
        n[0].2,
        "[ERP backend (demo) v1.0.0] Stage started: Canary 10% (10% of traffic to the new version), driven by lin"
    );
    // The notice is journaled before it is sent.
    let notice_at = fx
        .iter()
        .position(|e| matches!(e, Effect::Journal(r) if matches!(r.entry, Entry::Notice { .. })))
        .unwrap();
    let send_at = fx
        .iter()
        .position(|e| matches!(e, Effect::Notify { .. }))
        .unwrap();
    assert!(notice_at < send_at);
    // A rollback reaches both channels, with its kind and reason.
    fresh(&mut s);
    ch(&mut s, 'R');
    let fx = reason(&mut s, "canary errors");
    let n = notices(&fx);
    assert_eq!(n.len(), 1);
    assert_eq!(
        n[0].0,
        vec!["ops-feishu".to_string(), "sre-slack".to_string()]
    );
    assert_eq!(n[0].1, NotifyEvent::Rollback);
    assert_eq!(
        n[0].2,
        "[ERP backend (demo) v1.0.0] ROLLBACK: manual, by lin: Manual rollback: business functions failing or performance severely degraded — lin: “canary errors” (Roll back: scale erp-backend-canary to 0 and erp-backend to 10)"
    );
    // A delivery that failed is in the log; one that worked is only in the journal.
    let seq = s.seq;
    let fx = update(
        &mut s,
        Event::Notified {
            seq,
            channel: "sre-slack".into(),
            ok: false,
            message: "HTTP 500: busy".into(),
            attempts: 5,
        },
    );
    assert!(matches!(
        journaled(&fx)[0],
        Entry::Delivered { ok: false, .. }
    ));
    assert!(
        s.comms
            .last()
            .unwrap()
            .text
            .contains("NOT delivered to sre-slack after 5 attempts: HTTP 500: busy")
    );
    let lines = s.comms.len();
    let fx = update(
        &mut s,
        Event::Notified {
            seq,
            channel: "ops-feishu".into(),
            ok: true,
            message: "delivered".into(),
            attempts: 1,
        },
    );
    assert_eq!(journaled(&fx).len(), 1);
    assert_eq!(s.comms.len(), lines);
}

#[test]
fn monitoring_lost_is_told_once_per_episode_and_a_follower_tells_nobody() {
    use warroom::runbook::NotifyEvent;
    let mut s = with_channels();
    let fx = update(&mut s, Event::Tick(t0() + Duration::seconds(60)));
    let n = notices(&fx);
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!(n[0].1, NotifyEvent::MonitoringLost);
    assert!(
        n[0].2.contains("no fresh data for 13 of 13 gauges"),
        "{}",
        n[0].2
    );
    assert!(notices(&update(&mut s, Event::Tick(t0() + Duration::seconds(61)))).is_empty());
    // Fresh again, then lost again: a new episode.
    fresh_at(&mut s, t0() + Duration::seconds(62));
    update(&mut s, Event::Tick(t0() + Duration::seconds(62)));
    assert_eq!(
        notices(&update(&mut s, Event::Tick(t0() + Duration::seconds(120)))).len(),
        1
    );
    // A follower sees the same, and leaves the telling to the driver.
    let mut f = with_channels();
    f.follow = Some(warroom::state::Follow::new("/j".into(), false));
    assert!(notices(&update(&mut f, Event::Tick(t0() + Duration::seconds(60)))).is_empty());
}

#[test]
fn a_chinese_runbook_tells_the_team_in_chinese() {
    let src = format!(
        "{}\nnotify:\n  channels:\n    - {{id: ops-dingtalk, kind: dingtalk, url_env: DING, events: [signoff, monitoring_lost]}}\n",
        include_str!("../assets/runbooks/erp-v1.0.0.zh.yaml")
    );
    let mut s = driving(&src);
    select_item(&mut s, "so-pm");
    ch(&mut s, ' ');
    let n = notices(&sign_as(&mut s, "张三"));
    assert_eq!(
        n[0].2,
        "[ERP系统生产部署 v1.0.0] 已签字确认: 张三 以项目经理身份签字确认（由 lin 录入）"
    );
    fresh(&mut s);
    let n = notices(&update(&mut s, Event::Tick(t0() + Duration::seconds(60))));
    assert!(
        n[0].2
            .starts_with("[ERP系统生产部署 v1.0.0] 监控数据丢失: 13/13 个指标没有最新数据（"),
        "{}",
        n[0].2
    );
}

#[test]
fn a_group_is_ticked_in_one_confirmation_that_lists_each_item_and_one_log_line() {
    let mut s = driving(include_str!("../assets/runbooks/erp-v1.0.0.zh.yaml"));
    // The cursor on the group 部署授权 (three sign-offs and the deployment time): nothing
    // a group tick may do.
    let phase = s.rb.phases.iter().position(|p| p.id == "signoff").unwrap();
    s.checklist.collapsed[phase] = false;
    s.ui.focus = Pane::Checklist;
    let row = |s: &State, g: &str| {
        s.checklist
            .rows()
            .iter()
            .position(|r| matches!(r, Row::Group(p, name) if *p == phase && name == g))
            .unwrap()
    };
    s.checklist.cursor = row(&s, "部署授权");
    assert!(ch(&mut s, ' ').is_empty());
    assert_eq!(
        s.ui.flash.as_deref(),
        Some("最终确认 › 部署授权 中没有未完成、可勾选的项")
    );
    // On 部署前最终检查: Space asks, listing the five items.
    s.checklist.cursor = row(&s, "部署前最终检查");
    assert!(
        ch(&mut s, ' ').is_empty(),
        "nothing before the lead confirms"
    );
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("{:?}", s.ui.flash)
    };
    // 所有检查项已完成 is the console's: left out, and said so.
    assert_eq!(c.title, "勾选 4 项（最终确认 › 部署前最终检查）？");
    assert_eq!(c.plan[0], "✔ 风险评估已完成");
    assert_eq!(c.plan.last().unwrap(), "（1 项由控制台根据其他检查判定）");
    let before = s.comms.len();
    let fx = ch(&mut s, 'y');
    let Entry::Ticks { scope, items } = journaled(&fx)[0] else {
        panic!("{fx:?}")
    };
    assert_eq!(scope, "最终确认 › 部署前最终检查");
    assert_eq!(items.len(), 4, "the journal names each item");
    assert_eq!(s.comms.len(), before + 1, "one line in the log");
    assert_eq!(
        s.comms.last().unwrap().text,
        "✔ 一次确认勾选了 4 项（最终确认 › 部署前最终检查）"
    );
    for id in items {
        let i = s.checklist.index_of(id).unwrap();
        assert_eq!(s.checklist.marks[i].mark, Mark::Done);
        assert_eq!(s.checklist.marks[i].by.as_deref(), Some("lin"));
    }
    // The whole phase from its row: the sign-offs are left out, and said so.
    s.checklist.cursor = s
        .checklist
        .rows()
        .iter()
        .position(|r| *r == Row::Phase(phase))
        .unwrap();
    assert!(ch(&mut s, 'g').is_empty());
    assert!(
        s.ui.flash
            .as_deref()
            .is_some_and(|f| f.ends_with("中没有未完成、可勾选的项")),
        "{:?}",
        s.ui.flash
    );
    // An item row ticks its own group: 基础设施准备's Kubernetes集群, five items of which
    // the console verifies two (the version, the nodes' capacity).
    let infra = 0;
    s.checklist.collapsed[infra] = false;
    s.checklist.cursor = s
        .checklist
        .rows()
        .iter()
        .position(|r| matches!(r, Row::Item(i) if s.checklist.items[*i].phase == infra))
        .unwrap();
    ch(&mut s, 'g');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("{:?}", s.ui.flash)
    };
    assert_eq!(c.title, "勾选 3 项（基础设施准备 › Kubernetes集群）？");
    assert!(!c.plan.iter().any(|p| p.contains("v1.25")), "{:?}", c.plan);
    assert_eq!(c.plan.last().unwrap(), "（2 项由控制台验证，并附证据勾选）");
}

#[test]
fn all_checks_complete_is_the_consoles_to_settle() {
    let mut s = driving(include_str!("../assets/runbooks/erp-v1.0.0.zh.yaml"));
    let all = s.checklist.index_of("so-all-checks").unwrap();
    select_item(&mut s, "so-all-checks");
    assert!(ch(&mut s, ' ').is_empty());
    let flash = s.ui.flash.clone().unwrap();
    assert!(flash.contains("由控制台判定"), "{flash}");
    assert_eq!(s.checklist.marks[all].mark, Mark::Todo);
    // Every other required check gating 10 % ticked (sign-offs are not checks): done, by
    // the console.
    let others: Vec<String> = (0..s.checklist.items.len())
        .filter(|&i| i != all)
        .filter(|&i| {
            let it = &s.checklist.items[i];
            it.kind == warroom::runbook::ItemKind::Check
                && it.required
                && it.gates.as_deref() == Some("canary-10")
                && s.checklist.children(i).next().is_none()
                && s.checklist.marks[i].mark != Mark::Done
        })
        .map(|i| s.checklist.items[i].id.clone())
        .collect();
    assert!(others.len() >= 90, "{}", others.len());
    fresh(&mut s);
    for id in &others {
        select_item(&mut s, id);
        ch(&mut s, ' ');
    }
    // What the console verifies itself it ticks on its evidence: its probes answer.
    probes_pass(&mut s);
    assert_eq!(s.checklist.marks[all].mark, Mark::Done);
    assert_eq!(s.checklist.marks[all].by.as_deref(), Some("console"));
    // One of them unticked: open again.
    let manual = others
        .iter()
        .find(|id| {
            let i = s.checklist.index_of(id).unwrap();
            s.checklist.items[i].verify.is_none()
        })
        .unwrap();
    select_item(&mut s, manual);
    ch(&mut s, ' ');
    assert_eq!(s.checklist.marks[all].mark, Mark::Todo);
}

#[test]
fn the_release_is_complete_only_once_the_required_post_deployment_checks_are_done() {
    let mut s = state();
    // The 100 % stage confirmed by the API.
    let advance = s.record(
        "lin",
        Entry::Advance {
            to: "full".into(),
            plan: "promote".into(),
            overridden: vec![],
            override_reason: None,
        },
    );
    s.apply(&advance);
    let outcome = s.record(
        "console",
        Entry::Outcome {
            of: advance.seq,
            ok: true,
            message: "promoted".into(),
        },
    );
    s.apply(&outcome);
    // Its hold served: held, but not complete while post-deployment checks are open.
    let fx = update(&mut s, Event::Tick(t0() + Duration::seconds(120)));
    assert!(
        s.comms.iter().any(|c| c.text
            == "Full rollout 100% held for 2m: the release is complete once its 6 remaining required checks (those that gate no stage: the full rollout's and the post-deployment checks) are done"),
        "{:?}",
        s.comms.last()
    );
    assert!(
        !journaled(&fx)
            .iter()
            .any(|e| matches!(e, Entry::Complete {}))
    );
    assert_eq!(
        s.stage_name(),
        "Full rollout 100% held · post-deployment checks"
    );
    assert!(s.stages.complete.is_none());
    for id in ["full-smoke", "full-business", "post-login", "post-order"] {
        select_item(&mut s, id);
        assert!(
            !journaled(&ch(&mut s, ' '))
                .iter()
                .any(|e| matches!(e, Entry::Complete {}))
        );
    }
    select_item(&mut s, "post-alerts");
    assert!(
        !journaled(&ch(&mut s, ' '))
            .iter()
            .any(|e| matches!(e, Entry::Complete {}))
    );
    // The last is the console's: page load under 2 s, on a fresh value (the one it had
    // is two minutes old).
    let i = s.checklist.index_of("post-page-load").unwrap();
    assert_eq!(s.checklist.marks[i].mark, Mark::Todo);
    let fx = reading(&mut s, "page-load", 1.14, t0() + Duration::seconds(120));
    let j = journaled(&fx);
    assert!(
        j.iter().any(|e| matches!(e, Entry::Verified { item, verdict: warroom::journal::Verdict::Pass, evidence } if item == "post-page-load" && evidence == "Page load time p95 1.14 s < 2.00 s")),
        "{j:?}"
    );
    assert!(j.iter().any(|e| matches!(e, Entry::Complete {})), "{j:?}");
    assert_eq!(s.stage_name(), "Full rollout 100% complete");
    assert!(
        s.comms
            .iter()
            .any(|c| c.text.starts_with("RELEASE COMPLETE"))
    );
    // Said once: unticking and ticking again adds nothing.
    ch(&mut s, ' ');
    assert!(
        !journaled(&ch(&mut s, ' '))
            .iter()
            .any(|e| matches!(e, Entry::Complete {}))
    );
}

#[test]
fn the_emergency_plan_and_who_to_call_open_on_a_key_and_by_themselves() {
    let mut s = driving(include_str!("../assets/runbooks/erp-v1.0.0.zh.yaml"));
    ch(&mut s, 'E');
    assert_eq!(s.ui.mode, Mode::Emergency { group: 0 });
    let screen = render(&s, 80, 24);
    assert!(screen.contains("应急预案 · 部署失败处理 (1/3)"), "{screen}");
    assert!(
        screen.contains("立即回滚: 使用回滚脚本快速恢复"),
        "{screen}"
    );
    // The seed's roles and hotline, with what is still to fill said so.
    assert!(
        screen.contains("☎ 部署负责人: （待填写） · （待填写）"),
        "{screen}"
    );
    assert!(
        screen.contains("☎ 24小时技术支持热线: （待填写） · （待填写）"),
        "{screen}"
    );
    // → the next situation, Esc closes.
    key(&mut s, KeyCode::Right);
    assert!(render(&s, 80, 24).contains("应急预案 · 性能问题处理 (2/3)"));
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.ui.mode, Mode::Normal);
    // It never stands between the lead and an action: another key closes it and acts.
    ch(&mut s, 'E');
    ch(&mut s, 'n');
    assert_eq!(s.ui.mode, Mode::Note(String::new()));
    key(&mut s, KeyCode::Esc);
    // A rollback opens it by itself, at the situation the runbook names for it.
    s.ui.mode = Mode::Emergency { group: 2 };
    key(&mut s, KeyCode::Esc);
    fresh(&mut s);
    tick_all_gating(&mut s, "canary-10");
    fresh(&mut s);
    ch(&mut s, 'a');
    let fx = ch(&mut s, 'y');
    let Some(Effect::Kube { seq, .. }) = kube_fx(&fx) else {
        panic!("{fx:?} {:?}", s.ui.mode)
    };
    update(
        &mut s,
        Event::Outcome {
            seq,
            ok: true,
            message: "scaled".into(),
        },
    );
    fresh(&mut s);
    ch(&mut s, 'R');
    reason(&mut s, "payments failing");
    assert_eq!(s.ui.mode, Mode::Emergency { group: 0 });
    // A follower opens it when the driver's rollback reaches it (the demo runbook has
    // contacts and no emergency phase: it says so).
    let d = state();
    let rollback = d.record(
        "lin",
        Entry::Rollback {
            target: None,
            reason: "payments failing".into(),
            plan: "Roll back".into(),
            trigger: Some("manual".into()),
        },
    );
    let mut f = follower(&[]);
    update(
        &mut f,
        Event::Follow(warroom::event::Followed::More(vec![rollback])),
    );
    assert!(matches!(f.ui.mode, Mode::Emergency { .. }));
    let screen = render(&f, 120, 40);
    assert!(
        screen.contains("this runbook has no emergency plan"),
        "{screen}"
    );
    assert!(
        screen.contains("☎ Release lead: Lin Wei · +86 10 5555 0101"),
        "{screen}"
    );
}

/// The room reads the countdown in its own language: the header's alarm and what stops
/// it, and the log's line of the trigger met.
#[test]
fn a_chinese_room_reads_the_countdown_in_chinese() {
    let mut s = state();
    s.lang = Lang::Zh;
    ten_percent_for_two_minutes(&mut s);
    let start = s.now;
    canary_erring_since(&mut s, start - Duration::seconds(80));
    assert!(warroom::update::countdown_running(&s).is_some());
    let screen = render(&s, 160, 48);
    let header = screen.lines().next().unwrap();
    assert!(header.contains(" 自动回滚倒计时 "), "{header}");
    assert!(header.contains("c 取消"), "{header}");
    assert!(
        s.comms
            .iter()
            .any(|c| c.text.starts_with("回滚触发条件成立：")
                && c.text.contains("除非负责人取消（c），控制台将于")),
        "{:?}",
        s.comms.iter().map(|c| &c.text).collect::<Vec<_>>()
    );
}

/// A countdown that runs out while this console's Lease has lapsed (a renewal that got
/// no answer) is not a silent wait: the log says why nothing was sent, once, and the
/// rollback goes out as soon as the Lease is renewed.
#[test]
fn a_countdown_run_out_without_the_lease_says_so_and_rolls_back_once_it_is_held() {
    let mut s = state();
    ten_percent_for_two_minutes(&mut s);
    let start = s.now;
    canary_erring_since(&mut s, start - Duration::seconds(80));
    let (_, deadline) = warroom::update::countdown_running(&s).unwrap();
    // The Lease was last renewed long ago: it ran out before the deadline.
    update(
        &mut s,
        Event::LeaseHeld {
            until: deadline - Duration::seconds(20),
        },
    );
    let fx = update(&mut s, Event::Tick(deadline));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Kube { .. })));
    let text = said(&fx);
    assert!(
        text.iter().any(|t| t.starts_with("The countdown of auto-canary ran out, but this console cannot roll back now: this console's Lease ran out")
            && t.ends_with("It rolls back as soon as it can; R rolls back by hand.")),
        "{text:?}"
    );
    // Said once, not every second.
    let fx = update(&mut s, Event::Tick(deadline + Duration::seconds(1)));
    assert!(
        said(&fx).iter().all(|t| !t.starts_with("The countdown")),
        "{:?}",
        said(&fx)
    );
    // Renewed: the rollback goes out at once.
    update(
        &mut s,
        Event::LeaseHeld {
            until: deadline + Duration::seconds(40),
        },
    );
    let fx = update(&mut s, Event::Tick(deadline + Duration::seconds(2)));
    assert!(
        matches!(kube_ref(&fx), Some(Effect::Kube { .. })),
        "the rollback is sent once the Lease is held: {fx:?}"
    );
    // While its answer is on its way, nothing more is said.
    let fx = update(&mut s, Event::Tick(deadline + Duration::seconds(3)));
    assert!(said(&fx).is_empty(), "{:?}", said(&fx));
}
