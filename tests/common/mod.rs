//! Shared by the tests that run the app headless against the simulator.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::mpsc::{self, UnboundedReceiver};
use warroom::app::App;
use warroom::event::Event;
use warroom::layout;
use warroom::runbook::parse_runbook;

/// Handle events until `done` holds. The limit only stops a broken run from hanging.
pub async fn until(
    app: &mut App,
    rx: &mut UnboundedReceiver<Event>,
    what: &str,
    done: impl Fn(&App) -> bool,
) {
    let limit = tokio::time::Instant::now() + Duration::from_secs(90);
    while !done(app) {
        match tokio::time::timeout_at(limit, rx.recv()).await {
            Ok(Some(ev)) => app.handle(ev),
            Ok(None) => panic!("event channel closed while waiting for {what}"),
            Err(_) => panic!("gave up waiting for {what}; log:\n{}", log(app)),
        }
    }
}

/// Handle whatever events arrive for `d`.
pub async fn settle(app: &mut App, rx: &mut UnboundedReceiver<Event>, d: Duration) {
    let limit = tokio::time::Instant::now() + d;
    while let Ok(Some(ev)) = tokio::time::timeout_at(limit, rx.recv()).await {
        app.handle(ev);
    }
}

pub fn log(app: &App) -> String {
    app.state
        .comms
        .iter()
        .map(|c| format!("{} {}", c.who, c.text))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn key(app: &mut App, c: char) {
    app.handle(Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )));
}

/// A headless console on the built-in demo runbook, journaling into `dir`.
pub fn demo_app(dir: &Path, operator: &str) -> (App, UnboundedReceiver<Event>) {
    let rb = parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK).unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let app = App::open(
        rb,
        "demo",
        &dir.join(format!("{operator}.jsonl")),
        operator,
        layout::builtin("war-room"),
        tx,
    )
    .unwrap();
    (app, rx)
}
