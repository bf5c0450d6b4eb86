//! A release of several services: `targets:` in the runbook, each stage applied to every
//! target in the runbook's order, a rollback of every target in the reverse order, drift
//! and the rollout pane per target. Pure: keys and events in, state and effects out.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use warroom::effect::{Effect, KubeOp};
use warroom::event::Event;
use warroom::runbook::parse_runbook;
use warroom::state::cluster::{DeployView, PodView, RouteKind, RouteView, RsView, Snapshot};
use warroom::state::{Driver, Mode, State};
use warroom::update::update;

const RELEASE: &str = "\
release:
  name: ERP
  version: v1.0.0
  date: 2026-01-02
  owner: Ops
  planned_duration: 1h
targets:
  - name: backend
    namespace: erp
    stable: erp-backend
    canary: erp-backend-canary
    traffic: {strategy: replica-ratio, replicas: 10}
  - name: frontend
    namespace: erp
    stable: erp-frontend
    canary: erp-frontend-canary
    traffic: {strategy: gateway-api}
  - namespace: erp
    stable: erp-worker
    canary: erp-worker-canary
    traffic: {strategy: replica-ratio, replicas: 4}
stages:
  - {id: c10, title: Canary 10%, traffic: 10, hold: 1m}
  - {id: full, title: Full, traffic: 100, hold: 1m}
phases:
  - id: prep
    title: Prep
    gates: c10
    groups:
      - title: Backups
        items:
          - id: backup
            text: Back up the database
";

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T20:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Each target's stable and canary at these replica counts (all ready), the frontend's
/// HTTPRoute at `route` percent to its canary.
fn cluster(counts: [(u32, u32); 3], route: u32) -> Snapshot {
    let mut snap = Snapshot::default();
    for ((stable, canary), (name, tag)) in counts.into_iter().zip([
        ("erp-backend", "v1.0.0"),
        ("erp-frontend", "v2.4.0"),
        ("erp-worker", "v1.0.0"),
    ]) {
        for (deploy, n, image) in [
            (name.to_string(), stable, format!("{name}:old")),
            (format!("{name}-canary"), canary, format!("{name}:{tag}")),
        ] {
            snap.deployments.push(DeployView {
                name: deploy.clone(),
                desired: n,
                replicas: n,
                updated: n,
                ready: n,
                available: n,
                generation: 1,
                observed_generation: 1,
                revision: "1".into(),
                image: image.clone(),
                ..Default::default()
            });
            let rs = format!("{deploy}-5d8f");
            snap.replicasets.push(RsView {
                name: rs.clone(),
                owner: deploy.clone(),
                revision: "1".into(),
                image,
                desired: n,
                ready: n,
                created: None,
            });
            for i in 0..n {
                snap.pods.push(PodView {
                    name: format!("{rs}-{i}"),
                    owner: rs.clone(),
                    ready_containers: 1,
                    containers: 1,
                    status: "Running".into(),
                    created: Some(t0() - Duration::hours(1)),
                    ..Default::default()
                });
            }
        }
    }
    snap.routes = vec![RouteView {
        kind: RouteKind::HttpRoute,
        name: "erp-frontend".into(),
        backends: vec![
            ("erp-frontend".into(), 100 - route),
            ("erp-frontend-canary".into(), route),
        ],
    }];
    snap
}

fn key(s: &mut State, c: char) -> Vec<Effect> {
    update(
        s,
        Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
    )
}

fn driving() -> State {
    driving_on(RELEASE, &mut Vec::new())
}

/// The release of runbook `src` driven by this console, its cluster before any stage;
/// what it journals is kept in `journal`.
fn driving_on(src: &str, journal: &mut Vec<warroom::journal::Record>) -> State {
    let rb = parse_runbook(Path::new("release.yaml"), src).unwrap_or_else(|e| panic!("{e}"));
    let mut s = State::new(Arc::new(rb), "lin", t0());
    run(
        &mut s,
        journal,
        Event::Cluster(cluster([(10, 0), (6, 2), (4, 0)], 0)),
    );
    run(
        &mut s,
        journal,
        Event::Lease(Driver::Driving {
            lease: "erp/warroom-erp-v1.0.0".into(),
            fence: "1-0000abcd".into(),
        }),
    );
    s
}

/// Tick the item that gates the 10% stage, as the lead would.
fn tick_backup(s: &mut State, journal: &mut Vec<warroom::journal::Record>) {
    let i = s.checklist.index_of("backup").unwrap();
    s.checklist.collapsed[s.checklist.items[i].phase] = false;
    s.checklist.cursor = s
        .checklist
        .rows()
        .iter()
        .position(|r| *r == warroom::state::Row::Item(i))
        .unwrap();
    run(s, journal, press(' '));
}

/// The journal of an earlier console: the 10% stage confirmed by the API, every target
/// moved, its records numbered from `seq`.
fn at_ten_percent(s: &mut State, seq: u64) {
    for (n, entry) in [
        warroom::journal::Entry::Advance {
            to: "c10".into(),
            plan: "Shift traffic to 10% on 3 services".into(),
            overridden: vec![],
            override_reason: None,
        },
        warroom::journal::Entry::Outcome {
            of: seq,
            ok: true,
            message: "ok".into(),
        },
    ]
    .into_iter()
    .enumerate()
    {
        s.apply(&warroom::journal::Record {
            seq: seq + n as u64,
            at: t0(),
            who: "lin".into(),
            entry,
        });
    }
}

fn screen(s: &State, w: u16, h: u16) -> String {
    let view = warroom::ui::View::new(warroom::layout::builtin("war-room"));
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| warroom::ui::draw_into(s, &view, f.buffer_mut()))
        .unwrap();
    let buf = term.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

fn kube_op(fx: &[Effect]) -> (u64, KubeOp) {
    fx.iter()
        .find_map(|e| match e {
            Effect::Kube { seq, op, .. } => Some((*seq, op.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no kube effect in {fx:?}"))
}

#[test]
fn targets_load_with_their_names_and_the_single_form_is_one_target() {
    let rb = parse_runbook(Path::new("release.yaml"), RELEASE).unwrap();
    let names: Vec<&str> = rb.targets.iter().map(|k| k.name()).collect();
    assert_eq!(names, ["backend", "frontend", "erp-worker"]);
    assert_eq!(rb.namespace(), "erp");
    let one = parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK).unwrap();
    assert_eq!(one.targets.len(), 1);
    assert_eq!(one.targets[0].name(), "erp-backend");
}

#[test]
fn check_refuses_targets_that_cannot_be_one_release() {
    let refused = |src: String| -> String {
        parse_runbook(Path::new("release.yaml"), &src)
            .expect_err("refused")
            .to_string()
    };
    let both = RELEASE.replace(
        "targets:\n",
        "kubernetes:\n  namespace: erp\n  stable: a\n  canary: b\n  traffic: {strategy: replica-ratio, replicas: 2}\ntargets:\n",
    );
    let m = refused(both);
    assert!(
        m.contains("both `kubernetes:` and `targets:` are set"),
        "{m}"
    );
    let m = refused(RELEASE.replace("name: frontend", "name: backend"));
    assert!(
        m.contains("release.yaml:13:") && m.contains("two targets are called `backend`"),
        "{m}"
    );
    let m = refused(RELEASE.replace("stable: erp-worker", "stable: erp-backend"));
    assert!(
        m.contains("Deployment erp-backend belongs to another target already"),
        "{m}"
    );
    let m = refused(RELEASE.replacen(
        "namespace: erp\n    stable: erp-worker",
        "namespace: jobs\n    stable: erp-worker",
        1,
    ));
    assert!(
        m.contains("every target must be in one namespace, `erp`"),
        "{m}"
    );
    let none = RELEASE.split("targets:").next().unwrap().to_string()
        + &RELEASE[RELEASE.find("stages:").unwrap()..];
    let m = refused(none);
    assert!(m.contains("missing field `kubernetes`"), "{m}");
}

/// One confirmation lists every target's step in the runbook's order, and one action
/// makes them in that order; the rollback goes back in the reverse order, each target
/// the way its strategy does it.
#[test]
fn a_stage_moves_every_target_in_order_and_a_rollback_returns_them_in_reverse() {
    let mut s = driving();
    tick_backup(&mut s, &mut Vec::new());
    key(&mut s, 'a');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("{:?}", s.ui.flash)
    };
    assert_eq!(
        c.title,
        "Shift traffic to 10% on 3 services: backend → frontend → erp-worker"
    );
    assert!(c.blockers.is_empty(), "{:?}", c.blockers);
    let plan = c.plan.join("\n");
    for line in [
        "1. backend: Shift traffic to 10%: scale erp-backend-canary to 1 and erp-backend to 9",
        "2. frontend: Shift traffic to 10%: HTTPRoute erp-frontend weights erp-frontend=90, erp-frontend-canary=10",
        "3. erp-worker: Shift traffic to 10%: scale erp-worker-canary to 1 and erp-worker to 3",
    ] {
        assert!(plan.contains(line), "{line}\nnot in\n{plan}");
    }
    let screen80 = screen(&s, 80, 24);
    assert!(screen80.contains("on 3 services"), "{screen80}");
    let (seq, op) = kube_op(&key(&mut s, 'y'));
    let KubeOp::Steps(ops) = &op else {
        panic!("{op:?}")
    };
    let touched: Vec<Vec<&String>> = ops.iter().map(|o| o.deployments()).collect();
    assert_eq!(
        touched,
        [
            vec!["erp-backend-canary", "erp-backend"],
            vec!["erp-frontend-canary", "erp-frontend"],
            vec!["erp-worker-canary", "erp-worker"],
        ]
    );
    assert!(
        matches!(&ops[1], KubeOp::Weights { kind: RouteKind::HttpRoute, route, .. } if route == "erp-frontend")
    );
    update(&mut s, ok(seq));
    assert_eq!(s.stages.current, Some(0));
    // The frontend's route did not move: the drift names it, not the others.
    update(&mut s, Event::Cluster(cluster([(9, 1), (6, 2), (3, 1)], 0)));
    let drift = s.cluster_disagreement().expect("the frontend is behind");
    assert_eq!(
        drift,
        "HTTPRoute erp-frontend sends 0% to erp-frontend-canary; Canary 10% means 10%"
    );
    let head = screen(&s, 160, 48);
    assert!(
        head.lines().next().unwrap().contains("◆ frontend behind"),
        "{head}"
    );
    update(
        &mut s,
        Event::Cluster(cluster([(9, 1), (6, 2), (3, 1)], 10)),
    );
    assert_eq!(s.cluster_disagreement(), None);
    assert!(!screen(&s, 160, 48).contains('◆'));
    // The worker's canary fails its rollout: the header names it, at 80 columns too.
    let mut failed = cluster([(9, 1), (6, 2), (3, 1)], 10);
    let d = failed
        .deployments
        .iter_mut()
        .find(|d| d.name == "erp-worker-canary")
        .unwrap();
    d.ready = 0;
    d.available = 0;
    d.conditions = vec![(
        "Progressing".into(),
        "False".into(),
        "ProgressDeadlineExceeded".into(),
        "ReplicaSet \"erp-worker-canary-5d8f\" has timed out progressing.".into(),
    )];
    update(&mut s, Event::Cluster(failed));
    let head = screen(&s, 80, 24);
    assert!(
        head.lines()
            .next()
            .unwrap()
            .contains("◆ erp-worker canary: rollout failed"),
        "{head}"
    );
    update(
        &mut s,
        Event::Cluster(cluster([(9, 1), (6, 2), (3, 1)], 10)),
    );

    key(&mut s, 'R');
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("{:?}", s.ui.flash)
    };
    assert_eq!(
        c.title,
        "Roll back on 3 services: erp-worker → frontend → backend"
    );
    let plan = c.plan.join("\n");
    assert!(
        plan.contains("1. erp-worker: Roll back: scale erp-worker-canary to 0 and erp-worker to 4")
            && plan.contains(
                "2. frontend: Roll back: HTTPRoute erp-frontend sends all traffic to erp-frontend"
            )
            && plan.contains(
                "3. backend: Roll back: scale erp-backend-canary to 0 and erp-backend to 10"
            ),
        "{plan}"
    );
    for c in "canary errors".chars() {
        key(&mut s, c);
    }
    let fx = update(
        &mut s,
        Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let (_, op) = kube_op(&fx);
    let KubeOp::Steps(ops) = &op else {
        panic!("{op:?}")
    };
    let first: Vec<&String> = ops.iter().map(|o| o.deployments()[0]).collect();
    assert_eq!(first, ["erp-worker", "erp-frontend-canary", "erp-backend"]);
}

/// The rollout pane groups each target's traffic, Deployments and pods under its name.
#[test]
fn the_rollout_pane_shows_each_target_under_its_name() {
    let mut s = driving();
    s.ui.focus = warroom::layout::Pane::Rollout;
    let text = screen(&s, 160, 48);
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle} not on screen:\n{text}"))
    };
    assert!(at("▌backend") < at("▌frontend") && at("▌frontend") < at("▌erp-worker"));
    // Each heading carries its target's split and what makes it.
    assert!(
        text.contains("▌frontend  canary 0% · stable 100%  by HTTPRoute"),
        "{text}"
    );
    assert!(text.contains("▌backend  canary 0% · stable 100%  by ready pods"));
    // A line per Deployment, with its version and its pods ready, under its target.
    assert!(at(" erp-frontend-canary v2.4.0 ████") > at("▌frontend"));
    assert!(at("erp-frontend-canary v2.4.0") < at("▌erp-worker"));
    assert!(at(" erp-frontend        old    ██████████   6/6   complete") > at("▌frontend"));
    // The pods come after every target's summary, target by target, each canary's
    // before its stable's.
    assert!(at("erp-backend pods (10)") > at("▌erp-worker"));
    // The pod cursor on the frontend's first stable pod keeps it in view.
    s.ui.pod_cursor = 12;
    let text = screen(&s, 160, 48);
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle} not on screen:\n{text}"))
    };
    assert!(at("erp-frontend-canary pods (2)") < at("erp-frontend pods (6)"));
}

/// A stage with an `order` moves one target at a time: the next once the cluster shows
/// the one before it done; its hold starts when the last has moved; a step the API
/// refuses stops the stage, and the gate says to roll back.
#[test]
fn a_stage_in_order_moves_each_target_once_the_one_before_is_done() {
    let src = RELEASE
        .replace(
            "traffic: 10, hold: 1m}",
            "traffic: 10, hold: 1m, order: [backend, frontend, erp-worker]}",
        )
        .replace(
            "            text: Back up the database\n",
            "            text: Back up the database\n  - id: canary\n    title: Canary\n    gates: full\n    groups:\n      - title: At 10%\n        items:\n          - id: pods\n            text: Every canary pod ready\n            verify: {kube: pods_ready, deployment: canary}\n",
        );
    let mut journal = Vec::new();
    let mut s = driving_on(&src, &mut journal);
    tick_backup(&mut s, &mut journal);
    run(&mut s, &mut journal, press('a'));
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("{:?}", s.ui.flash)
    };
    assert_eq!(
        c.title,
        "Shift traffic to 10% on 3 services, one after another: backend → frontend → erp-worker"
    );
    assert!(
        c.plan
            .join("\n")
            .contains("Each target moves once the cluster shows the one before it done")
    );
    // The action is the backend's alone.
    let (seq, op) = kube_op(&run(&mut s, &mut journal, press('y')));
    assert_eq!(op.deployments(), ["erp-backend-canary", "erp-backend"]);
    run(&mut s, &mut journal, ok(seq));
    assert_eq!(s.stages.current, Some(0));
    assert_eq!(s.held(), 0, "the hold waits for the last target");
    let (blockers, _) = warroom::update::gates(&s, 1);
    assert!(
        blockers.iter().any(|b| b == "frontend, erp-worker still to move at this stage, one after another; its hold starts when the last has"),
        "{blockers:?}"
    );
    assert!(
        screen(&s, 80, 24)
            .lines()
            .next()
            .unwrap()
            .contains("1 of 3 targets moved")
    );
    // The backend's canary pod is not ready yet: nothing moves.
    let mut starting = cluster([(9, 1), (6, 2), (4, 0)], 0);
    for d in starting
        .deployments
        .iter_mut()
        .filter(|d| d.name == "erp-backend-canary")
    {
        d.ready = 0;
        d.available = 0;
    }
    assert!(
        run(&mut s, &mut journal, Event::Cluster(starting))
            .iter()
            .all(|e| !matches!(e, Effect::Kube { .. }))
    );
    // Ready: the frontend's step goes, journaled as the console's own.
    let fx = run(
        &mut s,
        &mut journal,
        Event::Cluster(cluster([(9, 1), (6, 2), (4, 0)], 0)),
    );
    let (seq, op) = kube_op(&fx);
    assert!(
        matches!(&op, KubeOp::Weights { route, weights, .. } if route == "erp-frontend" && weights[1].1 == 10),
        "{op:?}"
    );
    let journaled = fx.iter().find_map(|e| match e {
        Effect::Journal(r) => match &r.entry {
            warroom::journal::Entry::Step { plan, target } => Some((plan.clone(), target.clone())),
            _ => None,
        },
        _ => None,
    });
    let (plan, target) = journaled.expect("the step is journaled before it is sent");
    assert_eq!(target.as_deref(), Some("frontend"));
    assert!(
        plan.starts_with("frontend: Shift traffic to 10%: HTTPRoute erp-frontend"),
        "{plan}"
    );
    assert!(
        plan.ends_with("(backend's is done in the cluster)"),
        "{plan}"
    );
    // The canaries' check reads the canary that has moved, not those still waiting their
    // turn (the worker's has no pods at all).
    let pods = s.checklist.index_of("pods").unwrap();
    let (verdict, _) = s.checklist.checks[pods].last.clone().expect("judged");
    assert_eq!(
        verdict.verdict,
        warroom::journal::Verdict::Pass,
        "{}",
        verdict.evidence
    );
    assert_eq!(verdict.evidence, "erp-backend-canary 1/1 pods ready");
    // A console restarted on the journal so far knows the frontend's step is in flight
    // and the worker still waits its turn.
    let records = journal.clone();
    let mut again = State::new(s.rb.clone(), "lin", t0());
    for r in &records {
        again.apply(r);
    }
    assert_eq!(again.stages.current, Some(0));
    assert_eq!(again.stages.queue, vec![1, 2]);
    assert_eq!(again.stages.queue, s.stages.queue);
    assert!(matches!(
        again.stages.pending.as_ref().map(|p| &p.entry),
        Some(warroom::journal::Entry::Step { target: Some(t), .. }) if t == "frontend"
    ));
    // Nothing more while it is in flight.
    assert!(
        run(
            &mut s,
            &mut journal,
            Event::Cluster(cluster([(9, 1), (6, 2), (4, 0)], 0))
        )
        .iter()
        .all(|e| !matches!(e, Effect::Kube { .. }))
    );
    run(&mut s, &mut journal, ok(seq));
    // The worker's step is refused: the stage stops, the gate says to roll back.
    let (seq, op) = kube_op(&run(
        &mut s,
        &mut journal,
        Event::Cluster(cluster([(9, 1), (6, 2), (4, 0)], 10)),
    ));
    assert_eq!(op.deployments(), ["erp-worker-canary", "erp-worker"]);
    run(
        &mut s,
        &mut journal,
        Event::Outcome {
            seq,
            ok: false,
            message: "forbidden (403)".into(),
        },
    );
    assert!(
        run(
            &mut s,
            &mut journal,
            Event::Cluster(cluster([(9, 1), (6, 2), (4, 0)], 10))
        )
        .iter()
        .all(|e| !matches!(e, Effect::Kube { .. }))
    );
    let (blockers, _) = warroom::update::gates(&s, 1);
    assert!(
        blockers.iter().any(|b| b.starts_with("the stage stopped before it moved every target (erp-worker's step failed: forbidden (403)): roll back (R)")),
        "{blockers:?}"
    );
    // The rollback returns what moved; the worker, never moved, has nothing to return.
    run(&mut s, &mut journal, press('R'));
    let Mode::Confirm(c) = &s.ui.mode else {
        panic!("{:?}", s.ui.flash)
    };
    assert_eq!(c.title, "Roll back on 2 services: frontend → backend");
    assert!(
        c.plan
            .iter()
            .any(|l| l == "(nothing to roll back: erp-worker-canary has no replicas)"),
        "{:?}",
        c.plan
    );
}

/// On a loaded machine the cluster can show a target's step done before the API's answer
/// to it arrives; then nothing more comes from the quiet cluster, and the next target
/// must still move, on the answer.
#[test]
fn the_next_target_moves_when_the_answer_comes_after_the_cluster_shows_the_step_done() {
    let src = RELEASE.replace(
        "traffic: 10, hold: 1m}",
        "traffic: 10, hold: 1m, order: [backend, frontend, erp-worker]}",
    );
    let mut journal = Vec::new();
    let mut s = driving_on(&src, &mut journal);
    tick_backup(&mut s, &mut journal);
    run(&mut s, &mut journal, press('a'));
    let (seq, _) = kube_op(&run(&mut s, &mut journal, press('y')));
    // The backend's canary is up and ready while its answer is still on its way.
    let early = run(
        &mut s,
        &mut journal,
        Event::Cluster(cluster([(9, 1), (6, 0), (4, 0)], 0)),
    );
    assert!(early.iter().all(|e| !matches!(e, Effect::Kube { .. })));
    let (_, op) = kube_op(&run(&mut s, &mut journal, ok(seq)));
    assert!(
        matches!(&op, KubeOp::Weights { route, .. } if route == "erp-frontend"),
        "{op:?}"
    );
}

/// Once the last target has moved, the stage's hold starts.
#[test]
fn the_hold_of_a_stage_in_order_starts_when_the_last_target_has_moved() {
    let src = RELEASE.replace(
        "traffic: 10, hold: 1m}",
        "traffic: 10, hold: 1m, order: [erp-worker, backend]}",
    );
    let err = parse_runbook(Path::new("release.yaml"), &src)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`order` names every target once"), "{err}");
    let src = RELEASE.replace(
        "traffic: 10, hold: 1m}",
        "traffic: 10, hold: 1m, order: [erp-worker, backend, web]}",
    );
    let err = parse_runbook(Path::new("release.yaml"), &src)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no target is called `web`: the targets are backend, frontend, erp-worker"),
        "{err}"
    );
    let src = RELEASE
        .replace(
            "traffic: 10, hold: 1m}",
            "traffic: 10, hold: 1m, order: [erp-worker, frontend, backend]}",
        )
        .replace(
            "phases:",
            "metrics:\n  - {id: err, title: Errors, query: x, unit: percent, warn: 1, critical: 5, bad: above}\nphases:",
        );
    let mut s = driving_on(&src, &mut Vec::new());
    let at = s.now;
    update(
        &mut s,
        Event::Metric {
            index: 0,
            at,
            reading: warroom::state::metrics::Reading::Value { value: 0.1, at },
        },
    );
    tick_backup(&mut s, &mut Vec::new());
    key(&mut s, 'a');
    let (seq, op) = kube_op(&key(&mut s, 'y'));
    assert_eq!(op.deployments(), ["erp-worker-canary", "erp-worker"]);
    update(&mut s, ok(seq));
    let (seq, _) = kube_op(&update(
        &mut s,
        Event::Cluster(cluster([(10, 0), (6, 2), (3, 1)], 0)),
    ));
    update(&mut s, ok(seq));
    let (seq, op) = kube_op(&update(
        &mut s,
        Event::Cluster(cluster([(10, 0), (6, 2), (3, 1)], 10)),
    ));
    assert_eq!(op.deployments(), ["erp-backend-canary", "erp-backend"]);
    assert_eq!(s.held(), 0);
    update(&mut s, ok(seq));
    assert!(s.stages.queue.is_empty());
    update(&mut s, Event::Tick(t0() + Duration::seconds(30)));
    assert_eq!(s.held(), 30);
    assert_eq!(
        s.cluster_disagreement().as_deref(),
        Some(
            "the cluster runs erp-backend-canary at 0 and erp-backend at 10 replicas; Canary 10% means 1 and 9"
        )
    );
    // Held, but the cluster is not as the stage means: the header does not call the
    // stage ready to move on.
    let at = t0() + Duration::seconds(61);
    update(&mut s, Event::Tick(at));
    update(
        &mut s,
        Event::Metric {
            index: 0,
            at,
            reading: warroom::state::metrics::Reading::Value { value: 0.1, at },
        },
    );
    update(
        &mut s,
        Event::Cluster(cluster([(10, 0), (6, 2), (3, 1)], 10)),
    );
    let head = screen(&s, 160, 48);
    assert!(
        head.lines().nth(1).unwrap().contains("HEALTH  OK"),
        "{head}"
    );
    let first = head.lines().next().unwrap();
    assert!(
        first.contains("held 1m00s, not ready") && !first.contains('✔'),
        "{first}"
    );
}

/// `update`, keeping what it journals.
fn run(s: &mut State, journal: &mut Vec<warroom::journal::Record>, ev: Event) -> Vec<Effect> {
    let fx = update(s, ev);
    journal.extend(fx.iter().filter_map(|e| match e {
        Effect::Journal(r) => Some(r.clone()),
        _ => None,
    }));
    fx
}

fn press(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

/// A gauge and a trigger may name the target whose health they read: a CRITICAL gauge
/// names it in the gate and the header, a met trigger in the header; `check` refuses a
/// target that does not exist.
#[test]
fn a_gauge_of_one_target_names_it_when_it_is_bad() {
    let src = RELEASE.replace(
        "phases:",
        "metrics:
  - id: fe-errors
    title: Front-end error rate
    short: FE 5xx
    target: frontend
    query: sum(rate(http_requests_total{job=\"erp-frontend\",code=~\"5..\"}[1m]))
    unit: percent
    warn: 1
    critical: 5
    bad: above
rollback_triggers:
  - id: fe-auto
    kind: automatic
    action: announce
    target: frontend
    text: front-end errors
    conditions:
      - {metric: fe-errors, above: 5, for: 1m}
phases:",
    );
    for (from, to, says) in [
        (
            "    target: frontend\n    query",
            "    target: web\n    query",
            "release.yaml:29:13: no target is called `web`: the targets are backend, frontend, erp-worker",
        ),
        (
            "    target: frontend\n    text",
            "    target: web\n    text",
            "release.yaml:39:13: no target is called `web`",
        ),
    ] {
        let err = parse_runbook(Path::new("release.yaml"), &src.replace(from, to))
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{err}");
    }
    let rb = parse_runbook(Path::new("release.yaml"), &src).unwrap_or_else(|e| panic!("{e}"));
    let mut s = State::new(Arc::new(rb), "lin", t0());
    // At the 10% stage, where the trigger is armed.
    at_ten_percent(&mut s, 1);
    update(
        &mut s,
        Event::Cluster(cluster([(9, 1), (6, 2), (3, 1)], 10)),
    );
    let at = s.now;
    update(
        &mut s,
        Event::Metric {
            index: 0,
            at,
            reading: warroom::state::metrics::Reading::Value { value: 8.0, at },
        },
    );
    let (blockers, _) = warroom::update::gates(&s, 1);
    assert!(
        blockers
            .iter()
            .any(|b| b == "frontend: Front-end error rate is CRITICAL at 8.00 %"),
        "{blockers:?}"
    );
    let head = screen(&s, 80, 24);
    assert!(
        head.lines()
            .next()
            .unwrap()
            .contains("◆ frontend: FE 5xx CRITICAL"),
        "{head}"
    );
    update(
        &mut s,
        Event::Trigger {
            trigger: 0,
            cond: 0,
            at: at + Duration::seconds(61),
            verdict: warroom::state::triggers::Verdict::Holds {
                value: 8.0,
                since: at,
            },
        },
    );
    update(&mut s, Event::Tick(at + Duration::seconds(61)));
    let head = screen(&s, 160, 48);
    assert!(
        head.lines()
            .next()
            .unwrap()
            .contains("ROLLBACK TRIGGER MET  frontend"),
        "{head}"
    );
}

/// A trigger with `rolls_back: target` rolls back only the target it protects, when its
/// countdown runs out: the others stay at the stage and go on; the header says which
/// went back; its trigger rests; the next stage leaves it on its stable version.
#[test]
fn a_trigger_that_protects_one_target_rolls_back_that_target_alone() {
    let src = RELEASE.replace(
        "phases:",
        "metrics:
  - id: fe-errors
    title: Front-end error rate
    target: frontend
    query: sum(rate(http_requests_total{job=\"erp-frontend\",code=~\"5..\"}[1m]))
    unit: percent
    warn: 1
    critical: 5
    bad: above
rollback_triggers:
  - id: fe-auto
    kind: automatic
    action: rollback
    countdown: 0s
    target: frontend
    rolls_back: target
    text: front-end errors
    conditions:
      - {metric: fe-errors, above: 5, for: 1m}
phases:",
    );
    let err = parse_runbook(
        Path::new("release.yaml"),
        &src.replace("    target: frontend\n    rolls_back", "    rolls_back"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("`rolls_back: target` is for an automatic trigger with `action: rollback` and a `target:`"), "{err}");
    let mut journal = Vec::new();
    let mut s = driving_on(&src, &mut journal);
    // At the 10% stage, every target moved.
    at_ten_percent(&mut s, 10);
    run(
        &mut s,
        &mut journal,
        Event::Cluster(cluster([(9, 1), (6, 2), (3, 1)], 10)),
    );
    let at = s.now;
    run(
        &mut s,
        &mut journal,
        Event::Metric {
            index: 0,
            at,
            reading: warroom::state::metrics::Reading::Value { value: 8.0, at },
        },
    );
    let fx = run(
        &mut s,
        &mut journal,
        Event::Trigger {
            trigger: 0,
            cond: 0,
            at: at + Duration::seconds(61),
            verdict: warroom::state::triggers::Verdict::Holds {
                value: 8.0,
                since: at,
            },
        },
    );
    let mut fx = fx;
    fx.extend(run(
        &mut s,
        &mut journal,
        Event::Tick(at + Duration::seconds(61)),
    ));
    // The front end alone: its route back to stable.
    let (seq, op) = kube_op(&fx);
    assert!(
        matches!(&op, KubeOp::Weights { route, weights, .. } if route == "erp-frontend" && weights[1].1 == 0),
        "{op:?}"
    );
    let rec = journal
        .iter()
        .find(|r| matches!(r.entry, warroom::journal::Entry::Rollback { .. }))
        .expect("journaled before it is sent");
    let warroom::journal::Entry::Rollback { target, plan, .. } = &rec.entry else {
        unreachable!()
    };
    assert_eq!(target.as_deref(), Some("frontend"));
    assert!(
        plan.starts_with(
            "frontend: Roll back: HTTPRoute erp-frontend sends all traffic to erp-frontend"
        ),
        "{plan}"
    );
    run(&mut s, &mut journal, ok(seq));
    run(
        &mut s,
        &mut journal,
        Event::Cluster(cluster([(9, 1), (6, 2), (3, 1)], 0)),
    );
    // The release goes on at 10% without the front end.
    assert_eq!(s.stages.current, Some(0));
    assert_eq!(s.stages.rolled_back, None);
    assert_eq!(
        s.cluster_disagreement(),
        None,
        "the front end is expected at 0%"
    );
    run(
        &mut s,
        &mut journal,
        Event::Tick(at + Duration::seconds(62)),
    );
    assert!(s.triggers[0].met.is_none(), "its trigger rests");
    let head = screen(&s, 160, 48);
    assert!(
        head.lines()
            .next()
            .unwrap()
            .contains("◆ frontend rolled back alone at"),
        "{head}"
    );
    assert!(
        head.contains("▌frontend  ROLLED BACK alone: stays on stable"),
        "{head}"
    );
    // The next stage promotes the other two and leaves it be.
    let step = warroom::canary::stage_all(
        &s.rb.targets,
        (&[], &s.stages.out_targets()),
        &s.cluster,
        100,
        "lin: advance",
        warroom::runbook::Lang::En,
    );
    assert_eq!(
        step.title,
        "Promote to 100% on 2 services: backend → erp-worker"
    );
    // A console restarted on the journal knows it too.
    let mut again = State::new(s.rb.clone(), "lin", t0());
    for r in &journal {
        again.apply(r);
    }
    assert_eq!(again.stages.out_targets(), vec![1]);
}

/// The API's yes to action `seq`.
fn ok(seq: u64) -> Event {
    Event::Outcome {
        seq,
        ok: true,
        message: "ok".into(),
    }
}
