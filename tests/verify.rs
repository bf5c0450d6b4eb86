//! Verified items (`verify:`), pure: the console ticks an item by what it sees, with the
//! evidence, fails it when the check fails, opens it again when it cannot know, and the
//! gate follows the fresh verdict. No runtime, no terminal, no cluster.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use warroom::effect::Effect;
use warroom::event::Event;
use warroom::journal::{Entry, Mark, Verdict};
use warroom::layout::Pane;
use warroom::runbook::parse_runbook;
use warroom::state::cluster::{DeployView, PodView, RsView, Snapshot};
use warroom::state::metrics::{Part, Reading};
use warroom::state::verify::Outcome;
use warroom::state::{Driver, Mode, Row, State};
use warroom::update::{gates, update};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T20:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// The demo runbook with these items added to the phase gating 10 % (before the
/// canary), and these after a rollback.
fn runbook(prep: &str, after_rollback: &str) -> String {
    let mut src = warroom::builtin::DEMO_RUNBOOK.replace(
        "          - id: prep-baseline\n            text: Monitoring baseline noted on the dashboard\n",
        &format!(
            "          - id: prep-baseline\n            text: Monitoring baseline noted on the dashboard\n{prep}"
        ),
    );
    assert!(src.contains(prep));
    if !after_rollback.is_empty() {
        src = src.replace(
            "  - id: post-deploy\n",
            &format!(
                "      - title: After a rollback\n        after: rollback\n        items:\n{after_rollback}\n  - id: post-deploy\n"
            ),
        );
        assert!(src.contains(after_rollback));
    }
    src
}

fn driving(src: &str, snap: Snapshot) -> State {
    let rb = parse_runbook(Path::new("runbook.yaml"), src).unwrap_or_else(|e| panic!("{e}"));
    let mut s = State::new(Arc::new(rb), "lin", t0());
    update(&mut s, Event::Cluster(snap));
    update(
        &mut s,
        Event::Lease(Driver::Driving {
            lease: "erp-production/warroom-erp".into(),
            fence: "1-0000abcd".into(),
        }),
    );
    s
}

fn pod(name: &str, owner: &str, ready: bool, restarts: u32) -> PodView {
    PodView {
        name: name.into(),
        owner: owner.into(),
        ready_containers: ready as u32,
        containers: 1,
        status: if ready {
            "Running"
        } else {
            "ContainerCreating"
        }
        .into(),
        restarts,
        created: Some(t0()),
        message: None,
    }
}

/// Stable at 3 replicas of v0.9.3, its pods as given.
fn snap(pods: Vec<PodView>, image: &str) -> Snapshot {
    let ready = pods.iter().filter(|p| p.ready_containers == 1).count() as u32;
    Snapshot {
        deployments: vec![
            DeployView {
                name: "erp-backend".into(),
                desired: 3,
                replicas: 3,
                updated: 3,
                ready,
                available: ready,
                generation: 1,
                observed_generation: 1,
                revision: "1".into(),
                image: image.into(),
                ..Default::default()
            },
            DeployView {
                name: "erp-backend-canary".into(),
                generation: 1,
                observed_generation: 1,
                revision: "1".into(),
                image: "erp:v1.0.0".into(),
                ..Default::default()
            },
        ],
        replicasets: vec![RsView {
            name: "erp-backend-abc".into(),
            owner: "erp-backend".into(),
            revision: "1".into(),
            image: image.into(),
            desired: 3,
            ready,
            created: None,
        }],
        pods,
        routes: Vec::new(),
    }
}

/// Journal `entry` by `who` and the API's yes to it, as a driving console would have.
fn done(s: &mut State, who: &str, entry: Entry) {
    let intent = s.record(who, entry);
    s.apply(&intent);
    let ok = s.record(
        "console",
        Entry::Outcome {
            of: intent.seq,
            ok: true,
            message: "done".into(),
        },
    );
    s.apply(&ok);
}

fn advance(to: &str) -> Entry {
    Entry::Advance {
        to: to.into(),
        plan: to.into(),
        overridden: vec![],
        override_reason: None,
    }
}

fn ready_pods(restarts: u32) -> Vec<PodView> {
    (1..=3)
        .map(|i| {
            pod(
                &format!("erp-backend-abc-{i}"),
                "erp-backend-abc",
                true,
                restarts,
            )
        })
        .collect()
}

fn tick(s: &mut State, secs: i64) -> Vec<Effect> {
    update(s, Event::Tick(t0() + Duration::seconds(secs)))
}

fn ch(s: &mut State, c: char) -> Vec<Effect> {
    update(
        s,
        Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
    )
}

fn select_item(s: &mut State, id: &str) {
    let i = s.checklist.index_of(id).unwrap();
    s.checklist.collapsed[s.checklist.items[i].phase] = false;
    s.checklist.cursor = s
        .checklist
        .rows()
        .iter()
        .position(|r| *r == Row::Item(i))
        .unwrap();
    s.ui.focus = Pane::Checklist;
}

/// A fresh page-load value: the item follows it at once (and the next second's tick adds
/// nothing more); what was journaled, both together.
fn page_load(s: &mut State, value: f64, secs: i64) -> Vec<Effect> {
    let at = t0() + Duration::seconds(secs);
    let index =
        s.rb.metrics
            .iter()
            .position(|m| m.id == "page-load")
            .unwrap();
    let mut fx = update(
        s,
        Event::Metric {
            index,
            at,
            reading: Reading::Value { value, at },
        },
    );
    fx.extend(tick(s, secs));
    fx
}

/// The item's mark and the evidence it was journaled with.
fn mark(s: &State, id: &str) -> (Mark, Option<String>) {
    let i = s.checklist.index_of(id).unwrap();
    (
        s.checklist.marks[i].mark,
        s.checklist.marks[i].evidence.clone(),
    )
}

fn verified(fx: &[Effect]) -> Vec<(String, Verdict, String)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Journal(r) => match &r.entry {
                Entry::Verified {
                    item,
                    verdict,
                    evidence,
                } => Some((item.clone(), *verdict, evidence.clone())),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn probes(fx: &[Effect]) -> Vec<usize> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Probe { item, .. } => Some(*item),
            _ => None,
        })
        .collect()
}

fn log_has(s: &State, text: &str) -> bool {
    s.comms.iter().any(|c| c.text.contains(text))
}

const PAGE_LOAD: &str = "          - id: prep-page-load
            text: Page load time < 2 s
            verify: {gauge: page-load, below: 2s}
";

#[test]
fn a_gauge_verification_ticks_fails_and_reopens_its_item_with_the_evidence() {
    let mut s = driving(&runbook(PAGE_LOAD, ""), snap(ready_pods(0), "erp:v0.9.3"));
    let i = s.checklist.index_of("prep-page-load").unwrap();
    // No value yet: nothing is ticked, and the gate says it cannot be verified.
    let fx = tick(&mut s, 1);
    assert!(verified(&fx).is_empty(), "{fx:?}");
    assert_eq!(s.checklist.marks[i].mark, Mark::Todo);
    let (_, unknown) = gates(&s, 0);
    assert!(
        unknown
            .iter()
            .any(|u| u.contains("Page load time < 2 s: cannot be verified")
                && u.contains("no value yet")),
        "{unknown:?}"
    );

    // 1.14 s: ticked by the console, with the value in the journal and the log.
    let fx = page_load(&mut s, 1.14, 2);
    let v = verified(&fx);
    assert_eq!(v.len(), 1, "{fx:?}");
    assert_eq!(v[0].0, "prep-page-load");
    assert_eq!(v[0].1, Verdict::Pass);
    assert!(
        v[0].2.contains("1.14 s < 2.00 s") || v[0].2.contains("1.14 s < 2 s"),
        "{}",
        v[0].2
    );
    assert_eq!(s.checklist.marks[i].mark, Mark::Done);
    assert_eq!(s.checklist.marks[i].by.as_deref(), Some("console"));
    assert!(log_has(
        &s,
        "✔ verified: Page load time < 2 s: Page load time p95 1.14"
    ));
    let (blockers, unknown) = gates(&s, 0);
    assert!(
        !blockers.iter().any(|b| b.contains("Page load")),
        "{blockers:?}"
    );
    assert!(
        !unknown.iter().any(|b| b.contains("Page load")),
        "{unknown:?}"
    );
    // The same verdict again journals nothing more.
    assert!(verified(&page_load(&mut s, 1.2, 3)).is_empty());

    // 2.5 s: failed, and the gate is blocked by it, saying what failed.
    let v = verified(&page_load(&mut s, 2.5, 4));
    assert_eq!(v[0].1, Verdict::Fail, "{v:?}");
    assert!(v[0].2.contains("2.50 s ≥ 2"), "{}", v[0].2);
    assert_eq!(s.checklist.marks[i].mark, Mark::Failed);
    let (blockers, _) = gates(&s, 0);
    assert!(
        blockers.iter().any(|b| b
            .starts_with("verification failed: Page load time < 2 s: Page load time p95 2.50 s")),
        "{blockers:?}"
    );

    // Back under, then Prometheus silent: the value goes stale and the item is open
    // again, unknown, never left ticked on old data.
    page_load(&mut s, 1.0, 5);
    assert_eq!(s.checklist.marks[i].mark, Mark::Done);
    let later = 5 + s.stale_after + 1;
    let v = verified(&tick(&mut s, later));
    assert_eq!(v[0].1, Verdict::Unknown, "{v:?}");
    assert!(
        v[0].2.contains("no fresh value since 20:00:05"),
        "{}",
        v[0].2
    );
    assert_eq!(s.checklist.marks[i].mark, Mark::Todo);
    let (_, unknown) = gates(&s, 0);
    assert!(
        unknown
            .iter()
            .any(|u| u.contains("Page load time < 2 s: cannot be verified")),
        "{unknown:?}"
    );
}

#[test]
fn a_verified_item_is_not_ticked_by_hand_nor_by_a_group_tick() {
    let mut s = driving(&runbook(PAGE_LOAD, ""), snap(ready_pods(0), "erp:v0.9.3"));
    let i = s.checklist.index_of("prep-page-load").unwrap();
    select_item(&mut s, "prep-page-load");
    let fx = ch(&mut s, ' ');
    // Space verifies it now (no value yet: still open), and says so.
    assert!(verified(&fx).is_empty());
    assert_eq!(s.checklist.marks[i].mark, Mark::Todo);
    let flash = s.ui.flash.clone().unwrap();
    assert!(
        flash.contains("verifying “Page load time < 2 s”"),
        "{flash}"
    );
    // The group tick leaves it to the console and says so.
    let g = s
        .checklist
        .rows()
        .iter()
        .position(|r| matches!(r, Row::Group(p, _) if *p == 0))
        .unwrap();
    s.checklist.cursor = g;
    ch(&mut s, ' ');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("a group tick asks first: {:?}", s.ui.mode)
    };
    assert!(
        !c.plan.iter().any(|p| p.contains("Page load")),
        "{:?}",
        c.plan
    );
    assert!(
        c.plan
            .iter()
            .any(|p| p.contains("1 left to the console: it verifies them")),
        "{:?}",
        c.plan
    );
    ch(&mut s, 'y');
    assert_eq!(s.checklist.marks[i].mark, Mark::Todo);
}

#[test]
fn pods_ready_ticks_as_the_pods_become_ready() {
    let item = "          - id: prep-pods
            text: All stable pods ready
            verify: {kube: pods_ready, deployment: stable}
";
    let mut pods = ready_pods(0);
    pods[2] = pod("erp-backend-abc-3", "erp-backend-abc", false, 0);
    // Judged as soon as the cluster is seen.
    let mut s = driving(&runbook(item, ""), snap(pods, "erp:v0.9.3"));
    let i = s.checklist.index_of("prep-pods").unwrap();
    // The gate reads it at once; the item is marked failed once the failure has lasted
    // (a rollout passes through states that are not failures).
    let (blockers, _) = gates(&s, 0);
    assert!(
        blockers.iter().any(|b| b
            == "verification failed: All stable pods ready: erp-backend 2/3 pods ready; not ready: erp-backend-abc-3 ContainerCreating"),
        "{blockers:?}"
    );
    assert_eq!(mark(&s, "prep-pods").0, Mark::Todo);
    assert!(verified(&tick(&mut s, 9)).is_empty());
    let v = verified(&tick(&mut s, 10));
    assert!(v.iter().any(|x| x.0 == "prep-pods"), "{v:?}");
    let (m, e) = mark(&s, "prep-pods");
    assert_eq!(m, Mark::Failed);
    assert_eq!(
        e.as_deref(),
        Some("erp-backend 2/3 pods ready; not ready: erp-backend-abc-3 ContainerCreating")
    );
    assert!(log_has(
        &s,
        "✘ verification FAILED: All stable pods ready: erp-backend 2/3"
    ));
    assert!(verified(&tick(&mut s, 11)).is_empty(), "said once");
    let v: Vec<_> = verified(&update(
        &mut s,
        Event::Cluster(snap(ready_pods(0), "erp:v0.9.3")),
    ))
    .into_iter()
    .filter(|x| x.0 == "prep-pods")
    .collect();
    assert_eq!(v[0].1, Verdict::Pass, "{v:?}");
    assert!(v[0].2.contains("erp-backend 3/3 pods ready"), "{}", v[0].2);
    assert_eq!(s.checklist.marks[i].mark, Mark::Done);
    // The API lost: the console cannot know, and says since when.
    update(
        &mut s,
        Event::ClusterLost {
            at: t0() + Duration::seconds(3),
            error: "connection refused".into(),
        },
    );
    let v = verified(&tick(&mut s, 4));
    assert_eq!(v[0].1, Verdict::Unknown, "{v:?}");
    assert!(
        v[0].2
            .contains("the Kubernetes API is unreachable since 20:00:03"),
        "{}",
        v[0].2
    );
}

#[test]
fn restarts_count_from_the_stage_start_and_the_image_is_the_releases() {
    let items = "          - id: prep-restarts
            text: No restarts
            verify: {kube: no_restarts, deployment: stable}
          - id: prep-image
            text: Stable runs the release
            verify: {kube: image, deployment: stable}
";
    // Pods that restarted before: the count starts now.
    let mut s = driving(&runbook(items, ""), snap(ready_pods(4), "erp:v0.9.3"));
    let r = s.checklist.index_of("prep-restarts").unwrap();
    let img = s.checklist.index_of("prep-image").unwrap();
    let find =
        |v: &[(String, Verdict, String)], id: &str| v.iter().find(|x| x.0 == id).cloned().unwrap();
    let (m, e) = mark(&s, "prep-restarts");
    assert_eq!(m, Mark::Done);
    assert!(e.unwrap().contains("no restarts (3 pods)"));
    tick(&mut s, 10);
    let (m, e) = mark(&s, "prep-image");
    assert_eq!(m, Mark::Failed);
    assert_eq!(
        e.as_deref(),
        Some("erp-backend runs erp:v0.9.3, not the release's v1.0.0")
    );
    assert_eq!(s.checklist.marks[img].mark, Mark::Failed);
    // One pod restarts: failed, naming it.
    let mut pods = ready_pods(4);
    pods[1].restarts = 6;
    let mut v = verified(&update(&mut s, Event::Cluster(snap(pods, "erp:v1.0.0"))));
    tick(&mut s, 15);
    v.extend(verified(&tick(&mut s, 20)));
    let restarts = find(&v, "prep-restarts");
    assert_eq!(restarts.1, Verdict::Fail);
    assert!(
        restarts.2.contains("erp-backend-abc-2 restarted 2×"),
        "{}",
        restarts.2
    );
    assert_eq!(s.checklist.marks[r].mark, Mark::Failed);
    assert_eq!(find(&v, "prep-image").1, Verdict::Pass);
}

const PROMQL: &str = "          - id: prep-error-budget
            text: Error ratio under 1 %
            verify: {promql: 'sum(rate(http_requests_total{code=~\"5..\"}[5m])) / sum(rate(http_requests_total[5m]))', below: 0.01}
";

#[test]
fn a_probe_is_sent_while_it_applies_repeated_and_its_verdict_settles_the_item() {
    let mut s = driving(&runbook(PROMQL, ""), snap(ready_pods(0), "erp:v0.9.3"));
    let i = s.checklist.index_of("prep-error-budget").unwrap();
    let fx = tick(&mut s, 1);
    assert_eq!(probes(&fx), vec![i], "{fx:?}");
    // In flight: not sent again.
    assert!(probes(&tick(&mut s, 2)).is_empty());
    let (_, unknown) = gates(&s, 0);
    assert!(
        unknown
            .iter()
            .any(|u| u.contains("Error ratio under 1 %: not verified yet: the check is under way")),
        "{unknown:?}"
    );
    let fx = update(
        &mut s,
        Event::Probed {
            item: i,
            at: t0() + Duration::seconds(2),
            outcome: Outcome::pass("0.002 < 0.01".into()),
        },
    );
    assert_eq!(verified(&fx)[0].1, Verdict::Pass);
    assert_eq!(s.checklist.marks[i].mark, Mark::Done);
    // Repeated once its answer is 30 s old.
    assert!(probes(&tick(&mut s, 20)).is_empty());
    assert_eq!(probes(&tick(&mut s, 33)), vec![i]);
    // Unanswered for long and old: the gate no longer takes the old pass.
    let (_, unknown) = gates(
        &{
            let mut s2 = s.clone();
            update(&mut s2, Event::Tick(t0() + Duration::seconds(100)));
            s2
        },
        0,
    );
    assert!(
        unknown
            .iter()
            .any(|u| u.contains("Error ratio under 1 %: last verified at 20:00:02")),
        "{unknown:?}"
    );
    // `v` asks again at once; so does `a` (before the gate is decided).
    update(
        &mut s,
        Event::Probed {
            item: i,
            at: t0() + Duration::seconds(34),
            outcome: Outcome::fail("0.03 ≥ 0.01".into()),
        },
    );
    assert_eq!(s.checklist.marks[i].mark, Mark::Failed);
    assert_eq!(probes(&ch(&mut s, 'v')), vec![i]);
    update(
        &mut s,
        Event::Probed {
            item: i,
            at: t0() + Duration::seconds(35),
            outcome: Outcome::fail("0.03 ≥ 0.01".into()),
        },
    );
    let fx = ch(&mut s, 'a');
    assert_eq!(probes(&fx), vec![i]);
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("the advance dialog: {:?}", s.ui.mode)
    };
    assert!(
        c.blockers
            .iter()
            .any(|b| b == "verification failed: Error ratio under 1 %: 0.03 ≥ 0.01"),
        "{:?}",
        c.blockers
    );
    // The answer arrives while the dialog is read: it follows.
    update(
        &mut s,
        Event::Probed {
            item: i,
            at: t0() + Duration::seconds(36),
            outcome: Outcome::pass("0.004 < 0.01".into()),
        },
    );
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("still the dialog")
    };
    assert!(
        !c.blockers.iter().any(|b| b.contains("Error ratio")),
        "{:?}",
        c.blockers
    );
}

#[test]
fn a_following_console_verifies_nothing_and_shows_the_drivers_verdicts() {
    let mut s = driving(&runbook(PROMQL, ""), snap(ready_pods(0), "erp:v0.9.3"));
    s.follow = Some(warroom::state::Follow {
        source: "lin's journal".into(),
        from_cluster: false,
        records: Vec::new(),
        leader: Some("lin".into()),
        closed: None,
        read: Some(t0()),
        lost: None,
        replay: None,
    });
    assert!(probes(&tick(&mut s, 1)).is_empty());
    assert!(probes(&ch(&mut s, 'v')).is_empty());
    let i = s.checklist.index_of("prep-error-budget").unwrap();
    let rec = s.record(
        "console",
        Entry::Verified {
            item: "prep-error-budget".into(),
            verdict: Verdict::Pass,
            evidence: "0.002 < 0.01".into(),
        },
    );
    s.apply(&rec);
    assert_eq!(s.checklist.marks[i].mark, Mark::Done);
    assert_eq!(
        s.checklist.marks[i].evidence.as_deref(),
        Some("0.002 < 0.01")
    );
}

#[test]
fn post_rollback_checks_apply_after_a_rollback_and_do_not_hold_up_completion() {
    let after = "          - id: rb-stable-ready
            text: Stable serves again
            verify: {kube: available, deployment: stable}";
    let mut s = driving(&runbook("", after), snap(ready_pods(0), "erp:v0.9.3"));
    let i = s.checklist.index_of("rb-stable-ready").unwrap();
    assert!(s.checklist.items[i].after_rollback);
    assert!(
        verified(&tick(&mut s, 1)).is_empty(),
        "not before a rollback"
    );
    assert!(!s.verify_due(i));
    done(
        &mut s,
        "lin",
        Entry::Rollback {
            target: None,
            reason: "bad canary".into(),
            plan: "canary to 0".into(),
            trigger: Some("manual".into()),
        },
    );
    assert!(s.verify_due(i));
    let v = verified(&tick(&mut s, 2));
    let ours: Vec<_> = v.iter().filter(|x| x.0 == "rb-stable-ready").collect();
    assert_eq!(ours.len(), 1, "{v:?}");
    assert_eq!(ours[0].1, Verdict::Pass);
    assert_eq!(ours[0].2, "erp-backend 3/3 available");
    // A required check gating no stage, but after a rollback only: not a
    // post-deployment check.
    let without = driving(&runbook("", ""), snap(ready_pods(0), "erp:v0.9.3"));
    assert_eq!(s.checklist.open_post_checks(), 6, "the demo's own six");
    assert_eq!(without.checklist.open_post_checks(), 6);
}

#[test]
fn a_stale_answer_to_a_probe_for_an_item_that_no_longer_applies_journals_nothing() {
    let mut s = driving(&runbook(PROMQL, ""), snap(ready_pods(0), "erp:v0.9.3"));
    let i = s.checklist.index_of("prep-error-budget").unwrap();
    tick(&mut s, 1);
    // The 10 % stage starts meanwhile: the item gates a stage already past.
    done(&mut s, "lin", advance("canary-10"));
    let fx = update(
        &mut s,
        Event::Probed {
            item: i,
            at: t0() + Duration::seconds(3),
            outcome: Outcome::fail("0.03 ≥ 0.01".into()),
        },
    );
    assert!(verified(&fx).is_empty());
    assert_eq!(s.checklist.marks[i].mark, Mark::Todo);
}

#[test]
fn a_split_gauge_is_verified_on_the_series_named() {
    let item = "          - id: prep-canary-errors
            text: Canary errors under 1 %
            verify: {gauge: canary-error-rate, series: {track: canary}, below: 1%}
";
    let mut s = driving(&runbook(item, ""), snap(ready_pods(0), "erp:v0.9.3"));
    let index =
        s.rb.metrics
            .iter()
            .position(|m| m.id == "canary-error-rate")
            .unwrap();
    let at = t0() + Duration::seconds(1);
    let fx = update(
        &mut s,
        Event::Metric {
            index,
            at,
            reading: Reading::Split(vec![
                Part {
                    key: "stable".into(),
                    value: 3.0,
                    at,
                },
                Part {
                    key: "canary".into(),
                    value: 0.4,
                    at,
                },
            ]),
        },
    );
    let v = verified(&fx);
    assert_eq!(v[0].1, Verdict::Pass, "{v:?}");
    assert!(v[0].2.contains("canary 0.40 % < 1"), "{}", v[0].2);
    assert!(!v[0].2.contains("stable"), "{}", v[0].2);
}

/// Stable and canary as the cluster shows them: (desired, ready pods) each, the stable
/// on `stable_image`.
fn both(stable: (u32, u32), canary: (u32, u32), stable_image: &str) -> Snapshot {
    let dep = |name: &str, (desired, ready): (u32, u32), image: &str| DeployView {
        name: name.into(),
        desired,
        replicas: ready,
        updated: ready,
        ready,
        available: ready,
        generation: 2,
        observed_generation: 2,
        revision: "2".into(),
        image: image.into(),
        ..Default::default()
    };
    let rs = |name: &str, owner: &str, image: &str, n: u32| RsView {
        name: name.into(),
        owner: owner.into(),
        revision: "2".into(),
        image: image.into(),
        desired: n,
        ready: n,
        created: None,
    };
    let pods = (0..stable.1)
        .map(|i| pod(&format!("erp-backend-abc-{i}"), "erp-backend-abc", true, 0))
        .chain((0..canary.1).map(|i| {
            pod(
                &format!("erp-backend-canary-def-{i}"),
                "erp-backend-canary-def",
                true,
                0,
            )
        }))
        .collect();
    Snapshot {
        deployments: vec![
            dep("erp-backend", stable, stable_image),
            dep("erp-backend-canary", canary, "erp:v1.0.0"),
        ],
        replicasets: vec![
            rs("erp-backend-abc", "erp-backend", stable_image, stable.1),
            rs(
                "erp-backend-canary-def",
                "erp-backend-canary",
                "erp:v1.0.0",
                canary.1,
            ),
        ],
        pods,
        routes: Vec::new(),
    }
}

/// The demo release at 10 %, the API having confirmed it.
fn at_ten_percent() -> State {
    let mut s = driving(
        warroom::builtin::DEMO_RUNBOOK,
        both((9, 9), (1, 1), "erp:v0.9.3"),
    );
    done(&mut s, "lin", advance("canary-10"));
    s
}

fn screen(s: &State, w: u16, h: u16) -> String {
    let view = warroom::ui::View::new(warroom::layout::builtin("war-room"));
    let mut buf = ratatui::buffer::Buffer::empty(ratatui::layout::Rect::new(0, 0, w, h));
    warroom::ui::draw_into(s, &view, &mut buf);
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn said(fx: &[Effect]) -> Vec<String> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Journal(r) => match &r.entry {
                Entry::System { text, .. } => Some(text.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// `R` at 10%, with a reason: the rollback's request is sent; its record's number.
fn roll_back(s: &mut State) -> u64 {
    ch(s, 'R');
    for c in "canary errors".chars() {
        ch(s, c);
    }
    let fx = update(
        s,
        Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    match fx.iter().find(|e| matches!(e, Effect::Kube { .. })) {
        Some(Effect::Kube { seq, .. }) => *seq,
        _ => panic!("the rollback is sent: {fx:?}"),
    }
}

#[test]
fn the_rollback_plan_shows_what_the_console_does_and_ticks_it_as_the_cluster_confirms() {
    let mut s = at_ten_percent();
    let seq = roll_back(&mut s);
    // In the rollback plan's place: the console's own three steps, none done yet.
    let live = s.checklist.live.clone().expect("the live rollback");
    assert!(!s.stages.rollback_undo);
    let texts: Vec<&str> = live.steps.iter().map(|st| st.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "kubectl scale deployment/erp-backend-canary --replicas=0; deployment/erp-backend --replicas=10",
            "kubectl rollout status deployment/erp-backend: successfully rolled out",
            "kubectl get pods: no erp-backend-canary pod left",
        ]
    );
    assert!(live.steps.iter().all(|st| !st.done));
    let rows = s.checklist.rows();
    assert!(rows.contains(&Row::Live(0)) && rows.contains(&Row::Live(2)));
    let seed = s.checklist.index_of("rb-scale-canary").unwrap();
    assert!(
        !rows.contains(&Row::Item(seed)),
        "the seed's commands give way"
    );
    let Mode::Emergency { .. } = s.ui.mode else {
        panic!("the emergency plan opens on a rollback: {:?}", s.ui.mode)
    };
    s.ui.mode = Mode::Normal;
    let text = screen(&s, 160, 48);
    assert!(
        text.contains("◌  1. kubectl scale deployment/erp-backend-canar"),
        "{text}"
    );
    // Space on a step: the console's to tick.
    s.ui.focus = Pane::Checklist;
    s.checklist.cursor = rows.iter().position(|r| *r == Row::Live(0)).unwrap();
    assert!(ch(&mut s, ' ').is_empty());
    assert!(
        s.ui.flash
            .as_deref()
            .is_some_and(|f| f.contains("ticked when the cluster shows it done"))
    );

    // The API answers; the cluster scales: steps 1 and 2 confirmed, each said once.
    update(
        &mut s,
        Event::Outcome {
            seq,
            ok: true,
            message: "scaled".into(),
        },
    );
    let fx = update(&mut s, Event::Cluster(both((10, 10), (0, 1), "erp:v0.9.3")));
    let lines = said(&fx);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("✔ rollback step 1/3 confirmed by the cluster: kubectl scale")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l == "✔ rollback step 2/3 confirmed by the cluster: kubectl rollout status deployment/erp-backend: successfully rolled out (10/10 available)"),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("step 3/3")), "{lines:?}");
    assert!(
        said(&update(
            &mut s,
            Event::Cluster(both((10, 10), (0, 1), "erp:v0.9.3"))
        ))
        .is_empty()
    );
    // The last canary pod gone: done, and the post-rollback checks apply.
    let fx = update(&mut s, Event::Cluster(both((10, 10), (0, 0), "erp:v0.9.3")));
    let lines = said(&fx);
    assert!(
        lines.iter().any(|l| l == "✔ rollback step 3/3 confirmed by the cluster: kubectl get pods: no erp-backend-canary pod left (0 erp-backend-canary pods)"),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l == "the rollback is done in the cluster: every step confirmed; the post-rollback checks apply now"),
        "{lines:?}"
    );
    // The post-rollback checks were verified as soon as they applied.
    assert_eq!(
        mark(&s, "rb-stable-serves"),
        (Mark::Done, Some("erp-backend 10/10 available".into()))
    );
    let text = screen(&s, 160, 48);
    assert!(
        text.contains("✔  3. kubectl get pods: no erp-backend-canary p… 20:00:00"),
        "{text}"
    );
    assert!(
        text.contains("Rollback plan                                         4/5"),
        "{text}"
    );
    // A new attempt: the runbook's steps are back.
    done(&mut s, "lin", advance("canary-10"));
    update(&mut s, Event::Cluster(both((9, 9), (1, 1), "erp:v0.9.3")));
    assert!(s.checklist.live.is_none());
    assert!(s.checklist.rows().contains(&Row::Item(seed)));
}

/// A console restarted on a journal whose rollback is done in the cluster does not say
/// each step again: until it sees the cluster it does not know them, and what its first
/// look shows done is not news.
#[test]
fn a_restart_after_a_rollback_does_not_announce_its_steps_again() {
    let mut s = at_ten_percent();
    let seq = roll_back(&mut s);
    update(
        &mut s,
        Event::Outcome {
            seq,
            ok: true,
            message: "scaled".into(),
        },
    );
    // The restart: the journal's story, nothing seen of the cluster yet.
    s.checklist.live = None;
    s.cluster = Default::default();
    let next = s.now + chrono::Duration::seconds(1);
    let fx = update(&mut s, Event::Tick(next));
    assert!(
        s.checklist.live.is_none(),
        "no steps before the cluster is seen"
    );
    assert!(!said(&fx).iter().any(|l| l.contains("rollback step")));
    let fx = update(&mut s, Event::Cluster(both((10, 10), (0, 0), "erp:v0.9.3")));
    let live = s.checklist.live.clone().expect("the live rollback");
    assert!(live.steps.iter().all(|st| st.done), "{:?}", live.steps);
    let lines = said(&fx);
    assert!(
        !lines.iter().any(|l| l.contains("rollback step")),
        "{lines:?}"
    );
}

#[test]
fn after_promotion_the_rollback_plan_is_the_undo_its_rollout_and_its_pods() {
    let mut s = at_ten_percent();
    done(&mut s, "lin", advance("full"));
    update(&mut s, Event::Cluster(both((10, 10), (0, 0), "erp:v1.0.0")));
    let rb = s.record(
        "lin",
        Entry::Rollback {
            target: None,
            reason: "orders failing".into(),
            plan: "undo".into(),
            trigger: Some("manual".into()),
        },
    );
    s.apply(&rb);
    update(&mut s, Event::Tick(t0() + Duration::seconds(1)));
    let live = s.checklist.live.clone().expect("the live rollback");
    assert!(s.stages.rollback_undo);
    assert_eq!(
        live.steps[0].text,
        "kubectl rollout undo deployment/erp-backend (resumed first if paused)"
    );
    assert_eq!(live.steps[0].seen, "erp-backend still runs erp:v1.0.0");
    assert!(live.steps.iter().all(|st| !st.done) || !live.steps[0].done);
    let ok = s.record(
        "console",
        Entry::Outcome {
            of: rb.seq,
            ok: true,
            message: "rolled back to revision 1".into(),
        },
    );
    s.apply(&ok);
    let fx = update(&mut s, Event::Cluster(both((10, 10), (0, 0), "erp:v0.9.3")));
    let lines = said(&fx);
    assert!(
        lines.iter().any(|l| l == "✔ rollback step 1/4 confirmed by the cluster: kubectl rollout undo deployment/erp-backend (resumed first if paused) (erp-backend runs erp:v0.9.3 again)"),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("✔ rollback step 3/4 confirmed by the cluster: kubectl get pods: every erp-backend pod ready (10/10 ready (10 pods))")),
        "{lines:?}"
    );
}

#[test]
fn passes_reached_together_are_one_line_in_the_log_and_each_in_the_journal() {
    let items = "          - id: prep-pods
            text: All stable pods ready
            verify: {kube: pods_ready, deployment: stable}
          - id: prep-restarts
            text: No restarts
            verify: {kube: no_restarts, deployment: stable}
";
    let rb = parse_runbook(Path::new("runbook.yaml"), &runbook(items, "")).unwrap();
    let mut s = State::new(Arc::new(rb), "lin", t0());
    let fx = update(&mut s, Event::Cluster(snap(ready_pods(0), "erp:v0.9.3")));
    let v = verified(&fx);
    assert_eq!(v.len(), 3, "each in the journal: {v:?}");
    let lines: Vec<&str> = s
        .comms
        .iter()
        .map(|c| c.text.as_str())
        .filter(|t| t.contains("verified"))
        .collect();
    assert_eq!(
        lines,
        [
            "✔ verified 3 checks: Rollback image ready (erp-backend:v0.9.3); All stable pods ready; No restarts"
        ]
    );
    // A restart rebuilds the same line from the journal.
    let records: Vec<_> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Journal(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    let mut again = State::new(s.rb.clone(), "lin", t0());
    for r in &records {
        again.apply(r);
    }
    assert_eq!(again.comms.last().map(|c| c.text.as_str()), Some(lines[0]));
}

/// A rollout under way is not a failure: the gate waits for it, the item is not marked
/// failed; past its progress deadline it is.
#[test]
fn a_rollout_still_progressing_blocks_the_gate_but_fails_nothing_until_its_deadline() {
    let item = "          - id: prep-stable
            text: Stable available
            verify: {kube: available, deployment: stable}
";
    let mut rolling = snap(ready_pods(0), "erp:v0.9.3");
    rolling.deployments[0].updated = 1;
    let mut s = driving(&runbook(item, ""), rolling.clone());
    let mut journaled = Vec::new();
    for t in [1, 10, 20, 40] {
        journaled.extend(verified(&tick(&mut s, t)));
    }
    assert!(
        !journaled
            .iter()
            .any(|x| x.0 == "prep-stable" && x.1 == Verdict::Fail),
        "{journaled:?}"
    );
    assert_eq!(mark(&s, "prep-stable").0, Mark::Todo);
    let (blockers, _) = gates(&s, 0);
    assert!(
        blockers.iter().any(|b| b
            == "verification failed: Stable available: erp-backend: rolling out: 1 out of 3 new replicas have been updated"),
        "{blockers:?}"
    );
    // Past its progress deadline: a failure, marked once it has lasted.
    rolling.deployments[0].conditions = vec![(
        "Progressing".into(),
        "False".into(),
        "ProgressDeadlineExceeded".into(),
        "ReplicaSet has timed out progressing.".into(),
    )];
    update(&mut s, Event::Cluster(rolling));
    tick(&mut s, 41);
    tick(&mut s, 52);
    let (m, e) = mark(&s, "prep-stable");
    assert_eq!(m, Mark::Failed);
    assert!(
        e.unwrap().contains("exceeded its progress deadline"),
        "the evidence says why"
    );
}

/// A console restarted on its journal has heard nothing yet: the verdicts the journal
/// holds stand (no "no longer verified" churn), while the gate, which reads fresh
/// verdicts only, says it cannot judge yet.
#[test]
fn a_restarted_console_does_not_reopen_items_before_it_has_heard_anything() {
    let rb = parse_runbook(Path::new("runbook.yaml"), &runbook(PAGE_LOAD, "")).unwrap();
    let mut s = State::new(Arc::new(rb), "lin", t0());
    let rec = s.record(
        "console",
        Entry::Verified {
            item: "prep-page-load".into(),
            verdict: Verdict::Pass,
            evidence: "Page load time p95 1.14 s < 2.00 s".into(),
        },
    );
    s.apply(&rec);
    let fx = tick(&mut s, 1);
    assert!(verified(&fx).is_empty(), "{fx:?}");
    assert_eq!(mark(&s, "prep-page-load").0, Mark::Done);
    let (_, unknown) = gates(&s, 0);
    assert!(
        unknown
            .iter()
            .any(|u| u.contains("Page load time < 2 s: cannot be verified")
                && u.contains("no value yet")),
        "{unknown:?}"
    );
    // Prometheus answers and the value is gone stale or bad: that is news, and recorded.
    let v = verified(&page_load(&mut s, 2.5, 2));
    assert_eq!(v[0].1, Verdict::Fail);
}

/// A failure stays a failure when the data goes: only a pass clears it, and the gate stays
/// blocked (not merely unknown, which a reason could override).
#[test]
fn losing_the_data_does_not_loosen_a_failed_verification() {
    let mut s = driving(&runbook(PAGE_LOAD, ""), snap(ready_pods(0), "erp:v0.9.3"));
    page_load(&mut s, 2.5, 1);
    assert_eq!(mark(&s, "prep-page-load").0, Mark::Failed);
    let later = 1 + s.stale_after + 1;
    assert!(
        verified(&tick(&mut s, later)).is_empty(),
        "nothing new is known"
    );
    assert_eq!(mark(&s, "prep-page-load").0, Mark::Failed);
    let (blockers, unknown) = gates(&s, 0);
    assert!(
        blockers.iter().any(|b| b.starts_with(
            "verification failed: Page load time < 2 s: Page load time p95 2.50 s ≥ 2.00 s (at 20:00:00), and it cannot be checked now: Page load time p95: no fresh value since 20:00:01"
        )),
        "{blockers:?}"
    );
    assert!(
        !unknown.iter().any(|u| u.contains("Page load time < 2 s")),
        "{unknown:?}"
    );
    // A fresh pass clears it.
    let v = verified(&page_load(&mut s, 1.0, later + 1));
    assert_eq!(v[0].1, Verdict::Pass);
}

/// A Deployment with no replicas is not "all pods ready": 0/0 proves nothing.
#[test]
fn no_replicas_is_not_all_ready() {
    let item = "          - id: prep-canary-pods
            text: Canary pods ready
            verify: {kube: pods_ready, deployment: canary}
";
    let s = driving(&runbook(item, ""), snap(ready_pods(0), "erp:v0.9.3"));
    let (blockers, _) = gates(&s, 0);
    assert!(
        blockers.iter().any(|b| b
            == "verification failed: Canary pods ready: erp-backend-canary has 0 replicas: nothing serves"),
        "{blockers:?}"
    );
    assert_ne!(mark(&s, "prep-canary-pods").0, Mark::Done);
}
