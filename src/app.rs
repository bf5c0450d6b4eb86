//! The driver: events → update → effects → draw. The only place where state, I/O and the
//! terminal meet.

use crate::i18n::trf;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{Event as CtEvent, EventStream, KeyEventKind};
use ratatui::layout::Rect;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

use crate::effect::Effect;
use crate::event::Event;
use crate::journal::{self, Entry, Level as LogLevel, Writer};
use crate::layout::Layout;
use crate::runbook::Runbook;
use crate::runner::Runner;
use crate::state::State;
use crate::ui::{self, View};
use crate::update::{CONSOLE, update};

/// How long quitting waits to hand the Lease back.
const RELEASE_LIMIT: Duration = Duration::from_secs(5);

/// At most this many frames a second.
const FRAME: Duration = Duration::from_millis(33);

/// How long news from the sources (answers, the cluster's changes, the clock) waits to be
/// drawn, so news that comes together is drawn once: the gauges and the triggers are asked
/// together on the heartbeat and their answers come back over some tens of milliseconds,
/// which drawn one by one cost a frame each. Keys are drawn within a frame.
const SETTLE: Duration = Duration::from_millis(100);

pub struct App {
    pub state: State,
    pub view: View,
    /// Carries out the effects: journal, cluster, Lease.
    runner: Runner,
    /// This console as the cluster knows it (Lease holder, Events' reporting instance).
    pub identity: String,
    /// The last frame sent to the terminal.
    shown: Option<Buffer>,
    /// Where the next frame is drawn, kept from one frame to the next.
    scratch: Buffer,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Replay(#[from] journal::ReplayError),
    #[error("{path}: cannot open the journal: {err}")]
    Open { path: String, err: std::io::Error },
    #[error(
        "{path}: this journal belongs to {other}, not {this}: choose another file with --journal"
    )]
    OtherRelease {
        path: String,
        other: String,
        this: String,
    },
}

impl App {
    /// Open the journal, replay it into a fresh state, and record this session's start.
    pub fn open(
        rb: Runbook,
        runbook_label: &str,
        journal_path: &Path,
        operator: &str,
        layout: Layout,
        zone: crate::format::Zone,
        tx: UnboundedSender<Event>,
    ) -> Result<App, StartError> {
        let rb = Arc::new(rb);
        // Take the journal (and its lock) before reading it, so no other console writes
        // between the replay and this session.
        let journal = Writer::open(journal_path).map_err(|err| StartError::Open {
            path: journal_path.display().to_string(),
            err,
        })?;
        let replay = journal::replay(journal_path)?;
        same_release(&rb, journal_path, &replay.records)?;
        let mut state = State::new(rb.clone(), operator, Utc::now());
        state.zone = zone;
        for r in &replay.records {
            state.apply(r);
        }
        let identity = crate::kube::lease::identity(operator);
        let mut app = App {
            state,
            view: View::new(layout),
            runner: Runner::new(journal, tx, identity.clone()),
            identity,
            shown: None,
            scratch: Buffer::default(),
        };
        let mut fx = Vec::new();
        let session = app.state.record(
            &app.state.operator.clone(),
            Entry::Session {
                runbook: runbook_label.to_string(),
                release: rb.release.name.clone(),
                version: rb.release.version.clone(),
            },
        );
        app.state.apply(&session);
        fx.push(Effect::Journal(session));
        let mut warn = |app: &mut App, text: String| {
            let rec = app.state.record(
                CONSOLE,
                Entry::System {
                    level: LogLevel::Warn,
                    text,
                },
            );
            app.state.apply(&rec);
            fx.push(Effect::Journal(rec));
        };
        // A session that ended without its close record (killed, power lost): say so, with
        // when its last word was, so the room knows the gap.
        if let Some(last) = replay.records.last()
            && !crate::state::closes(&last.entry)
        {
            let text = trf(
                app.state.lang,
                "the previous session ended without closing: its last record was at {}",
                &[&zone.hms(last.at)],
            );
            warn(&mut app, text);
        }
        if let Some((line, aside)) = &replay.torn {
            let text = trf(
                app.state.lang,
                "line {} of the journal, its last, was cut short (a crash mid-write?): its bytes were moved to {} and everything before it was restored",
                &[line, &aside.display()],
            );
            warn(&mut app, text);
        }
        if let Some(p) = app.state.stages.pending.take() {
            let text = trf(
                app.state.lang,
                "action #{} was sent at {} but its result was never recorded: it is checked against the cluster as soon as the cluster is seen",
                &[&p.seq, &zone.hms(p.at)],
            );
            warn(&mut app, text);
            app.state.unreconciled = Some(p);
        }
        app.run_effects(fx);
        Ok(app)
    }

    /// A console that follows the driving console's journal at `journal_path`: read
    /// without its lock, never written, its records the whole of this console's story.
    /// Returns the journal's tail, where `journal::follow::spawn` carries on reading.
    pub fn follow(
        rb: Runbook,
        journal_path: &Path,
        operator: &str,
        layout: Layout,
        zone: crate::format::Zone,
        tx: UnboundedSender<Event>,
    ) -> Result<(App, journal::Tail), StartError> {
        let rb = Arc::new(rb);
        let mut tail = journal::Tail::new(journal_path);
        let records = match tail.poll()? {
            journal::TailRead::More(r) | journal::TailRead::Reset(r) => r,
        };
        same_release(&rb, journal_path, &records)?;
        let follow = crate::state::Follow::new(journal_path.display().to_string(), false);
        let app = App::following(
            rb,
            follow,
            &records,
            journal_path,
            operator,
            layout,
            zone,
            tx,
        );
        Ok((app, tail))
    }

    /// A console on another host following the driving console's mirror in the cluster
    /// (`warroom run --read-only`): what the mirror holds is this console's story. Should
    /// it take over, it carries that story on in `journal_path`.
    pub fn follow_cluster(
        rb: Runbook,
        journal_path: &Path,
        operator: &str,
        layout: Layout,
        zone: crate::format::Zone,
        tx: UnboundedSender<Event>,
    ) -> App {
        let follow = crate::state::Follow::mirror(&rb);
        App::following(
            Arc::new(rb),
            follow,
            &[],
            journal_path,
            operator,
            layout,
            zone,
            tx,
        )
    }

    /// The journal at `path` played again (`warroom replay`): read-only, its records shown
    /// as the journal's clock reaches them, `speed` journal seconds to a real one, the
    /// gauges from its flight recorder. It needs no cluster and no Prometheus.
    pub fn replay(
        rb: Runbook,
        path: &Path,
        operator: &str,
        layout: Layout,
        zone: crate::format::Zone,
        speed: f64,
        tx: UnboundedSender<Event>,
    ) -> Result<App, StartError> {
        let rb = Arc::new(rb);
        let records = journal::read(path)?;
        same_release(&rb, path, &records)?;
        let start = records.first().map_or_else(Utc::now, |r| r.at);
        let end = records.last().map_or(start, |r| r.at);
        let mut follow = crate::state::Follow::new(path.display().to_string(), false);
        follow.replay = Some(crate::state::Replay {
            queue: records.into(),
            clock: start,
            end,
            speed: speed.clamp(0.25, 3600.0),
            paused: false,
            real: None,
        });
        let mut app = App::following(rb, follow, &[], path, operator, layout, zone, tx);
        app.state.now = start;
        // The flight recorder writes at most every 30 s: its values are what the room saw
        // then, not stale data.
        app.state.stale_after = app
            .state
            .stale_after
            .max(2 * crate::update::RECORD_EVERY_SECS);
        app.state.driver = crate::state::Driver::ReadOnly {
            why: format!("a replay of {}: nothing here acts", path.display()),
            holder: None,
        };
        Ok(app)
    }

    #[allow(clippy::too_many_arguments)]
    fn following(
        rb: Arc<Runbook>,
        mut follow: crate::state::Follow,
        records: &[journal::Record],
        journal_path: &Path,
        operator: &str,
        layout: Layout,
        zone: crate::format::Zone,
        tx: UnboundedSender<Event>,
    ) -> App {
        let now = Utc::now();
        let mut state = State::new(rb, operator, now);
        state.zone = zone;
        // A journal read is a copy as of now; the mirror has said nothing yet.
        if !follow.from_cluster {
            follow.saw(records, now);
        }
        state.follow = Some(follow);
        for r in records {
            state.apply(r);
        }
        let identity = crate::kube::lease::identity(operator);
        App {
            state,
            view: View::new(layout),
            runner: crate::runner::Runner::following(journal_path, tx, identity.clone()),
            identity,
            shown: None,
            scratch: Buffer::default(),
        }
    }

    pub fn set_kube(&mut self, client: kube::Client) {
        self.runner.set_kube(client);
    }

    /// The console says something in the log and the journal, outside any event (a
    /// problem found while starting). A following console keeps its driver's log as it is.
    pub fn note(&mut self, level: LogLevel, text: String) {
        if self.state.follow.is_some() {
            log::warn!("{text}");
            return;
        }
        let rec = self.state.record(CONSOLE, Entry::System { level, text });
        self.state.apply(&rec);
        self.run_effects(vec![Effect::Journal(rec)]);
    }

    /// Where each chat channel's messages go.
    pub fn set_notify(
        &mut self,
        queues: std::collections::HashMap<String, UnboundedSender<crate::notify::Outgoing>>,
    ) {
        self.runner.set_notify(queues);
    }

    /// Mirror the journal into the cluster whenever this console drives.
    pub fn set_mirror(&mut self, tx: UnboundedSender<crate::kube::mirror::Publish>) {
        self.runner.set_mirror(tx);
    }

    /// Connect the take-over key and the countdown to the Lease task.
    pub fn set_lease(&mut self, lease: &crate::kube::lease::LeaseTask) {
        self.runner.set_lease(lease);
    }

    pub fn journal_path(&self) -> &Path {
        self.runner.journal_path()
    }

    pub fn sender(&self) -> UnboundedSender<Event> {
        self.runner.sender()
    }

    fn run_effects(&mut self, fx: Vec<Effect>) {
        // Every record in `fx` was numbered when `update` made it: a crash record written
        // while they run comes after all of them.
        crash::saw(self.state.seq);
        self.runner.run(&mut self.state, fx);
    }

    pub fn handle(&mut self, ev: Event) {
        if self.state.ui.quit {
            return;
        }
        if ev == Event::Resize {
            self.shown = None;
        }
        if matches!(ev, Event::Tick(_)) {
            crate::logger::collect();
        }
        self.state.wall = Some(Utc::now());
        let following = self.state.follow.is_some();
        let fx = update(&mut self.state, ev);
        if following && self.state.follow.is_none() {
            // It took the journal over: from now on a crash is recorded there, as the
            // driving console's would be.
            crash::arm(
                self.runner.journal_path(),
                &self.state.operator,
                self.state.seq,
            );
        }
        self.run_effects(fx);
        self.runner.publish_countdown(&self.state);
        self.runner.publish_armed(&self.state);
    }

    /// Draw if the state changed, and send the frame only if a cell changed: even an
    /// empty frame costs the terminal a style reset, and over a slow link every byte counts.
    pub fn draw<B: Backend>(&mut self, terminal: &mut Terminal<B>) -> Result<(), B::Error> {
        if !self.state.ui.dirty {
            return Ok(());
        }
        self.state.ui.dirty = false;
        if self.state.ui.console_log {
            crate::logger::collect();
        }
        let size = terminal.size()?;
        let area = Rect::new(0, 0, size.width, size.height);
        let next = &mut self.scratch;
        if next.area == area {
            next.reset();
        } else {
            *next = Buffer::empty(area);
        }
        ui::draw_into(&self.state, &self.view, next);
        if self.shown.as_ref() == Some(next) {
            return Ok(());
        }
        terminal.draw(|f| {
            if f.area() == next.area {
                f.buffer_mut().clone_from(next);
            } else {
                // resized between the two calls: draw for the new size
                ui::draw_into(&self.state, &self.view, f.buffer_mut());
            }
        })?;
        // The frame shown becomes the one kept; the one it replaces is drawn over next.
        match &mut self.shown {
            Some(shown) => std::mem::swap(shown, next),
            None => self.shown = Some(std::mem::take(next)),
        }
        Ok(())
    }
}

/// A journal of another release is not this one's to carry on (or to follow).
fn same_release(rb: &Runbook, path: &Path, records: &[journal::Record]) -> Result<(), StartError> {
    let this = format!("{} {}", rb.release.name, rb.release.version);
    for r in records {
        if let Entry::Session {
            release, version, ..
        } = &r.entry
        {
            let other = format!("{release} {version}");
            if other != this {
                return Err(StartError::OtherRelease {
                    path: path.display().to_string(),
                    other,
                    this,
                });
            }
        }
    }
    Ok(())
}

/// Send the clock once a second, on the heartbeat.
pub fn spawn_clock(
    mut beat: crate::beat::Beat,
    tx: UnboundedSender<Event>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(now) = beat.next().await {
            if tx.send(Event::Tick(now)).is_err() {
                return;
            }
        }
    })
}

/// The signals that end a session: each becomes an event, so the console closes the way
/// `q` does (a close record, the Lease handed back, the terminal restored).
pub fn spawn_signals(tx: UnboundedSender<Event>) -> tokio::task::JoinHandle<()> {
    use tokio::signal::unix::{SignalKind, signal};
    // The handlers are in place when this returns, not when the task first runs: a
    // signal that comes at once (a session dropped as the console starts) is an event
    // too, never the default action that kills the process with the Lease held.
    let kinds = [
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::quit(), "SIGQUIT"),
    ];
    let mut streams = Vec::new();
    for (k, name) in kinds {
        match signal(k) {
            Ok(s) => streams.push((s, name)),
            Err(e) => log::warn!("cannot listen for {name}: {e}"),
        }
    }
    tokio::spawn(async move {
        let waits = streams.iter_mut().map(|(s, name)| {
            let name = *name;
            Box::pin(async move {
                s.recv().await;
                name
            })
        });
        let (name, _, _) = futures::future::select_all(waits).await;
        let _ = tx.send(Event::Signal(name));
    })
}

/// Keys, pastes and resizes from the terminal.
pub fn spawn_terminal_events(tx: UnboundedSender<Event>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut events = EventStream::new();
        while let Some(Ok(ev)) = events.next().await {
            let e = match ev {
                CtEvent::Key(k) if k.kind == KeyEventKind::Press => Event::Key(k),
                CtEvent::Paste(s) => Event::Paste(s),
                CtEvent::Resize(..) => Event::Resize,
                _ => continue,
            };
            if tx.send(e).is_err() {
                return;
            }
        }
    })
}

/// The loop: wait for events, apply them in batches, draw at most ~30 times a second and
/// only when something changed: what the operator did within a frame, news from the
/// sources once it has settled.
pub async fn drive<B: Backend>(
    app: &mut App,
    terminal: &mut Terminal<B>,
    rx: &mut UnboundedReceiver<Event>,
) -> Result<(), B::Error> {
    // The runtime's clock, which a test can hold still.
    use tokio::time::Instant;
    let mut last_draw = Instant::now() - FRAME;
    if let Err(e) = app.draw(terminal) {
        lost_terminal(app, rx).await;
        return Err(e);
    }
    loop {
        let Some(ev) = rx.recv().await else {
            return Ok(());
        };
        let mut operator = by_operator(&ev);
        app.handle(ev);
        // Once the operator has quit, nothing after it counts: keys typed meanwhile must
        // not become notes or actions.
        while !app.state.ui.quit
            && let Ok(ev) = rx.try_recv()
        {
            operator |= by_operator(&ev);
            app.handle(ev);
        }
        if app.state.ui.quit {
            return Ok(());
        }
        if app.state.ui.dirty {
            let frame = last_draw + FRAME;
            let mut due = if operator {
                frame
            } else {
                frame.max(Instant::now() + SETTLE)
            };
            // Until then, keep the state current; a key brings the frame forward.
            while Instant::now() < due {
                match tokio::time::timeout_at(due, rx.recv()).await {
                    Ok(Some(ev)) => {
                        if by_operator(&ev) {
                            due = due.min(frame);
                        }
                        app.handle(ev);
                        if app.state.ui.quit {
                            return Ok(());
                        }
                    }
                    Ok(None) | Err(_) => break,
                }
            }
            if let Err(e) = app.draw(terminal) {
                lost_terminal(app, rx).await;
                return Err(e);
            }
            last_draw = Instant::now();
        }
    }
}

/// What the operator did (a key, a paste, a resized window), as against news.
fn by_operator(ev: &Event) -> bool {
    matches!(ev, Event::Key(_) | Event::Paste(_) | Event::Resize)
}

/// How long a console whose terminal cannot be written waits for the hang-up that
/// follows a dropped session, to journal it by its name.
const HANGUP_WAIT: Duration = Duration::from_secs(2);

/// The terminal cannot be written: the session went away (the hang-up signal is on its
/// way). Close as the signal would, so the journal says why and the Lease is handed back,
/// and by the signal's name when it comes in time; keys typed meanwhile count for nothing.
async fn lost_terminal(app: &mut App, rx: &mut UnboundedReceiver<Event>) {
    let limit = tokio::time::Instant::now() + HANGUP_WAIT;
    while !app.state.ui.quit {
        match tokio::time::timeout_at(limit, rx.recv()).await {
            Ok(Some(Event::Key(_) | Event::Paste(_))) => {}
            Ok(Some(ev)) => app.handle(ev),
            _ => app.handle(Event::Signal("a terminal that cannot be written")),
        }
    }
}

/// Everything the console needs to start.
pub struct Launch {
    pub runbook: Runbook,
    pub runbook_label: String,
    pub journal: PathBuf,
    pub operator: String,
    pub layout: Layout,
    pub kube: kube::Client,
    /// The flags' Prometheus settings, over the runbook's `prometheus:` section.
    pub prometheus: crate::prom::Overrides,
    /// Watch only, as `--read-only` asks.
    pub read_only: bool,
    /// Follow the driving console's journal (`warroom watch`): read-only, and what the
    /// journal holds is this console's story.
    pub follow: bool,
    /// The zone clock times are shown in (`--utc`).
    pub zone: crate::format::Zone,
    /// The cluster is the demo's simulator, which ends with the console.
    pub simulated: bool,
    /// No colour or no box glyphs (`--no-color`, `NO_COLOR`, `--ascii`).
    pub plain: crate::ui::plain::Plain,
    /// The language to write in, over the runbook's (`--lang`).
    pub lang: Option<crate::runbook::Lang>,
}

/// What feeds a console: its tasks, and the Lease task (handed back on the way out).
pub struct Sources {
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
    pub lease: crate::kube::lease::LeaseTask,
    /// The journal's mirror in the cluster: it ends once the console lets go of it and
    /// it has written what it was given.
    pub mirror: tokio::task::JoinHandle<()>,
}

/// Start everything that feeds the console, as `warroom run` wires it: the cluster watch,
/// the clock, the gauges and triggers, and the Lease. What can fail is settled first, and
/// the Lease is claimed last, so a console that fails to start never holds it.
pub fn start_sources(
    app: &mut App,
    kube: kube::Client,
    prometheus: &crate::prom::Overrides,
    read_only: bool,
) -> anyhow::Result<Sources> {
    let tx = app.sender();
    let rb = app.state.rb.clone();
    let ns = rb.namespace();
    let prom = match crate::prom::Settings::resolve(rb.prometheus.as_ref(), prometheus) {
        _ if rb.metrics.is_empty()
            && !rb
                .flat_items()
                .iter()
                .any(|i| i.verify.as_ref().is_some_and(|v| v.promql.is_some())) =>
        {
            None
        }
        Ok(Some(settings)) => Some((
            crate::prom::Prom::new(&settings).map_err(anyhow::Error::msg)?,
            settings.refresh,
        )),
        Ok(None) => {
            for i in 0..rb.metrics.len() {
                let _ = tx.send(Event::Metric {
                    index: i,
                    at: Utc::now(),
                    reading: crate::state::metrics::Reading::Error("no Prometheus configured: pass --prometheus URL or set prometheus.url in the runbook".into()),
                });
            }
            None
        }
        Err(e) => anyhow::bail!("Prometheus: {e}"),
    };
    app.set_kube(kube.clone());
    let lang = app.state.lang;
    app.runner
        .set_probes(prom.as_ref().map(|(p, _)| p.clone()), ns, lang);
    let (beat, heart) = crate::beat::start();
    let mut tasks = vec![
        {
            let (deployments, routes) = crate::canary::objects(&rb.targets);
            crate::kube::spawn_watch(kube.clone(), ns, deployments, routes, tx.clone())
        },
        heart,
        spawn_clock(beat.clone(), tx.clone()),
        crate::kube::spawn_pod_events(kube.clone(), ns, tx.clone()),
    ];
    if let Some((prom, refresh)) = prom.filter(|_| !rb.metrics.is_empty()) {
        let gauges = rb
            .metrics
            .iter()
            .map(|m| crate::prom::Gauge {
                metric: m.clone(),
                points: crate::state::metrics::window_points(&rb, m),
            })
            .collect();
        let (armed, armed_rx) =
            tokio::sync::watch::channel(crate::update::armed_triggers(&app.state));
        app.runner.set_armed(armed);
        tasks.push(crate::prom::triggers::spawn(
            prom.clone(),
            crate::prom::triggers::watches(&rb, refresh),
            refresh,
            beat.clone().rounds(refresh),
            armed_rx,
            tx.clone(),
        ));
        tasks.push(crate::prom::spawn_poller(
            prom,
            gauges,
            refresh,
            beat.rounds(refresh),
            tx.clone(),
        ));
    }
    // The team's chat: a sender per channel whose URL (and secret) could be read.
    let (ready, problems) = crate::notify::resolve(&rb);
    for p in problems {
        app.note(LogLevel::Warn, p);
    }
    let (queues, senders) = crate::notify::spawn(
        ready,
        (rb.release.name.clone(), rb.release.version.clone()),
        crate::notify::Pace::default(),
        tx.clone(),
    );
    app.set_notify(queues);
    tasks.extend(senders);
    let lease_name = crate::kube::lease::lease_name(&rb.release.name, &rb.release.version);
    // The mirror: written while this console drives, read while it follows from the
    // cluster.
    let (mirror_tx, mirror_rx) = mpsc::unbounded_channel();
    let mirror =
        crate::kube::mirror::spawn_writer(kube.clone(), ns, &lease_name, mirror_rx, tx.clone());
    app.set_mirror(mirror_tx);
    if app.state.follow.as_ref().is_some_and(|f| f.from_cluster) {
        tasks.push(crate::kube::mirror::spawn_reader(
            kube.clone(),
            ns,
            &lease_name,
            tx.clone(),
        ));
    }
    let marked = crate::kube::lease::Marked::of(&rb.targets);
    let me = app.identity.clone();
    let lease = if app.state.follow.is_some() {
        // A follower claims the Lease only when its lead takes over.
        crate::kube::lease::spawn_following(kube, ns, &lease_name, me, marked, app.state.lang, tx)
    } else {
        crate::kube::lease::spawn(
            kube,
            ns,
            &lease_name,
            me,
            read_only,
            marked,
            app.state.lang,
            tx,
        )
    };
    app.set_lease(&lease);
    Ok(Sources {
        tasks,
        lease,
        mirror,
    })
}

/// Run the console in the real terminal until the operator quits. The terminal is restored
/// on every way out: normal exit, error, and panic (ratatui's hook restores, then chains).
pub async fn run(mut l: Launch) -> anyhow::Result<PathBuf> {
    // Chosen before the journal is read, so the log it holds reads in that language too.
    l.runbook.language = l.lang.or(l.runbook.language);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (mut app, tail) = if l.follow {
        let (app, tail) = App::follow(
            l.runbook,
            &l.journal,
            &l.operator,
            l.layout,
            l.zone,
            tx.clone(),
        )?;
        (app, Some(tail))
    } else if l.read_only {
        // Read-only on any host: the driver's story, from its mirror in the cluster.
        let app = App::follow_cluster(
            l.runbook,
            &l.journal,
            &l.operator,
            l.layout,
            l.zone,
            tx.clone(),
        );
        (app, None)
    } else {
        let app = App::open(
            l.runbook,
            &l.runbook_label,
            &l.journal,
            &l.operator,
            l.layout,
            l.zone,
            tx.clone(),
        )?;
        // A follower's crash is its own: the journal it reads is not its to write.
        crash::arm(app.journal_path(), &app.state.operator, app.state.seq);
        (app, None)
    };
    app.state.simulated = l.simulated;
    app.view.plain = l.plain;
    crash::install_hook();
    // Signals first: from here on an ending signal closes the console the way `q` does,
    // however early it comes.
    let signals = spawn_signals(tx.clone());
    let mut terminal = screen::enter()?;
    let read_only = l.read_only || l.follow;
    let Sources {
        mut tasks,
        lease,
        mirror,
    } = match start_sources(&mut app, l.kube.clone(), &l.prometheus, read_only) {
        Ok(s) => s,
        Err(e) => {
            signals.abort();
            screen::leave(terminal);
            return Err(e);
        }
    };
    tasks.push(signals);
    if let Some(tail) = tail {
        tasks.push(journal::follow::spawn(tail, tx.clone()));
    }
    tasks.push(spawn_terminal_events(tx.clone()));
    let result = drive(&mut app, &mut terminal, &mut rx).await;
    screen::leave(terminal);
    for t in tasks {
        t.abort();
    }
    // The last records (the close among them) reach the mirror before the Lease is let
    // go, so the consoles following elsewhere read how this one ended.
    app.runner.close_mirror();
    if tokio::time::timeout(RELEASE_LIMIT, mirror).await.is_err() {
        log::warn!("the journal's last records may not have reached the mirror in the cluster");
    }
    // Long enough to finish a renewal in flight and then hand the Lease back, even on a
    // loaded machine; short against the Lease's 30 s term.
    lease.release(RELEASE_LIMIT).await;
    result?;
    Ok(app.journal_path().to_path_buf())
}

/// Play a journal again on the full console until the viewer quits. It touches no
/// cluster: only the clock, the terminal and the signals feed it.
pub async fn replay(
    mut runbook: Runbook,
    path: &Path,
    operator: &str,
    layout: Layout,
    zone: crate::format::Zone,
    (plain, lang): (crate::ui::plain::Plain, Option<crate::runbook::Lang>),
    speed: f64,
) -> anyhow::Result<()> {
    runbook.language = lang.or(runbook.language);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut app = App::replay(runbook, path, operator, layout, zone, speed, tx.clone())?;
    app.view.plain = plain;
    crash::install_hook();
    let signals = spawn_signals(tx.clone());
    let mut terminal = screen::enter()?;
    let (beat, heart) = crate::beat::start();
    let tasks = [
        signals,
        heart,
        spawn_clock(beat, tx.clone()),
        spawn_terminal_events(tx),
    ];
    let result = drive(&mut app, &mut terminal, &mut rx).await;
    screen::leave(terminal);
    for t in tasks {
        t.abort();
    }
    result?;
    Ok(())
}

/// A panic anywhere ends the process: the terminal is restored, the journal gets a close
/// record saying so, and the process exits, rather than a blank screen with dead keys.
pub mod crash {
    use std::io::Write;
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    use crate::journal::{Entry, Level, Record};

    static JOURNAL: OnceLock<(PathBuf, String)> = OnceLock::new();
    static SEQ: AtomicU64 = AtomicU64::new(0);

    pub fn arm(path: &Path, operator: &str, seq: u64) {
        let _ = JOURNAL.set((path.to_path_buf(), operator.to_string()));
        SEQ.fetch_max(seq, Ordering::SeqCst);
    }

    pub fn saw(seq: u64) {
        SEQ.fetch_max(seq, Ordering::SeqCst);
    }

    pub fn install_hook() {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            super::screen::restore();
            previous(info);
            if let Some((path, who)) = JOURNAL.get() {
                let rec = Record {
                    seq: SEQ.load(Ordering::SeqCst) + 1,
                    at: chrono::Utc::now(),
                    who: who.clone(),
                    entry: Entry::System {
                        level: Level::Error,
                        text: format!(
                            "the console crashed ({}); the cluster stays as it is: start the console again with the same journal",
                            crate::text::clean(&info.to_string())
                        ),
                    },
                };
                if let Ok(mut line) = serde_json::to_vec(&rec)
                    && let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(path)
                {
                    line.push(b'\n');
                    let _ = f.write_all(&line).and_then(|_| f.sync_data());
                }
            }
            std::process::exit(101);
        }));
    }
}

/// The terminal, entered and left by the console itself. ratatui's own `restore` and its
/// `Terminal`'s drop report failures with `eprintln!`, which panics when the terminal is
/// gone (a dropped SSH session): a panic in the way out, or in the panic hook, aborts the
/// process before the Lease is handed back. Here every failure on the way out is ignored:
/// there is nobody left to tell.
mod screen {
    use std::io::stdout;

    use ratatui::crossterm::cursor::Show;
    use ratatui::crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
    use ratatui::crossterm::execute;
    use ratatui::crossterm::terminal::{
        EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
    };
    use ratatui::{DefaultTerminal, Terminal, backend::CrosstermBackend};

    pub fn enter() -> std::io::Result<DefaultTerminal> {
        enable_raw_mode()?;
        // Cleared once: the alternate screen may still hold another program's frame (a
        // console killed with -9 never left it), and frames are sent as differences
        // from a blank screen.
        let entered = execute!(stdout(), EnterAlternateScreen, EnableBracketedPaste)
            .and_then(|_| Terminal::new(CrosstermBackend::new(stdout())))
            .and_then(|mut t| t.clear().map(|_| t));
        if entered.is_err() {
            restore();
        }
        entered
    }

    /// Put the terminal back as the shell expects it, whatever fails.
    pub fn restore() {
        let _ = disable_raw_mode();
        let _ = execute!(stdout(), DisableBracketedPaste, LeaveAlternateScreen, Show);
    }

    pub fn leave(mut terminal: DefaultTerminal) {
        let _ = terminal.show_cursor();
        restore();
        // Its drop would report a cursor it could not show with a panicking eprintln.
        std::mem::forget(terminal);
    }
}
