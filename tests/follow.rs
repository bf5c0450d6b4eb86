//! A console following the driver on the same host (`warroom watch JOURNAL`): the real
//! wiring of both consoles against the simulator, the follower reading the driver's
//! journal as it is written.

use std::path::Path;
use std::time::Duration;

mod common;

use common::{confirm, key, log, rig, tick_gates, until};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::mpsc;
use warroom::app::{App, start_sources};
use warroom::event::Event;
use warroom::journal::Entry;
use warroom::layout;
use warroom::runbook::parse_runbook;
use warroom::state::Driver;

/// What the room reads in a console's log: when, who, what.
fn lines(app: &App) -> Vec<(chrono::DateTime<chrono::Utc>, String, String)> {
    app.state
        .comms
        .iter()
        .map(|c| (c.at, c.who.clone(), c.text.clone()))
        .collect()
}

fn screen(app: &App) -> String {
    let view = warroom::ui::View::new(layout::builtin("war-room"));
    let mut buf = ratatui::buffer::Buffer::empty(ratatui::layout::Rect::new(0, 0, 160, 48));
    warroom::ui::draw_into(&app.state, &view, &mut buf);
    let mut out = String::new();
    for y in 0..48 {
        for x in 0..160 {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_on_the_same_host_shows_the_drivers_release_and_takes_over_when_it_is_gone() {
    let common::Rig {
        sim,
        client,
        app: mut driver,
        rx: mut drx,
        dir,
        tasks,
        lease,
    } = rig(
        warroom::builtin::DEFAULT_SCENARIO,
        "demo.yaml",
        warroom::builtin::DEMO_RUNBOOK,
        false,
    )
    .await;
    let journal = dir.path().join("journal.jsonl");
    until(&mut driver, &mut drx, "the Lease", |a| {
        matches!(a.state.driver, Driver::Driving { .. })
    })
    .await;

    // Wang follows lin's journal from another terminal on the same bastion.
    let rb = parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK).unwrap();
    let (tx, mut frx) = mpsc::unbounded_channel();
    let (mut follower, tail) = App::follow(
        rb,
        &journal,
        "wang",
        layout::builtin("war-room"),
        warroom::format::Zone::Local,
        tx,
    )
    .unwrap();
    let prometheus = warroom::prom::Overrides {
        url: Some(sim.prom_url.clone()),
        ..Default::default()
    };
    let sources = start_sources(&mut follower, client.clone(), &prometheus, true).unwrap();
    let mut follower_tasks = sources.tasks;
    follower_tasks.push(warroom::journal::follow::spawn(tail, follower.sender()));

    // Lin ticks what gates 10 %, writes a note and advances.
    tick_gates(&mut driver, "canary-10");
    key(&mut driver, 'n');
    for c in "DBA on the bridge".chars() {
        key(&mut driver, c);
    }
    driver.handle(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    key(&mut driver, 'a');
    confirm(&mut driver);
    until(&mut driver, &mut drx, "the advance's answer", |a| {
        a.state.stages.current == Some(0) && a.state.stages.pending.is_none()
    })
    .await;

    // Wang's screen shows the same release: stage, ticks, the note, the log.
    let want = lines(&driver);
    until(&mut follower, &mut frx, "the driver's release", |f| {
        lines(f) == want
    })
    .await;
    assert_eq!(follower.state.stage_name(), driver.state.stage_name());
    assert_eq!(follower.state.checklist.marks, driver.state.checklist.marks);
    let shown = screen(&follower);
    assert!(shown.contains("STAGE Canary 10%"), "{shown}");
    assert!(shown.contains("FOLLOWING  lin · live"), "{shown}");
    assert!(log(&follower).contains("DBA on the bridge"));

    // Wang's keys decide nothing, and nothing of his reaches the journal.
    key(&mut follower, ' ');
    key(&mut follower, 'R');
    assert!(
        follower
            .state
            .ui
            .flash
            .as_deref()
            .is_some_and(|f| f.contains("follows lin's journal")),
        "{:?}",
        follower.state.ui.flash
    );
    let written = warroom::journal::replay(&journal).unwrap().records;
    assert_eq!(written.len() as u64, driver.state.seq);
    assert!(
        written.iter().all(|r| r.who != "wang"),
        "the follower wrote: {written:?}"
    );

    // Lin quits and hands the Lease back; his console still runs (it has not exited).
    key(&mut driver, 'q');
    confirm(&mut driver);
    assert!(driver.state.ui.quit);
    lease.release(Duration::from_secs(5)).await;
    until(&mut follower, &mut frx, "nobody drives", |f| {
        matches!(f.state.driver, Driver::Free { .. })
            && f.state.follow.as_ref().is_some_and(|w| w.closed.is_some())
    })
    .await;
    assert!(screen(&follower).contains("lin · closed at"));

    // Taking over while lin's process still holds the journal is refused, in words.
    key(&mut follower, 'T');
    key(&mut follower, 'y');
    until(&mut follower, &mut frx, "the take-over's answer", |f| {
        f.state.ui.flash.is_some()
    })
    .await;
    let flash = follower.state.ui.flash.clone().unwrap();
    assert!(flash.contains("still has it open on this host"), "{flash}");
    assert!(follower.state.follow.is_some());

    // Once lin's process is gone, wang takes over and drives on the same journal.
    drop(driver);
    for t in tasks {
        t.abort();
    }
    key(&mut follower, 'T');
    key(&mut follower, 'y');
    until(&mut follower, &mut frx, "wang drives", |f| {
        matches!(f.state.driver, Driver::Driving { .. })
    })
    .await;
    assert!(follower.state.follow.is_none());
    common::tick_gates(&mut follower, "full");
    let records = warroom::journal::replay(&journal).unwrap().records;
    let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "one story, in order: {seqs:?}"
    );
    assert!(records.iter().any(|r| r.who == "wang"
        && matches!(&r.entry, Entry::System { text, .. } if text.contains("takes over driving"))));
    assert!(
        records
            .iter()
            .any(|r| r.who == "wang" && matches!(r.entry, Entry::Mark { .. })),
        "wang's ticks are in the journal"
    );
    for t in follower_tasks {
        t.abort();
    }
    sim.shutdown().await;
}
