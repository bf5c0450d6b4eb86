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
/// Until an advance would go through as the lead presses it: the Lease held and fresh,
/// nothing blocking, nothing unknown (on a loaded machine a gauge's answer may lag
/// behind its refresh; a lead would wait for it too).
pub async fn until_free_to_advance(app: &mut App, rx: &mut UnboundedReceiver<Event>) {
    until(
        app,
        rx,
        "the Lease held and every gate open and known",
        |a| {
            a.state.refusal().is_none()
                && warroom::update::plan_advance(&a.state)
                    .is_ok_and(|c| c.blockers.is_empty() && c.unknown.is_empty())
        },
    )
    .await;
}

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
            Err(_) => panic!(
                "gave up waiting for {what}; the console refuses to act: {:?}; countdown: {:?}; now {}; log:\n{}",
                app.state.refusal(),
                warroom::update::countdown_running(&app.state),
                app.state.now,
                log(app)
            ),
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

/// Confirm the open dialog as a lead would: `y`; a rollback with a typed reason (and
/// Enter); and where only unknowns block (these rigs poll no Prometheus, or jump the
/// clock past the gauges' freshness) the override, with a reason saying so.
pub fn confirm(app: &mut App) {
    let warroom::state::Mode::Confirm(c) = &app.state.ui.mode else {
        panic!("no confirmation open: {:?}", app.state.ui.flash)
    };
    let typed = |app: &mut App, text: &str| {
        for ch in text.chars() {
            key(app, ch);
        }
        app.handle(Event::Key(KeyEvent::new(
            KeyCode::Enter,
            KeyModifiers::NONE,
        )));
    };
    if c.reason.is_some() {
        typed(app, "test rollback");
    } else if c.blockers.is_empty() && !c.unknown.is_empty() {
        key(app, 'o');
        typed(app, "this test polls no Prometheus");
    } else {
        key(app, 'y');
    }
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
        warroom::format::Zone::Local,
        tx,
    )
    .unwrap();
    (app, rx)
}

/// A loopback TCP relay in front of a server, that can be cut (every connection dropped,
/// new ones refused) and restored on the same port: a network outage, with the server
/// itself untouched. It can also stall: what the client sends is held (the client has
/// sent it, the server has not seen it) until the relay is released, when it is delivered
/// in order, even if the client gave up meanwhile, as a proxy that holds requests would.
pub struct Relay {
    pub port: u16,
    pub target: std::net::SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
    stalled: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    pub async fn start(target: std::net::SocketAddr) -> Relay {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let (stalled, _) = tokio::sync::watch::channel(false);
        let mut r = Relay {
            port,
            target,
            task: None,
            stalled,
        };
        r.task = Some(Self::serve(l, target, r.stalled.subscribe()));
        r
    }

    fn serve(
        l: tokio::net::TcpListener,
        target: std::net::SocketAddr,
        stalled: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((inbound, _)) = l.accept().await {
                let mut stalled = stalled.clone();
                conns.spawn(async move {
                    let Ok(out) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut ir, mut iw) = inbound.into_split();
                    let (mut or, mut ow) = out.into_split();
                    let up = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        while let Ok(n) = ir.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                            if stalled.wait_for(|s| !*s).await.is_err()
                                || ow.write_all(&buf[..n]).await.is_err()
                            {
                                return;
                            }
                        }
                        // The client is gone; what it sent is still delivered and
                        // answered, as through a proxy that keeps its upstream open.
                        std::future::pending::<()>().await
                    };
                    let down = tokio::io::copy(&mut or, &mut iw);
                    tokio::select! {
                        _ = up => {}
                        _ = down => {}
                    }
                });
            }
        })
    }

    /// Drop every connection and stop listening.
    pub fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    pub async fn restore(&mut self) {
        let l = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        self.task = Some(Self::serve(l, self.target, self.stalled.subscribe()));
    }

    /// Hold everything clients send from now on, on every connection.
    pub fn stall(&self) {
        self.stalled.send_replace(true);
    }

    /// Deliver what was held, and everything after it.
    pub fn release(&self) {
        self.stalled.send_replace(false);
    }
}

/// A sign-off asks whose it is: type `name` and Enter (nothing when no one is asked).
pub fn sign_as(app: &mut App, name: &str) {
    if matches!(app.state.ui.mode, warroom::state::Mode::Signer { .. }) {
        for c in name.chars() {
            key(app, c);
        }
        app.handle(Event::Key(KeyEvent::new(
            KeyCode::Enter,
            KeyModifiers::NONE,
        )));
    }
}

/// Tick every required item that gates `stage`, as the operator would: move the cursor
/// to it (opening its phase) and press Space. Returns how many were ticked.
pub fn tick_gates(app: &mut App, stage: &str) -> usize {
    let mut ticked = 0;
    for i in 0..app.state.checklist.items.len() {
        let it = &app.state.checklist.items[i];
        if it.gates.as_deref() == Some(stage)
            && it.required
            && it.kind.tickable()
            && app.state.checklist.marks[i].mark != warroom::journal::Mark::Done
        {
            let phase = it.phase;
            app.state.checklist.collapsed[phase] = false;
            app.state.checklist.cursor = app
                .state
                .checklist
                .rows()
                .iter()
                .position(|r| *r == warroom::state::Row::Item(i))
                .unwrap();
            key(app, ' ');
            sign_as(app, "Zhang Wei");
            ticked += 1;
        }
    }
    ticked
}

/// A headless console on a simulated cluster: the simulator, the real kube client, and
/// the app fed by `start_sources`, the same wiring as `warroom run` (cluster watch,
/// clock, gauges and triggers from the simulator's Prometheus API, the Lease).
pub struct Rig {
    pub sim: warroom::sim::SimHandle,
    pub client: kube::Client,
    pub app: App,
    pub rx: UnboundedReceiver<Event>,
    pub dir: tempfile::TempDir,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Dropping it hands the Lease back and ends its renewals: a test whose console
    /// drives binds it (`lease: _lease`) for as long as it runs, or the console's claim
    /// lapses 30 s after it was made (a test that takes longer, as on a loaded machine,
    /// then finds its console refusing to act).
    pub lease: warroom::kube::lease::LeaseTask,
}

/// Start a rig on `scenario` (YAML text) with the runbook `runbook` (YAML text, named
/// `label`), `read_only` as `--read-only` says.
pub async fn rig(scenario: &str, label: &str, runbook: &str, read_only: bool) -> Rig {
    warroom::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let sc = warroom::runbook::parse_scenario(scenario).unwrap();
    let sim = warroom::sim::start(sc, 0, 0).await.unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let client = warroom::kube::connect(Some(&kc), None).await.unwrap();
    let rb = parse_runbook(Path::new(label), runbook).unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let mut app = App::open(
        rb,
        label,
        &dir.path().join("journal.jsonl"),
        "lin",
        layout::builtin("war-room"),
        warroom::format::Zone::Local,
        tx,
    )
    .unwrap();
    let prometheus = warroom::prom::Overrides {
        url: Some(sim.prom_url.clone()),
        ..Default::default()
    };
    let sources =
        warroom::app::start_sources(&mut app, client.clone(), &prometheus, read_only).unwrap();
    Rig {
        sim,
        client,
        app,
        rx,
        dir,
        tasks: sources.tasks,
        lease: sources.lease,
    }
}

/// The console's whole screen at 160x48, as text (a wide character once).
pub fn screen(app: &App) -> String {
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

/// `n` pods of the Deployment, all ready, as the rollout pane shows them: its watch and
/// the pods' answer in either order, and the checks verified from the pods read these.
pub fn pods_ready(app: &App, deployment: &str, n: usize) -> bool {
    let pods: Vec<_> = app.state.cluster.pods_of(deployment, None).collect();
    pods.len() == n && pods.iter().all(|p| p.ready())
}
