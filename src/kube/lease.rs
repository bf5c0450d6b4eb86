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
use tokio::sync::oneshot;

use super::plain_error;
use crate::event::Event;
use crate::state::Driver;

/// How long a Lease stays ours without renewal.
pub const DURATION_SECS: i32 = 30;
/// How often the holder renews it: three chances before it runs out.
pub const RENEW: Duration = Duration::from_secs(10);

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
}

/// Claim the release's Lease and keep renewing it, or (`read_only`) only say who holds it.
pub fn spawn(
    client: Client,
    ns: &str,
    name: &str,
    me: String,
    read_only: bool,
    tx: UnboundedSender<Event>,
) -> LeaseTask {
    let api: Api<Lease> = Api::namespaced(client, ns);
    let full = format!("{ns}/{name}");
    let name = name.to_string();
    let (rel_tx, mut rel_rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        let send = |d: Driver| tx.send(Event::Lease(d)).is_ok();
        if read_only {
            watch_holder(&api, &name, &tx, true, None, rel_rx).await;
            return;
        }
        let mut backoff = Duration::from_secs(1);
        let mut held_until: Option<DateTime<Utc>> = None;
        loop {
            let now = Utc::now();
            match claim(&api, &name, &me, now).await {
                Ok(Claim::Ours) => {
                    if held_until.is_none() {
                        send(Driver::Driving {
                            lease: full.clone(),
                        });
                    }
                    held_until = Some(now + chrono::Duration::seconds(DURATION_SECS as i64));
                    backoff = Duration::from_secs(1);
                }
                Ok(Claim::Theirs { holder, .. }) => {
                    let first = held_until.map(|_| format!("{holder} took over the Lease {full}"));
                    watch_holder(&api, &name, &tx, false, first, rel_rx).await;
                    return;
                }
                Err(Failure {
                    text,
                    lasting: true,
                }) => {
                    // Without the Lease this console must not act; say why, once.
                    send(Driver::ReadOnly {
                        why: format!(
                            "cannot claim the release's Lease {full}: {text} (the console needs get, create and update on leases)"
                        ),
                        holder: None,
                    });
                    return;
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
            let wait = if held_until.is_some() { RENEW } else { backoff };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = &mut rel_rx => {
                    if held_until.is_some() {
                        give_back(&api, &name, &me).await;
                    }
                    return;
                }
            }
            if tx.is_closed() {
                return;
            }
        }
    });
    LeaseTask {
        handle,
        release: Some(rel_tx),
    }
}

/// Why the Lease could not be claimed, and whether trying again can help: a refusal
/// (401, 403, 404) lasts until someone changes the Role or the kubeconfig.
struct Failure {
    text: String,
    lasting: bool,
}

fn failure(e: kube::Error) -> Failure {
    let lasting = matches!(&e, kube::Error::Api(s) if matches!(s.code, 401 | 403 | 404));
    Failure {
        text: plain_error(&e),
        lasting,
    }
}

enum Claim {
    Ours,
    Theirs { holder: String },
}

/// A console that does not drive keeps an eye on who does, so what it says of the driver
/// stays true: a new holder, or none at all once the driver quits. One read per renewal
/// period; `first`, when given, is what to say before the first read.
async fn watch_holder(
    api: &Api<Lease>,
    name: &str,
    tx: &UnboundedSender<Event>,
    asked: bool,
    first: Option<String>,
    mut release: oneshot::Receiver<()>,
) {
    let mut last: Option<Option<String>> = None;
    if let Some(why) = first {
        let holder = why.split(" took over").next().map(str::to_string);
        if tx
            .send(Event::Lease(Driver::ReadOnly {
                why,
                holder: holder.clone(),
            }))
            .is_err()
        {
            return;
        }
        last = Some(holder);
    }
    loop {
        // An unreadable Lease leaves what was said as it was; the log has the error.
        match api.get_opt(name).await {
            Ok(l) => {
                let holder = l.and_then(|l| live_holder(&l, Utc::now()));
                if last.as_ref() != Some(&holder) {
                    let why = match (&holder, asked) {
                        (Some(h), true) => {
                            format!("started with --read-only; {h} drives this release")
                        }
                        (None, true) => {
                            "started with --read-only; no console drives this release now".into()
                        }
                        (Some(h), false) => format!("{h} drives this release"),
                        (None, false) => {
                            "no console drives this release now: restart this console to drive it"
                                .into()
                        }
                    };
                    let d = Driver::ReadOnly {
                        why,
                        holder: holder.clone(),
                    };
                    if tx.send(Event::Lease(d)).is_err() {
                        return;
                    }
                    last = Some(holder);
                }
            }
            Err(e) => log::warn!("Lease {name}: {}", plain_error(&e)),
        }
        tokio::select! {
            _ = tokio::time::sleep(RENEW) => {}
            _ = &mut release => return,
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
                api.create(&PostParams::default(), &lease).await.map(|_| ())
            }
            Some(mut l) => {
                if let Some((holder, _)) = holder_until(&l, now)
                    && holder != me
                {
                    return Ok(Claim::Theirs { holder });
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
                api.replace(name, &PostParams::default(), &l)
                    .await
                    .map(|_| ())
            }
        };
        match result {
            Ok(()) => return Ok(Claim::Ours),
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => return Err(failure(e)),
        }
    }
    Err(Failure {
        text: "the Lease kept changing underneath; will try again".into(),
        lasting: false,
    })
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
