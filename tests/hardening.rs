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

/// A terminal that stops taking writes, as a dropped SSH session's does: every draw after
/// the first fails.
struct Gone {
    inner: ratatui::backend::TestBackend,
    draws: usize,
}

impl ratatui::backend::Backend for Gone {
    type Error = std::io::Error;
    fn draw<'a, I>(&mut self, content: I) -> std::io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a ratatui::buffer::Cell)>,
    {
        self.draws += 1;
        if self.draws > 1 {
            return Err(std::io::Error::from_raw_os_error(5));
        }
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

/// The session drops: the next frame cannot be written, and the hang-up comes a moment
/// later. The console closes as the hang-up says, and journals it, rather than leaving
/// on the write error with nothing said.
#[tokio::test]
async fn a_terminal_gone_before_its_hang_up_still_closes_by_the_hang_up() {
    let dir = tempfile::tempdir().unwrap();
    let (mut app, mut rx) = common::demo_app(dir.path(), "lin");
    let tx = app.sender();
    let mut term = ratatui::Terminal::new(Gone {
        inner: ratatui::backend::TestBackend::new(120, 40),
        draws: 0,
    })
    .unwrap();
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
