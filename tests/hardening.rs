//! Hardening: the console holds up against inputs that are odd on purpose or by accident.

use std::path::Path;
use std::time::Duration;

mod common;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use warroom::event::Event;
use warroom::prom::{self, Gauge, Prom, Settings};

/// A refresh far beyond what `check` allows, with a full sparkline's worth of history,
/// once overflowed when the poller computed how far back to load: the poller must keep
/// running and report the unreachable server as a reading.
#[tokio::test]
async fn a_huge_refresh_does_not_overflow_the_poller() {
    let rb = warroom::runbook::load(Path::new("assets/runbooks/demo.yaml")).unwrap();
    let refresh = Duration::from_secs(u64::MAX / 4);
    let gauges = vec![Gauge {
        metric: rb.metrics[0].clone(),
        points: warroom::state::metrics::HISTORY,
    }];
    let prom = Prom::new(&Settings::new("http://127.0.0.1:1", refresh)).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (beat, _heart) = warroom::beat::start();
    let poller = prom::spawn_poller(prom, gauges, refresh, beat.rounds(refresh), tx);
    match rx.recv().await {
        Some(Event::Metric { index: 0, .. }) => {}
        other => panic!(
            "expected the first reading, got {other:?}; the poller ended: {:?}",
            poller.is_finished()
        ),
    }
    poller.abort();
    let end = poller.await.unwrap_err();
    assert!(end.is_cancelled(), "the poller did not survive: {end}");
}

mod keys {
    use std::path::Path;

    use chrono::Utc;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use warroom::action::{Action, action_for};
    use warroom::event::Event;
    use warroom::state::cluster::{DeployView, Snapshot};
    use warroom::state::{Driver, Mode, State};
    use warroom::update::update;

    /// The demo console driving a running cluster, with the pause confirmation open.
    fn confirming() -> State {
        let rb =
            warroom::runbook::parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK)
                .unwrap();
        let mut s = State::new(std::sync::Arc::new(rb), "lin", Utc::now());
        let d = |name: &str, n: u32| DeployView {
            name: name.into(),
            desired: n,
            replicas: n,
            updated: n,
            ready: n,
            available: n,
            ..Default::default()
        };
        update(
            &mut s,
            Event::Cluster(Snapshot {
                deployments: vec![d("erp-backend", 10), d("erp-backend-canary", 0)],
                ..Default::default()
            }),
        );
        update(
            &mut s,
            Event::Lease(Driver::Driving {
                lease: "default/warroom-erp-v1.0.0".into(),
                fence: "1-0000abcd".into(),
            }),
        );
        update(
            &mut s,
            Event::Key(KeyEvent::new(KeyCode::Char('p'), KeyModifiers::NONE)),
        );
        assert!(matches!(s.ui.mode, Mode::Confirm(_)), "{:?}", s.ui.mode);
        s
    }

    /// Esc and `y` read together arrive as Alt+y; Alt+Enter likewise. Neither confirms.
    #[test]
    fn a_key_with_alt_or_another_modifier_never_confirms() {
        let mut s = confirming();
        for (code, mods) in [
            (KeyCode::Char('y'), KeyModifiers::ALT),
            (KeyCode::Enter, KeyModifiers::ALT),
            (KeyCode::Char('Y'), KeyModifiers::ALT | KeyModifiers::SHIFT),
            (KeyCode::Char('y'), KeyModifiers::SUPER),
            (KeyCode::Enter, KeyModifiers::META),
        ] {
            let key = KeyEvent::new(code, mods);
            assert_ne!(
                action_for(&s.ui.mode, &key),
                Some(Action::Confirm),
                "{key:?}"
            );
            let fx = update(&mut s, Event::Key(key));
            assert!(fx.is_empty(), "{key:?} did something: {fx:?}");
            assert!(
                matches!(s.ui.mode, Mode::Confirm(_)),
                "{key:?} closed the dialog"
            );
        }
        // A plain y still confirms, and a shifted Y (caps lock) too.
        let y = KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE);
        assert_eq!(action_for(&s.ui.mode, &y), Some(Action::Confirm));
        let shifted = KeyEvent::new(KeyCode::Char('Y'), KeyModifiers::SHIFT);
        assert_eq!(action_for(&s.ui.mode, &shifted), Some(Action::Confirm));
        let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
        assert_eq!(action_for(&s.ui.mode, &enter), Some(Action::Confirm));
        // and does what the dialog said: the pause is journaled and sent.
        let fx = update(&mut s, Event::Key(y));
        assert!(!fx.is_empty(), "a plain y did nothing");
        assert_eq!(s.ui.mode, Mode::Normal);
    }
}

/// A terminal that notes when each frame was sent, and can stop taking writes after some,
/// as a dropped SSH session's does.
struct Frames {
    inner: ratatui::backend::TestBackend,
    sent: Vec<tokio::time::Instant>,
    fails_after: Option<usize>,
}

impl ratatui::backend::Backend for Frames {
    type Error = std::io::Error;
    fn draw<'a, I>(&mut self, content: I) -> std::io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a ratatui::buffer::Cell)>,
    {
        if self.fails_after.is_some_and(|n| self.sent.len() >= n) {
            return Err(std::io::Error::from_raw_os_error(5));
        }
        self.sent.push(tokio::time::Instant::now());
        let _ = self.inner.draw(content);
        Ok(())
    }
    fn hide_cursor(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn show_cursor(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn get_cursor_position(&mut self) -> std::io::Result<ratatui::layout::Position> {
        Ok(Default::default())
    }
    fn set_cursor_position<P: Into<ratatui::layout::Position>>(
        &mut self,
        _: P,
    ) -> std::io::Result<()> {
        Ok(())
    }
    fn clear(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn clear_region(&mut self, _: ratatui::backend::ClearType) -> std::io::Result<()> {
        Ok(())
    }
    fn size(&self) -> std::io::Result<ratatui::layout::Size> {
        Ok(ratatui::layout::Size::new(120, 40))
    }
    fn window_size(&mut self) -> std::io::Result<ratatui::backend::WindowSize> {
        Ok(ratatui::backend::WindowSize {
            columns_rows: ratatui::layout::Size::new(120, 40),
            pixels: ratatui::layout::Size::new(0, 0),
        })
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The demo console, its events, and a 120x40 terminal that notes its frames.
fn on_screen(
    fails_after: Option<usize>,
) -> (
    tempfile::TempDir,
    warroom::app::App,
    tokio::sync::mpsc::UnboundedReceiver<Event>,
    ratatui::Terminal<Frames>,
) {
    let dir = tempfile::tempdir().unwrap();
    let (app, rx) = common::demo_app(dir.path(), "lin");
    let term = ratatui::Terminal::new(Frames {
        inner: ratatui::backend::TestBackend::new(120, 40),
        sent: Vec::new(),
        fails_after,
    })
    .unwrap();
    (dir, app, rx, term)
}

/// The session drops: the next frame cannot be written, and the hang-up comes a moment
/// later. The console closes as the hang-up says, and journals it, rather than leaving
/// on the write error with nothing said.
#[tokio::test]
async fn a_terminal_gone_before_its_hang_up_still_closes_by_the_hang_up() {
    // every draw after the first fails
    let (dir, mut app, mut rx, mut term) = on_screen(Some(1));
    let tx = app.sender();
    // A change to draw (the write fails), then the hang-up, as a dropped session sends
    // them; and a key typed meanwhile, which must count for nothing.
    tx.send(Event::Tick(
        chrono::Utc::now() + chrono::Duration::minutes(1),
    ))
    .unwrap();
    let later = tx.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let _ = later.send(Event::Key(KeyEvent::new(
            KeyCode::Char('n'),
            KeyModifiers::NONE,
        )));
        let _ = later.send(Event::Signal("SIGHUP"));
    });
    app.state.ui.dirty = true;
    let r = warroom::app::drive(&mut app, &mut term, &mut rx).await;
    assert!(r.is_err(), "the write error is still reported");
    let journal = std::fs::read_to_string(dir.path().join("lin.jsonl")).unwrap();
    let last = journal.lines().last().unwrap();
    assert!(last.contains("the console ended on SIGHUP"), "{journal}");
    assert!(!journal.contains("\"kind\":\"note\""), "{journal}");
}

/// The answers of one round come in over some tens of milliseconds: the screen is drawn
/// once for all of them, after the last, not once per answer; a key is drawn within a
/// frame (33 ms) all the same.
#[tokio::test(start_paused = true)]
async fn news_that_comes_together_is_drawn_once_and_a_key_within_a_frame() {
    use tokio::time::{Instant, sleep};
    use warroom::state::metrics::Reading;
    let (_dir, mut app, mut rx, mut term) = on_screen(None);
    let tx = app.sender();
    let start = Instant::now();
    let feed = tokio::spawn(async move {
        // the round: five answers 10 ms apart, each a new value of the first gauge
        for v in [1.0, 2.0, 3.0, 4.0, 5.0] {
            let at = chrono::Utc::now();
            let reading = Reading::Value { value: v, at };
            tx.send(Event::Metric {
                index: 0,
                at,
                reading,
            })
            .unwrap();
            sleep(Duration::from_millis(10)).await;
        }
        let last_answer = Instant::now() - Duration::from_millis(10);
        sleep(Duration::from_secs(1)).await;
        let key = Instant::now();
        tx.send(Event::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)))
            .unwrap();
        sleep(Duration::from_secs(1)).await;
        tx.send(Event::Signal("SIGTERM")).unwrap();
        (last_answer, key)
    });
    warroom::app::drive(&mut app, &mut term, &mut rx)
        .await
        .unwrap();
    let (last_answer, key) = feed.await.unwrap();
    let sent = &term.backend().sent;
    // the first frame, before any news
    assert_eq!(sent.first(), Some(&start), "{sent:?}");
    let round: Vec<_> = sent[1..].iter().filter(|t| **t < key).collect();
    assert_eq!(round.len(), 1, "the round was drawn {} times", round.len());
    assert!(
        *round[0] >= last_answer,
        "the round was drawn before its last answer"
    );
    let after_key: Vec<_> = sent.iter().filter(|t| **t >= key).collect();
    assert_eq!(
        after_key.len(),
        1,
        "the key was drawn {} times",
        after_key.len()
    );
    assert!(
        *after_key[0] - key <= Duration::from_millis(33),
        "the key was drawn {:?} after it was typed",
        *after_key[0] - key
    );
}
