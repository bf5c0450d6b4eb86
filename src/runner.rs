//! The effect runner: carries out what `update` asks, in order. The journal first: an
//! effect after a record runs only once that record is on disk. Then the cluster (each
//! write under this console's mark, with a deadline that ends before its Lease does) and
//! the Lease task. Results come back as events; the runner never decides anything.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc::UnboundedSender;

use crate::effect::Effect;
use crate::event::Event;
use crate::journal::{self, Level as LogLevel, Writer};
use crate::state::{CommsEntry, State};
use crate::update::CONSOLE;

/// How long an action may wait for the API before it is reported as unanswered.
const ACTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the runner's records go.
enum Journal {
    Writing(Writer),
    /// A following console writes nothing: it reads the driver's journal at this path.
    Following(std::path::PathBuf),
}

pub struct Runner {
    journal: Journal,
    tx: UnboundedSender<Event>,
    kube: Option<kube::Client>,
    /// This console as the cluster knows it (the Events' reporting instance).
    identity: String,
    /// Where a take-over is asked of the Lease task.
    lease_take: Option<UnboundedSender<()>>,
    /// Where the driver's countdown is published on the Lease for every console.
    lease_countdown: Option<tokio::sync::watch::Sender<Option<String>>>,
    /// Where the triggers' source learns which triggers are armed, so that it asks
    /// Prometheus about those alone.
    armed: Option<tokio::sync::watch::Sender<Vec<bool>>>,
    /// Where the journal's records go to be mirrored into the cluster, and the mark under
    /// which the whole journal was last handed over.
    mirror: Option<UnboundedSender<crate::kube::mirror::Publish>>,
    mirrored: Option<String>,
    /// Each chat channel's queue, by the runbook's channel id.
    notify: std::collections::HashMap<String, UnboundedSender<crate::notify::Outgoing>>,
    /// The mirror's reader, when this console began following another driver.
    follower: Option<tokio::task::JoinHandle<()>>,
    /// What the verifications' probes use.
    probes: crate::probe::Probes,
}

impl Drop for Runner {
    fn drop(&mut self) {
        if let Some(f) = &self.follower {
            f.abort();
        }
    }
}

impl Runner {
    pub fn new(journal: Writer, tx: UnboundedSender<Event>, identity: String) -> Runner {
        Runner::with(Journal::Writing(journal), tx, identity)
    }

    /// The runner of a console following the journal at `path`: it writes nothing there
    /// unless it takes the journal over (`Effect::Adopt`).
    pub fn following(path: &Path, tx: UnboundedSender<Event>, identity: String) -> Runner {
        Runner::with(Journal::Following(path.to_path_buf()), tx, identity)
    }

    fn with(journal: Journal, tx: UnboundedSender<Event>, identity: String) -> Runner {
        Runner {
            journal,
            tx,
            kube: None,
            identity,
            lease_take: None,
            lease_countdown: None,
            armed: None,
            mirror: None,
            mirrored: None,
            notify: std::collections::HashMap::new(),
            follower: None,
            probes: crate::probe::Probes::default(),
        }
    }

    /// Where each chat channel's messages go.
    pub fn set_notify(
        &mut self,
        queues: std::collections::HashMap<String, UnboundedSender<crate::notify::Outgoing>>,
    ) {
        self.notify = queues;
    }

    /// Hand the mirror nothing more: it ends once it has written what it holds.
    pub fn close_mirror(&mut self) {
        self.mirror = None;
    }

    /// Mirror the journal into the cluster while this console drives.
    pub fn set_mirror(&mut self, tx: UnboundedSender<crate::kube::mirror::Publish>) {
        self.mirror = Some(tx);
    }

    /// Hand a record just written to the mirror: the whole journal first, whenever this
    /// console has begun driving under a new mark.
    fn mirror(&mut self, state: &State, rec: &journal::Record) {
        use crate::kube::mirror::Publish;
        let (Some(tx), crate::state::Driver::Driving { fence, .. }) = (&self.mirror, &state.driver)
        else {
            return;
        };
        let p = if self.mirrored.as_ref() == Some(fence) {
            Publish::One {
                record: rec.clone(),
                fence: fence.clone(),
            }
        } else {
            match journal::replay(self.journal_path()) {
                Ok(r) => {
                    self.mirrored = Some(fence.clone());
                    Publish::All {
                        records: r.records,
                        fence: fence.clone(),
                    }
                }
                Err(e) => {
                    log::error!("cannot read the journal to mirror it: {e}");
                    return;
                }
            }
        };
        let _ = tx.send(p);
    }

    pub fn set_kube(&mut self, client: kube::Client) {
        self.probes.kube = Some(client.clone());
        self.kube = Some(client);
    }

    /// The Prometheus the verifications' PromQL is asked of, and the release's namespace
    /// their one-off reads look in.
    pub fn set_probes(
        &mut self,
        prom: Option<crate::prom::Prom>,
        namespace: &str,
        lang: crate::runbook::Lang,
    ) {
        self.probes.prom = prom;
        self.probes.lang = lang;
        self.probes.namespace = namespace.to_string();
    }

    /// Connect the take-over key and the countdown to the Lease task.
    pub fn set_lease(&mut self, lease: &crate::kube::lease::LeaseTask) {
        self.lease_take = Some(lease.taker());
        self.lease_countdown = Some(lease.countdown());
    }

    pub fn journal_path(&self) -> &Path {
        match &self.journal {
            Journal::Writing(w) => w.path(),
            Journal::Following(p) => p,
        }
    }

    /// Take the journal: its lock first, then what it holds. It must tell the followed
    /// story or the start of it (then the rest is written): a journal with another story
    /// is not overwritten.
    fn adopt(&mut self, followed: Vec<journal::Record>) -> Result<Vec<journal::Record>, String> {
        if let Journal::Writing(w) = &self.journal {
            return self.carry_on(w.path().to_path_buf(), followed);
        }
        let Journal::Following(path) = &self.journal else {
            unreachable!("a journal is written or followed")
        };
        let path = path.clone();
        let writer = Writer::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => format!(
                "the console that wrote {} still has it open on this host (still running, perhaps cut off from the API): quit it first, or take over from another journal",
                path.display()
            ),
            _ => format!("cannot open {}: {e}", path.display()),
        })?;
        let mut writer = writer;
        let held = journal::replay(&path).map_err(|e| e.to_string())?.records;
        let records = if followed.starts_with(&held) {
            for r in &followed[held.len()..] {
                writer.append(r).map_err(|e| e.to_string())?;
            }
            followed
        } else if held.starts_with(&followed) {
            held
        } else {
            let at = held
                .iter()
                .zip(&followed)
                .position(|(a, b)| a != b)
                .unwrap_or(held.len().min(followed.len()));
            return Err(format!(
                "{} tells another story than the driver's (they differ from record {} on): move it aside or start with another --journal",
                path.display(),
                at + 1
            ));
        };
        self.journal = Journal::Writing(writer);
        Ok(records)
    }

    /// A console that watched with a journal of its own takes over: its journal must
    /// carry the driver's story. One that is part of it gets the rest; one that only
    /// recorded the watching (no decision in it) is moved aside, kept, and the driver's
    /// story starts the journal anew; one with decisions of its own is left alone and the
    /// take-over refused.
    fn carry_on(
        &mut self,
        path: std::path::PathBuf,
        followed: Vec<journal::Record>,
    ) -> Result<Vec<journal::Record>, String> {
        use journal::Entry;
        let held = journal::replay(&path).map_err(|e| e.to_string())?.records;
        if followed.starts_with(&held) {
            let Journal::Writing(w) = &mut self.journal else {
                unreachable!("checked by the caller")
            };
            for r in &followed[held.len()..] {
                w.append(r).map_err(|e| e.to_string())?;
            }
            return Ok(followed);
        }
        if held.starts_with(&followed) {
            return Ok(held);
        }
        let decided = held.iter().find(|r| {
            matches!(
                r.entry,
                Entry::Mark { .. }
                    | Entry::Ticks { .. }
                    | Entry::Note { .. }
                    | Entry::Advance { .. }
                    | Entry::Rollback { .. }
                    | Entry::Pause { .. }
                    | Entry::Step { .. }
                    | Entry::Cancel { .. }
            )
        });
        if let Some(r) = decided {
            return Err(format!(
                "{} holds decisions of this console's own (record {} by {}) that are not in the driver's story: start with another --journal to take over",
                path.display(),
                r.seq,
                r.who
            ));
        }
        let aside = {
            let mut s = path.as_os_str().to_owned();
            s.push(format!(".watched-{}", Utc::now().format("%Y%m%dT%H%M%S")));
            std::path::PathBuf::from(s)
        };
        std::fs::rename(&path, &aside)
            .map_err(|e| format!("cannot move {} aside: {e}", path.display()))?;
        let mut w =
            Writer::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        for r in &followed {
            w.append(r).map_err(|e| e.to_string())?;
        }
        // The old file's lock goes with its writer.
        self.journal = Journal::Writing(w);
        log::info!(
            "the journal of this console's watching was moved to {}",
            aside.display()
        );
        Ok(followed)
    }

    pub fn sender(&self) -> UnboundedSender<Event> {
        self.tx.clone()
    }

    /// Tell the triggers' source which triggers are armed now (see
    /// [`crate::update::armed_triggers`]); it hears only of a change.
    pub fn set_armed(&mut self, tx: tokio::sync::watch::Sender<Vec<bool>>) {
        self.armed = Some(tx);
    }

    pub fn publish_armed(&self, state: &State) {
        if let Some(tx) = &self.armed {
            send_if_changed(tx, crate::update::armed_triggers(state));
        }
    }

    /// Say on the Lease which automatic rollback this console counts down to, when it
    /// drives, so that consoles elsewhere show the same countdown.
    pub fn publish_countdown(&self, state: &State) {
        let Some(tx) = &self.lease_countdown else {
            return;
        };
        let s = state;
        let value = crate::update::countdown_running(s)
            .filter(|_| matches!(s.driver, crate::state::Driver::Driving { .. }))
            .map(|(i, deadline)| {
                crate::kube::lease::format_countdown(&crate::state::triggers::RemoteCountdown {
                    trigger: s.rb.rollback_triggers[i].id.clone(),
                    deadline,
                    evidence: s.triggers[i]
                        .met
                        .as_ref()
                        .map(|m| m.evidence.clone())
                        .unwrap_or_default(),
                })
            });
        send_if_changed(tx, value);
    }

    pub fn run(&mut self, state: &mut State, fx: Vec<Effect>) {
        for e in fx {
            match e {
                Effect::Journal(rec) => {
                    let Journal::Writing(w) = &mut self.journal else {
                        log::error!(
                            "record #{} not kept: this console follows a journal and writes none",
                            rec.seq
                        );
                        continue;
                    };
                    if let Err(err) = w.append(&rec) {
                        // Without the record on disk the decision does not count: the
                        // screen goes back to what the journal holds (the failed append was
                        // cut back to its last whole record), the lead is told, and nothing
                        // that followed it runs.
                        match journal::replay(w.path()) {
                            Ok(r) => state.rebuild(&r.records),
                            Err(e) => log::error!("cannot re-read the journal: {e}"),
                        }
                        state.comms.push(CommsEntry {
                            at: Utc::now(),
                            who: CONSOLE.into(),
                            level: LogLevel::Error,
                            text: format!("{err}. Nothing further was done."),
                        });
                        state.ui.flash = Some(
                            "NOT RECORDED: the journal cannot be written (see the log)".into(),
                        );
                        state.ui.dirty = true;
                        return;
                    }
                    self.mirror(state, &rec);
                }
                Effect::Kube { seq, op, audit } => {
                    let tx = self.tx.clone();
                    let ns = state.rb.namespace().to_string();
                    let instance = self.identity.clone();
                    // A write still in flight when the Lease may have passed to another
                    // console is abandoned: the deadline ends before the Lease does.
                    let limit = state
                        .lease_until
                        .map(|until| {
                            (until
                                - chrono::Duration::seconds(crate::state::LEASE_MARGIN_SECS)
                                - Utc::now())
                            .to_std()
                            .unwrap_or_default()
                            .min(ACTION_TIMEOUT)
                        })
                        .unwrap_or(ACTION_TIMEOUT);
                    // Every write carries the mark this console put on the release's
                    // objects when it took the Lease.
                    let fence = match &state.driver {
                        crate::state::Driver::Driving { fence, .. } => Some(fence.clone()),
                        _ => None,
                    };
                    match (self.kube.clone(), fence) {
                        (Some(client), Some(fence)) => {
                            log::info!("action #{seq}: {op}");
                            let lang = state.lang;
                            tokio::spawn(async move {
                                let r = match tokio::time::timeout(
                                    limit,
                                    crate::kube::run(&client, &ns, &op, (&fence, lang)),
                                )
                                .await
                                {
                                    Ok(r) => r,
                                    Err(_) => Err(format!(
                                        "the API server did not answer within {}s (the action's deadline, which ends before this console's Lease does): the change may or may not have been made; check the rollout pane before trying again",
                                        limit.as_secs()
                                    )),
                                };
                                match &r {
                                    Ok(m) => log::info!("action #{seq} done: {m}"),
                                    Err(m) => log::error!("action #{seq} failed: {m}"),
                                }
                                let (ok, message) = match r.clone() {
                                    Ok(m) => (true, m),
                                    Err(m) => (false, m),
                                };
                                let _ = tx.send(Event::Outcome { seq, ok, message });
                                crate::kube::record_events(
                                    &client, &ns, &op, &audit, &instance, &r,
                                )
                                .await;
                            });
                        }
                        (None, _) => {
                            let _ = tx.send(Event::Outcome {
                                seq,
                                ok: false,
                                message: "no Kubernetes client is configured".into(),
                            });
                        }
                        (Some(_), None) => {
                            let _ = tx.send(Event::Outcome {
                                seq,
                                ok: false,
                                message:
                                    "this console no longer drives the release: nothing was sent"
                                        .into(),
                            });
                        }
                    }
                }
                Effect::TakeLease => match &self.lease_take {
                    Some(t) => {
                        let _ = t.send(());
                    }
                    None => log::warn!("take-over asked, but no Lease task runs"),
                },
                Effect::Notify {
                    seq,
                    channels,
                    event,
                    text,
                } => {
                    for c in channels {
                        let out = crate::notify::Outgoing {
                            seq,
                            event,
                            text: text.clone(),
                        };
                        let sent = self.notify.get(&c).is_some_and(|q| q.send(out).is_ok());
                        if !sent {
                            // Its URL or secret could not be read at start (the log said
                            // why): the notice's fate is journaled all the same.
                            let _ = self.tx.send(Event::Notified {
                                seq,
                                channel: c,
                                ok: false,
                                message: "the channel is not set up on this console (see the log at start)".into(),
                                attempts: 0,
                            });
                        }
                    }
                }
                Effect::FollowMirror => {
                    if let (Some(client), None) = (&self.kube, &self.follower) {
                        let rb = &state.rb;
                        let lease =
                            crate::kube::lease::lease_name(&rb.release.name, &rb.release.version);
                        self.follower = Some(crate::kube::mirror::spawn_reader(
                            client.clone(),
                            rb.namespace(),
                            &lease,
                            self.tx.clone(),
                        ));
                    }
                }
                Effect::PodLog { pod } => {
                    let tx = self.tx.clone();
                    let Some(client) = self.kube.clone() else {
                        let _ = tx.send(Event::PodLog {
                            pod,
                            log: Err("no Kubernetes client is configured".into()),
                        });
                        continue;
                    };
                    let ns = state.rb.namespace().to_string();
                    tokio::spawn(async move {
                        let log = crate::kube::pod_log(&client, &ns, &pod, 50).await;
                        let _ = tx.send(Event::PodLog { pod, log });
                    });
                }
                Effect::Probe { item, verify } => {
                    let probes = self.probes.clone();
                    let tx = self.tx.clone();
                    tokio::spawn(async move {
                        let outcome = probes.run(&verify).await;
                        let _ = tx.send(Event::Probed {
                            item,
                            at: Utc::now(),
                            outcome,
                        });
                    });
                }
                Effect::Adopt { records } => {
                    let adopted = self.adopt(records);
                    let _ = self.tx.send(Event::Adopted(adopted));
                }
                Effect::Quit => state.ui.quit = true,
            }
        }
    }
}

/// Put `value` on the watch channel if it differs from what is there: whoever waits on
/// it hears only of a change.
fn send_if_changed<T: PartialEq>(tx: &tokio::sync::watch::Sender<T>, value: T) {
    tx.send_if_modified(|v| {
        let changed = *v != value;
        if changed {
            *v = value;
        }
        changed
    });
}
