//! Hardening: the console holds up against inputs that are odd on purpose or by accident.

use std::path::Path;
use std::time::Duration;

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
    let poller = prom::spawn_poller(prom, gauges, refresh, tx);
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
