//! One driver at a time: the console that drives a release holds a `coordination.k8s.io`
//! Lease named after it and renews it; any other console on the same release watches
//! read-only and names the holder. The task owns its I/O and reports by events.

use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::{mpsc, oneshot, watch};

use super::plain_error;
use crate::event::Event;
use crate::i18n::{tr, trf};
use crate::runbook::Lang;
use crate::state::Driver;

/// How long a Lease stays ours without renewal.
pub const DURATION_SECS: i32 = 30;
/// How often the holder renews it: three chances before it runs out.
pub const RENEW: Duration = Duration::from_secs(10);
/// How often a console that does not drive reads the Lease: who drives, and the driver's
/// automatic-rollback countdown, within this long.
pub const FOLLOW: Duration = Duration::from_secs(2);
/// The annotation on the Lease where the driver says which automatic rollback it is
/// counting down to: `TRIGGER DEADLINE(RFC 3339) EVIDENCE`.
pub const COUNTDOWN_ANNOTATION: &str = "warroom.io/auto-rollback";
/// The label that marks each Deployment (and HTTPRoute) of a release with the console
/// driving it: a fencing token. A console marks the release's objects when it takes the
/// Lease, before it may act, and every write it sends applies only while its own mark is
/// there (a JSON patch `test`). So a write held in transit from a console whose Lease ran
/// out cannot land once another console has taken over: the API server refuses it.
pub const FENCE_LABEL: &str = "warroom.io/driver";

/// The objects a driving console marks with its fencing token.
#[derive(Debug, Clone, Default)]
pub struct Marked {
    pub deployments: Vec<String>,
    /// The routes whose weights the console sets, for targets whose strategy uses one.
    pub routes: Vec<(crate::cluster::RouteKind, String)>,
}

impl Marked {
    /// The objects of a release's targets: their Deployments, and their routes where
    /// the traffic is split by a route's weights.
    pub fn of(targets: &[crate::runbook::KubeTarget]) -> Marked {
        let (deployments, routes) = crate::canary::objects(targets);
        Marked {
            deployments,
            routes,
        }
    }
}

/// The fencing token of a Lease's holder: how many times the Lease changed hands, and a
/// hash of the holder (host, operator and process). It changes whenever another console
/// has held the Lease in between, and it is a valid label value.
pub fn fence_token(l: &Lease) -> String {
    let spec = l.spec.as_ref();
    let n = spec.and_then(|s| s.lease_transitions).unwrap_or(0).max(0);
    let holder = spec
        .and_then(|s| s.holder_identity.as_deref())
        .unwrap_or("");
    format!("{n}-{:08x}", crate::text::fnv32(holder.bytes()))
}

/// The Lease's name for a release: `warroom-` and the release and version, as a DNS
/// subdomain (lower case; anything else becomes `-`).
pub fn lease_name(release: &str, version: &str) -> String {
    // A Lease name is a DNS-1123 subdomain of at most 63 characters here (kept to a
    // label's length so it also fits where a label is needed).
    crate::text::release_slug("warroom-", release, version, 63)
}

/// Who this console is, as the Lease records it: operator, host and process, so a second
/// console of the same person is still a second console.
pub fn identity(operator: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{operator}@{host} (pid {})", std::process::id())
}

pub struct LeaseTask {
    pub handle: tokio::task::JoinHandle<()>,
    release: Option<oneshot::Sender<()>>,
    take: mpsc::UnboundedSender<()>,
    countdown: watch::Sender<Option<String>>,
}

impl LeaseTask {
    /// Give the Lease back (if held) and end the task; waits at most `limit`.
    pub async fn release(mut self, limit: Duration) {
        if let Some(tx) = self.release.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(limit, &mut self.handle).await;
        self.handle.abort();
    }

    /// Where to ask for a take-over: the task claims a free Lease when told to.
    pub fn taker(&self) -> mpsc::UnboundedSender<()> {
        self.take.clone()
    }

    /// Where the driver says which automatic rollback it is counting down to (the
    /// annotation's value), so every console can show it.
    pub fn countdown(&self) -> watch::Sender<Option<String>> {
        self.countdown.clone()
    }
}

/// How a spell of driving ended.
enum Drove {
    /// Handed back on the way out, or the console is gone.
    Done,
    /// Another console holds the Lease: the holder that took it over from this one, if
    /// this one held it.
    Lost(Option<String>),
}

/// Claim the release's Lease and keep renewing it, or (`read_only`) only say who holds it.
/// A console that did not ask to be read-only and finds the Lease free says so, and takes
/// it when the lead asks (`LeaseTask::taker`): with the resourceVersion it read, so of two
/// consoles taking at once exactly one wins.
#[allow(clippy::too_many_arguments)]
pub fn spawn(
    client: Client,
    ns: &str,
    name: &str,
    me: String,
    read_only: bool,
    marked: Marked,
    lang: Lang,
    tx: UnboundedSender<Event>,
) -> LeaseTask {
    let role = if read_only {
        Role::ReadOnly
    } else {
        Role::Drive
    };
    start(client, (ns, name), me, role, marked, lang, tx)
}

/// For a console following the driver's journal: say who holds the Lease, and claim it
/// only when the lead takes over a release nobody drives.
pub fn spawn_following(
    client: Client,
    ns: &str,
    name: &str,
    me: String,
    marked: Marked,
    lang: Lang,
    tx: UnboundedSender<Event>,
) -> LeaseTask {
    start(client, (ns, name), me, Role::Follow, marked, lang, tx)
}

/// What a console asks of the Lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Claim it at once and drive.
    Drive,
    /// Never claim it (`--read-only`).
    ReadOnly,
    /// Watch who holds it; claim it when the lead takes over (a follower).
    Follow,
}

fn start(
    client: Client,
    (ns, name): (&str, &str),
    me: String,
    role: Role,
    marked: Marked,
    lang: Lang,
    tx: UnboundedSender<Event>,
) -> LeaseTask {
    let api: Api<Lease> = Api::namespaced(client.clone(), ns);
    let ns = ns.to_string();
    let full = format!("{ns}/{name}");
    let name = name.to_string();
    let (rel_tx, mut rel_rx) = oneshot::channel::<()>();
    let (take_tx, mut take_rx) = mpsc::unbounded_channel::<()>();
    let (count_tx, mut count_rx) = watch::channel::<Option<String>>(None);
    let handle = tokio::spawn(async move {
        if role == Role::ReadOnly {
            watch_holder(
                &api,
                &name,
                (&tx, lang),
                true,
                None,
                &mut rel_rx,
                &mut take_rx,
            )
            .await;
            return;
        }
        let mark = Mark {
            client: &client,
            ns: &ns,
            marked: &marked,
        };
        let mut watch_first = role == Role::Follow;
        loop {
            let first = if watch_first {
                watch_first = false;
                None
            } else {
                match drive(
                    &api,
                    &name,
                    &full,
                    &me,
                    &mark,
                    (&tx, lang),
                    &mut rel_rx,
                    &mut count_rx,
                )
                .await
                {
                    Drove::Done => return,
                    Drove::Lost(first) => first,
                }
            };
            let end = watch_holder(
                &api,
                &name,
                (&tx, lang),
                false,
                first.map(|holder| (holder, full.clone())),
                &mut rel_rx,
                &mut take_rx,
            )
            .await;
            if end != Watched::TakeOver {
                return;
            }
            let _ = tx.send(Event::Lease(Driver::Claiming));
        }
    });
    LeaseTask {
        handle,
        release: Some(rel_tx),
        take: take_tx,
        countdown: count_tx,
    }
}

/// Where and how a new driver marks the release's objects.
struct Mark<'a> {
    client: &'a Client,
    ns: &'a str,
    marked: &'a Marked,
}

/// Put `fence` on every object of the release (what a console does when it takes the
/// Lease). An object that does not exist is skipped: there is nothing there to act on.
pub async fn mark(client: &Client, ns: &str, marked: &Marked, fence: &str) -> Result<(), Failure> {
    use k8s_openapi::api::apps::v1::Deployment;
    use kube::api::{DynamicObject, Patch, PatchParams};
    let pp = PatchParams {
        field_manager: Some(super::FIELD_MANAGER.into()),
        ..Default::default()
    };
    let patch = serde_json::json!({"metadata": {"labels": {FENCE_LABEL: fence}}});
    let gone = |r: Result<(), kube::Error>| match r {
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        r => r.map_err(failure),
    };
    let deps: Api<Deployment> = Api::namespaced(client.clone(), ns);
    for d in &marked.deployments {
        gone(deps.patch(d, &pp, &Patch::Merge(&patch)).await.map(|_| ()))?;
    }
    for (kind, r) in &marked.routes {
        let routes: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), ns, &super::route_resource(*kind));
        gone(
            routes
                .patch(r, &pp, &Patch::Merge(&patch))
                .await
                .map(|_| ()),
        )?;
    }
    Ok(())
}

/// Claim and renew until the Lease is handed back or another console holds it.
#[allow(clippy::too_many_arguments)]
async fn drive(
    api: &Api<Lease>,
    name: &str,
    full: &str,
    me: &str,
    mark: &Mark<'_>,
    (tx, lang): (&UnboundedSender<Event>, Lang),
    rel_rx: &mut oneshot::Receiver<()>,
    countdown: &mut watch::Receiver<Option<String>>,
) -> Drove {
    let send = |d: Driver| tx.send(Event::Lease(d)).is_ok();
    let mut backoff = Duration::from_secs(1);
    let mut held_until: Option<DateTime<Utc>> = None;
    let mut publishing = true;
    let mut renewed;
    loop {
        let now = Utc::now();
        renewed = false;
        let note = countdown.borrow().clone();
        match claim(api, name, me, now, note.as_deref()).await {
            Ok(Claim::Ours { fence }) => {
                // A new driver marks the release's objects before it may act, so that
                // a write still in transit from an earlier driver is refused from now on.
                let marked = if held_until.is_some() {
                    Ok(())
                } else {
                    self::mark(mark.client, mark.ns, mark.marked, &fence).await
                };
                match marked {
                    Ok(()) => {
                        if held_until.is_none() {
                            send(Driver::Driving {
                                lease: full.to_string(),
                                fence,
                            });
                        }
                        // Counted from before the request went out: the Lease is surely
                        // ours until then, however long the answer took.
                        let until = now + chrono::Duration::seconds(DURATION_SECS as i64);
                        held_until = Some(until);
                        let _ = tx.send(Event::LeaseHeld { until });
                        backoff = Duration::from_secs(1);
                        renewed = true;
                    }
                    Err(Failure {
                        text,
                        lasting: true,
                    }) => {
                        give_back(api, name, me).await;
                        send(Driver::ReadOnly {
                            why: trf(
                                lang,
                                "cannot mark the release's Deployments as driven by this console: {} (the console needs patch on deployments)",
                                &[&text],
                            ),
                            holder: None,
                        });
                        let _ = rel_rx.await;
                        return Drove::Done;
                    }
                    Err(Failure { text, .. }) => {
                        log::warn!("marking the release's objects for this console: {text}");
                        backoff = (backoff * 2).min(RENEW);
                    }
                }
            }
            Ok(Claim::Theirs { holder, .. }) => {
                return Drove::Lost(held_until.map(|_| holder));
            }
            Err(Failure {
                text,
                lasting: true,
            }) => {
                // Without the Lease this console must not act; say why, once.
                send(Driver::ReadOnly {
                    why: trf(
                        lang,
                        "cannot claim the release's Lease {}: {} (the console needs get, create and update on leases)",
                        &[&full, &text],
                    ),
                    holder: None,
                });
                let _ = rel_rx.await;
                return Drove::Done;
            }
            Err(Failure { text, .. }) => {
                log::warn!("Lease {full}: {text}");
                if let Some(until) = held_until
                    && Utc::now() >= until
                {
                    // Not renewed in time: another console may have it now.
                    held_until = None;
                    send(Driver::Claiming);
                }
                backoff = (backoff * 2).min(RENEW);
            }
        }
        // A renewal that failed is tried again on the backoff (1 s, 2 s, …), not after a
        // whole renewal period: the Lease is still ours for a while.
        let wait = if held_until.is_some() && renewed {
            RENEW
        } else {
            backoff
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            // A countdown started or ended: every console should know now, not at the
            // next renewal.
            changed = countdown.changed(), if held_until.is_some() && publishing => {
                // Nobody publishes any more: renew on the clock alone.
                publishing = changed.is_ok();
            }
            _ = &mut *rel_rx => {
                if held_until.is_some() {
                    give_back(api, name, me).await;
                }
                return Drove::Done;
            }
        }
        if tx.is_closed() {
            return Drove::Done;
        }
    }
}

/// Why the Lease could not be claimed, and whether trying again can help: a refusal
/// (401, 403, 404) lasts until someone changes the Role or the kubeconfig.
#[derive(Debug)]
pub struct Failure {
    pub text: String,
    pub lasting: bool,
}

fn failure(e: kube::Error) -> Failure {
    let lasting = matches!(&e, kube::Error::Api(s) if matches!(s.code, 401 | 403 | 404));
    Failure {
        text: plain_error(&e),
        lasting,
    }
}

pub enum Claim {
    /// Ours now, with the fencing token our writes must carry.
    Ours {
        fence: String,
    },
    Theirs {
        holder: String,
    },
}

/// One attempt to take the Lease for `me`: what a take-over does. Public so the race
/// between two consoles can be tested against a real API server.
pub async fn try_take(client: Client, ns: &str, name: &str, me: &str) -> Result<Claim, String> {
    let api: Api<Lease> = Api::namespaced(client, ns);
    claim(&api, name, me, Utc::now(), None)
        .await
        .map_err(|f| f.text)
}

#[derive(Debug, PartialEq, Eq)]
enum Watched {
    /// The lead asked to take over a free Lease.
    TakeOver,
    /// The console is going away.
    Done,
}

/// A console that does not drive keeps an eye on who does, so what it says of the driver
/// stays true: a new holder, or none at all once the driver quits or dies. One read per
/// renewal period; `took_over`, when given, is who took the Lease (named `lease`) from
/// this console: said before the first read.
async fn watch_holder(
    api: &Api<Lease>,
    name: &str,
    (tx, lang): (&UnboundedSender<Event>, Lang),
    asked: bool,
    took_over: Option<(String, String)>,
    release: &mut oneshot::Receiver<()>,
    take: &mut mpsc::UnboundedReceiver<()>,
) -> Watched {
    let mut last: Option<Option<String>> = None;
    let mut seen_countdown: Option<Option<crate::state::triggers::RemoteCountdown>> = None;
    if let Some((holder, lease)) = took_over {
        let why = trf(lang, "{} took over the Lease {}", &[&holder, &lease]);
        if tx
            .send(Event::Lease(Driver::ReadOnly {
                why,
                holder: Some(holder.clone()),
            }))
            .is_err()
        {
            return Watched::Done;
        }
        last = Some(Some(holder));
    }
    loop {
        // An unreadable Lease leaves what was said as it was; the log has the error.
        match api.get_opt(name).await {
            Ok(l) => {
                let holder = l.as_ref().and_then(|l| live_holder(l, Utc::now()));
                let countdown = l
                    .as_ref()
                    .filter(|_| holder.is_some())
                    .and_then(|l| l.metadata.annotations.as_ref()?.get(COUNTDOWN_ANNOTATION))
                    .and_then(|v| parse_countdown(v));
                if seen_countdown.as_ref() != Some(&countdown) {
                    if tx.send(Event::DriverCountdown(countdown.clone())).is_err() {
                        return Watched::Done;
                    }
                    seen_countdown = Some(countdown);
                }
                if last.as_ref() != Some(&holder) {
                    let d = match (&holder, asked) {
                        (Some(h), true) => Driver::ReadOnly {
                            why: trf(
                                lang,
                                "started with --read-only; {} drives this release",
                                &[h],
                            ),
                            holder: holder.clone(),
                        },
                        (None, true) => Driver::ReadOnly {
                            why: tr(
                                lang,
                                "started with --read-only; no console drives this release now",
                            )
                            .into(),
                            holder: None,
                        },
                        (Some(h), false) => Driver::ReadOnly {
                            why: trf(lang, "{} drives this release", &[h]),
                            holder: holder.clone(),
                        },
                        (None, false) => Driver::Free {
                            why: match l
                                .as_ref()
                                .and_then(|l| l.spec.as_ref()?.holder_identity.clone())
                            {
                                Some(h) if !h.is_empty() => trf(
                                    lang,
                                    "the Lease of {} ran out: no console drives this release",
                                    &[&crate::text::clean(&h)],
                                ),
                                _ => tr(lang, "no console drives this release now").into(),
                            },
                        },
                    };
                    if tx.send(Event::Lease(d)).is_err() {
                        return Watched::Done;
                    }
                    last = Some(holder);
                }
            }
            Err(e) => log::warn!("Lease {name}: {}", plain_error(&e)),
        }
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW) => {}
            _ = &mut *release => return Watched::Done,
            t = take.recv() => match t {
                // A take-over is for a console that may drive; one started with
                // --read-only never does.
                Some(()) if !asked => return Watched::TakeOver,
                Some(()) => {}
                None => return Watched::Done,
            },
        }
    }
}

fn micro(t: DateTime<Utc>) -> MicroTime {
    MicroTime(
        Timestamp::new(t.timestamp(), t.timestamp_subsec_nanos() as i32)
            .unwrap_or(Timestamp::UNIX_EPOCH),
    )
}

fn chrono_of(t: &MicroTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.0.as_second(), t.0.subsec_nanosecond() as u32)
}

/// The holder and when its claim runs out, if someone holds the Lease now.
fn holder_until(l: &Lease, now: DateTime<Utc>) -> Option<(String, DateTime<Utc>)> {
    let spec = l.spec.as_ref()?;
    let holder = spec.holder_identity.clone().filter(|h| !h.is_empty())?;
    let renewed = spec
        .renew_time
        .as_ref()
        .or(spec.acquire_time.as_ref())
        .and_then(chrono_of)?;
    let until =
        renewed + chrono::Duration::seconds(spec.lease_duration_seconds.unwrap_or(0) as i64);
    (until > now).then_some((holder, until))
}

fn live_holder(l: &Lease, now: DateTime<Utc>) -> Option<String> {
    holder_until(l, now).map(|(h, _)| h)
}

/// One attempt to take or renew the Lease. A conflict means someone wrote it between our
/// read and our write: read again and decide again.
async fn claim(
    api: &Api<Lease>,
    name: &str,
    me: &str,
    now: DateTime<Utc>,
    countdown: Option<&str>,
) -> Result<Claim, Failure> {
    for _ in 0..3 {
        let current = api.get_opt(name).await.map_err(failure)?;
        let result = match current {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(name.to_string()),
                        labels: Some(
                            [(
                                "app.kubernetes.io/managed-by".to_string(),
                                "warroom".to_string(),
                            )]
                            .into(),
                        ),
                        ..Default::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(me.to_string()),
                        lease_duration_seconds: Some(DURATION_SECS),
                        acquire_time: Some(micro(now)),
                        renew_time: Some(micro(now)),
                        lease_transitions: Some(0),
                        ..Default::default()
                    }),
                };
                api.create(&PostParams::default(), &lease).await
            }
            Some(mut l) => {
                if let Some((holder, _)) = holder_until(&l, now)
                    && holder != me
                    && !dead_here(&holder, me)
                {
                    return Ok(Claim::Theirs { holder });
                }
                let notes = l.metadata.annotations.get_or_insert_with(Default::default);
                match countdown {
                    Some(c) => {
                        notes.insert(COUNTDOWN_ANNOTATION.to_string(), c.to_string());
                    }
                    None => {
                        notes.remove(COUNTDOWN_ANNOTATION);
                    }
                }
                let spec = l.spec.get_or_insert_with(Default::default);
                if spec.holder_identity.as_deref() != Some(me) {
                    spec.holder_identity = Some(me.to_string());
                    spec.acquire_time = Some(micro(now));
                    spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                }
                spec.lease_duration_seconds = Some(DURATION_SECS);
                spec.renew_time = Some(micro(now));
                // The resourceVersion read above makes this write conditional.
                api.replace(name, &PostParams::default(), &l).await
            }
        };
        match result {
            Ok(l) => {
                return Ok(Claim::Ours {
                    fence: fence_token(&l),
                });
            }
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => return Err(failure(e)),
        }
    }
    Err(Failure {
        text: "the Lease kept changing underneath; will try again".into(),
        lasting: false,
    })
}

/// The annotation's value for a countdown, and back.
pub fn format_countdown(c: &crate::state::triggers::RemoteCountdown) -> String {
    format!("{} {} {}", c.trigger, c.deadline.to_rfc3339(), c.evidence)
}

pub fn parse_countdown(v: &str) -> Option<crate::state::triggers::RemoteCountdown> {
    let mut parts = v.splitn(3, ' ');
    let trigger = crate::text::clean(parts.next()?).into_owned();
    let deadline = DateTime::parse_from_rfc3339(parts.next()?)
        .ok()?
        .with_timezone(&Utc);
    let evidence = crate::text::clean(parts.next().unwrap_or_default()).into_owned();
    Some(crate::state::triggers::RemoteCountdown {
        trigger,
        deadline,
        evidence,
    })
}

/// Whether `holder` is a console on this host whose process is gone (killed, or its
/// session dropped before it could hand the Lease back): then a console started here may
/// take the Lease at once instead of waiting out its term. A process that still exists
/// under that pid keeps its claim, even if the pid was reused: waiting is the safe side.
pub fn dead_here(holder: &str, me: &str) -> bool {
    let host_pid = |id: &str| -> Option<(String, u32)> {
        let (_, rest) = id.rsplit_once('@')?;
        let (host, pid) = rest.rsplit_once(" (pid ")?;
        Some((host.to_string(), pid.strip_suffix(')')?.parse().ok()?))
    };
    match (host_pid(holder), host_pid(me)) {
        (Some((h, pid)), Some((mine, _))) => {
            h == mine && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        }
        _ => false,
    }
}

/// Hand the Lease back on the way out, so the next console need not wait for it to expire.
async fn give_back(api: &Api<Lease>, name: &str, me: &str) {
    if let Ok(Some(mut l)) = api.get_opt(name).await {
        let spec = l.spec.get_or_insert_with(Default::default);
        if spec.holder_identity.as_deref() == Some(me) {
            spec.holder_identity = None;
            spec.lease_duration_seconds = Some(1);
            spec.renew_time = Some(micro(Utc::now()));
            if let Err(e) = api.replace(name, &PostParams::default(), &l).await {
                log::warn!("could not release the Lease {name}: {}", plain_error(&e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_console_on_this_host_is_known_by_its_pid() {
        let me = identity("lin");
        let host = me
            .rsplit_once('@')
            .unwrap()
            .1
            .rsplit_once(" (pid")
            .unwrap()
            .0;
        // above the kernel's largest pid: no such process can exist
        let gone = format!("lin@{host} (pid 4194305)");
        assert!(dead_here(&gone, &me));
        let alive = format!("lin@{host} (pid 1)");
        assert!(!dead_here(&alive, &me), "a live process keeps its claim");
        assert!(
            !dead_here("lin@another-host (pid 4194305)", &me),
            "another host: wait"
        );
    }

    #[test]
    fn lease_names_are_dns_subdomains() {
        let is_dns_subdomain = |s: &str| {
            s.len() <= 63
                && s.split('.').all(|l| {
                    !l.is_empty()
                        && l.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                })
        };
        assert_eq!(lease_name("ERP", "v1.0.0"), "warroom-erp-v1.0.0");
        // Something lost on the way: a hash of the exact names keeps releases apart.
        let erp = lease_name("ERP 系统", "1.0");
        assert!(
            erp.starts_with("warroom-erp-1.0-") && erp.len() == 24,
            "{erp}"
        );
        assert_ne!(lease_name("a_b--c", "2"), lease_name("a-b-c", "2"));
        assert_eq!(lease_name("a-b-c", "2"), "warroom-a-b-c-2");
        let (a, b) = (
            lease_name("订单系统", "v1.0.0"),
            lease_name("支付系统", "v1.0.0"),
        );
        assert_ne!(a, b);
        assert!(a.starts_with("warroom-v1.0.0-"), "{a}");
        assert_ne!(
            lease_name(&"x".repeat(100), "1"),
            lease_name(&"x".repeat(101), "1")
        );
        for name in [
            a,
            b,
            erp,
            lease_name(&"x".repeat(100), "1"),
            lease_name("-.x._y.-", ".-1-."),
            lease_name("系统", "版本"),
            lease_name(&"a.".repeat(40), "1"),
        ] {
            assert!(is_dns_subdomain(&name), "{name}");
        }
    }
}
