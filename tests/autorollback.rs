//! The safety net end to end: the simulated cluster with its bad canary, the real kube and
//! Prometheus clients, the trigger source as `warroom run` wires it, and the app loop
//! headless. After the advance no key is pressed: the trigger is met from the history,
//! the countdown runs out, and the console rolls the canary back by itself.

mod common;

use common::{tick_gates, until};
use warroom::journal::Entry;

/// The demo runbook with a short trigger and countdown, so the test takes seconds.
fn runbook() -> String {
    let text = warroom::builtin::DEMO_RUNBOOK
        // A query may take longer than the refresh on a loaded machine: the timeout is not
        // what this test is about.
        .replace(
            "prometheus: {refresh: 2s}",
            "prometheus: {refresh: 1s, timeout: 10s}",
        )
        .replace(
            "{metric: canary-error-rate, series: {track: canary}, above: 5, for: 1m}",
            "{metric: canary-error-rate, series: {track: canary}, above: 5, for: 5s}",
        );
    let text = text.replacen("countdown: 30s", "countdown: 3s", 1);
    assert!(
        text.contains("for: 5s") && text.contains("countdown: 3s") && text.contains("timeout: 10s")
    );
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_canary_is_rolled_back_with_no_key_pressed() {
    let text = runbook();
    let common::Rig {
        sim,
        mut app,
        mut rx,
        dir: _dir,
        lease: _lease,
        ..
    } = common::rig(
        warroom::builtin::DEFAULT_SCENARIO,
        "demo.yaml",
        &text,
        false,
    )
    .await;
    let k = app.state.rb.targets[0].clone();
    until(
        &mut app,
        &mut rx,
        "driving, stable ready, gauges live",
        |a| {
            matches!(a.state.driver, warroom::state::Driver::Driving { .. })
                && a.state
                    .cluster
                    .deployment(&k.stable)
                    .is_some_and(|d| d.ready == 10)
                && a.state.metrics.iter().all(|m| m.last_value.is_some())
        },
    )
    .await;
    tick_gates(&mut app, "canary-10");
    common::key(&mut app, 'a');
    common::confirm(&mut app);
    until(&mut app, &mut rx, "the canary stage in force", |a| {
        a.state.stages.current == Some(0)
    })
    .await;
    let advanced = app.state.comms.len();
    // From here on, no key: the canary errs at 6% and the trigger does the rest.
    until(&mut app, &mut rx, "the trigger met from the history", |a| {
        a.state.triggers[0].met.is_some()
    })
    .await;
    let deadline = warroom::update::countdown_running(&app.state)
        .map(|(_, d)| d)
        .expect("a countdown runs");
    until(&mut app, &mut rx, "the rollback done", |a| {
        a.state.stages.rolled_back.is_some()
    })
    .await;
    let replicas = |name: &str| sim.deployment(name).unwrap()["spec"]["replicas"].as_i64();
    assert_eq!(replicas(&k.canary), Some(0));
    assert_eq!(replicas(&k.stable), Some(10));
    // The rollback plan shows what the console did, each step ticked as the cluster
    // confirms it.
    until(&mut app, &mut rx, "every rollback step confirmed", |a| {
        a.state
            .checklist
            .live
            .as_ref()
            .is_some_and(|l| !l.steps.is_empty() && l.steps.iter().all(|s| s.done))
    })
    .await;
    assert!(
        common::log(&app).contains("the rollback is done in the cluster: every step confirmed"),
        "{}",
        common::log(&app)
    );
    let journal = warroom::journal::replay(app.journal_path()).unwrap();
    let rollback = journal
        .records
        .iter()
        .find(|r| matches!(r.entry, Entry::Rollback { .. }))
        .expect("the rollback is journaled");
    assert_eq!(rollback.who, "console");
    assert!(
        rollback.at >= deadline,
        "not before the countdown ran out: {} < {deadline}",
        rollback.at
    );
    let Entry::Rollback {
        reason, trigger, ..
    } = &rollback.entry
    else {
        unreachable!()
    };
    assert_eq!(trigger.as_deref(), Some("auto-canary"));
    assert!(
        reason.contains("Error rate by track canary") && reason.contains("> 5.00 % for 5s"),
        "{reason}"
    );
    let said: Vec<&str> = app.state.comms[advanced..]
        .iter()
        .map(|c| c.text.as_str())
        .collect();
    assert!(
        said.iter().any(|t| t.starts_with("ROLLBACK TRIGGER MET")),
        "{said:?}"
    );
    sim.shutdown().await;
}

/// Every console shows the driver's countdown: a console on another journal, not driving,
/// reads it off the Lease within seconds, with the same deadline, and the driver's stage
/// off the mirror.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_that_does_not_drive_shows_the_drivers_countdown() {
    let text = runbook().replacen("countdown: 3s", "countdown: 5m", 1);
    let common::Rig {
        sim,
        client,
        mut app,
        mut rx,
        dir,
        lease: _lease,
        ..
    } = common::rig(
        warroom::builtin::DEFAULT_SCENARIO,
        "demo.yaml",
        &text,
        false,
    )
    .await;
    let k = app.state.rb.targets[0].clone();
    until(&mut app, &mut rx, "driving, stable ready", |a| {
        matches!(a.state.driver, warroom::state::Driver::Driving { .. })
            && a.state
                .cluster
                .deployment(&k.stable)
                .is_some_and(|d| d.ready == 10)
    })
    .await;
    tick_gates(&mut app, "canary-10");
    common::key(&mut app, 'a');
    common::confirm(&mut app);
    until(&mut app, &mut rx, "a countdown on the driver", |a| {
        warroom::update::countdown_running(&a.state).is_some()
    })
    .await;
    let (_, deadline) = warroom::update::countdown_running(&app.state).unwrap();

    // Another console, its own journal, not driving.
    let (tx2, mut rx2) = tokio::sync::mpsc::unbounded_channel();
    let mut other = warroom::app::App::open(
        warroom::runbook::parse_runbook(std::path::Path::new("demo.yaml"), &text).unwrap(),
        "demo.yaml",
        &dir.path().join("other.jsonl"),
        "wang",
        warroom::layout::builtin("war-room"),
        warroom::format::Zone::Local,
        tx2,
    )
    .unwrap();
    let _sources =
        warroom::app::start_sources(&mut other, client.clone(), &Default::default(), false)
            .unwrap();
    // The driver's events keep flowing while the other console waits.
    let driver = tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            app.handle(ev);
        }
    });
    until(
        &mut other,
        &mut rx2,
        "the driver's countdown on the other console",
        |o| {
            o.state
                .remote_countdown
                .as_ref()
                .is_some_and(|c| c.deadline == deadline)
        },
    )
    .await;
    // Not its own journal's stage: the driver's, from the mirror in the cluster.
    until(&mut other, &mut rx2, "the driver's stage", |o| {
        o.state.stage_name() == "Canary 10%"
    })
    .await;
    assert!(other.state.follow.as_ref().is_some_and(|f| f.from_cluster));
    let c = other.state.remote_countdown.clone().unwrap();
    assert_eq!(c.trigger, "auto-canary");
    assert!(
        c.evidence.contains("Error rate by track canary"),
        "{}",
        c.evidence
    );
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 48)).unwrap();
    other.state.ui.dirty = true;
    other.draw(&mut term).unwrap();
    let screen = format!("{:?}", term.backend().buffer());
    assert!(screen.contains("AUTO ROLLBACK IN"), "{screen}");
    assert!(screen.contains("the driving console acts"), "{screen}");
    driver.abort();
    sim.shutdown().await;
}
