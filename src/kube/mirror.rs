//! The driving console's journal, mirrored into the cluster for consoles on other hosts:
//! ConfigMaps labelled `warroom.io/journal=<the release's Lease>`, one key per record
//! (its sequence number, zero-padded, so keys sort in order), a new ConfigMap whenever
//! one would pass the API server's 1 MiB limit. Every write tests the driver's mark on
//! the ConfigMap, as every write to the release does: a console that lost the Lease
//! cannot overwrite its successor's story. Two sources live here: the driver's writer and
//! a follower's reader; each owns its I/O and reports only through log lines and events.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::lease::FENCE_LABEL;
use super::{FIELD_MANAGER, plain_error};
use crate::event::{Event, Followed};
use crate::journal::Record;

/// The label naming the release (its Lease) whose journal a ConfigMap holds.
pub const JOURNAL_LABEL: &str = "warroom.io/journal";

/// Most a ConfigMap of the mirror holds: well under the API server's 1 MiB for keys and
/// values together, with room for the object's metadata.
pub const CHUNK_BYTES: usize = 768 * 1024;

/// The longest a failed write waits before it is tried again.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The `n`th ConfigMap of the release's mirror.
pub fn chunk_name(lease: &str, n: usize) -> String {
    format!("{lease}-journal-{n}")
}

/// The key a record is kept under: its sequence number, so keys sort in order.
pub fn key(seq: u64) -> String {
    format!("{seq:010}")
}

/// What the driving console hands the mirror.
#[derive(Debug, Clone, PartialEq)]
pub enum Publish {
    /// This console began driving: the whole journal, under its mark.
    All { records: Vec<Record>, fence: String },
    /// A record it just wrote to its journal.
    One { record: Record, fence: String },
}

/// The writer's picture of the mirror: what it has written, and what is still to write.
struct Mirror {
    api: Api<ConfigMap>,
    lease: String,
    fence: Option<String>,
    /// Bytes held by each ConfigMap written so far, in order.
    chunks: Vec<usize>,
    pending: Vec<Record>,
    /// The next write replaces the whole mirror (a new driver).
    rewrite: bool,
}

enum Failure {
    /// Another console's mark is on the mirror: it drives now.
    FencedOut(String),
    Failed(String),
}

impl Mirror {
    fn take(&mut self, p: Publish) {
        match p {
            Publish::All { records, fence } => {
                self.fence = Some(fence);
                self.pending = records;
                self.rewrite = true;
            }
            Publish::One { record, fence } => {
                if self.fence.as_deref() == Some(fence.as_str()) {
                    self.pending.push(record);
                }
            }
        }
    }

    fn line(r: &Record) -> String {
        serde_json::to_string(r).unwrap_or_default()
    }

    fn labels(&self, fence: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (JOURNAL_LABEL.to_string(), self.lease.clone()),
            (FENCE_LABEL.to_string(), fence.to_string()),
        ])
    }

    async fn create(
        &self,
        n: usize,
        fence: &str,
        data: BTreeMap<String, String>,
    ) -> Result<(), kube::Error> {
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(chunk_name(&self.lease, n)),
                labels: Some(self.labels(fence)),
                ..Default::default()
            },
            data: Some(data),
            ..Default::default()
        };
        let pp = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        self.api.create(&pp, &cm).await.map(|_| ())
    }

    async fn patch(&self, n: usize, ops: Vec<Value>) -> Result<(), Failure> {
        let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops))
            .map_err(|e| Failure::Failed(e.to_string()))?;
        let pp = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        match self
            .api
            .patch(&chunk_name(&self.lease, n), &pp, &Patch::<()>::Json(patch))
            .await
        {
            Ok(_) => Ok(()),
            // How the API server answers a JSON patch whose `test` failed (an object that
            // is too large is "invalid" instead, and retried like any failure).
            Err(kube::Error::Api(s))
                if s.code == 422 && s.message.contains("error in our request") =>
            {
                Err(Failure::FencedOut(format!(
                    "{} carries another console's mark",
                    chunk_name(&self.lease, n)
                )))
            }
            Err(e) => Err(Failure::Failed(plain_error(&e))),
        }
    }

    /// Write `data` as the whole of ConfigMap `n` under `fence`, whoever marked it before
    /// (a new driver takes the mirror over as it takes the Lease).
    async fn put(
        &self,
        n: usize,
        fence: &str,
        data: BTreeMap<String, String>,
    ) -> Result<(), Failure> {
        match self.create(n, fence, data.clone()).await {
            Ok(()) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                self.patch(
                    n,
                    vec![
                        json!({"op": "add", "path": "/metadata/labels", "value": self.labels(fence)}),
                        json!({"op": "add", "path": "/data", "value": data}),
                    ],
                )
                .await
            }
            Err(e) => Err(Failure::Failed(plain_error(&e))),
        }
    }

    /// The records cut into ConfigMaps of at most `CHUNK_BYTES`, from chunk `first`
    /// (holding `used` bytes already).
    fn cut(&self, used: usize) -> Vec<(BTreeMap<String, String>, usize)> {
        let mut out: Vec<(BTreeMap<String, String>, usize)> = vec![(BTreeMap::new(), used)];
        for r in &self.pending {
            let (k, v) = (key(r.seq), Self::line(r));
            let size = k.len() + v.len();
            if out
                .last()
                .is_some_and(|(d, b)| (b + size > CHUNK_BYTES) && (!d.is_empty() || used > 0))
            {
                out.push((BTreeMap::new(), 0));
            }
            let last = out.last_mut().expect("one chunk at least");
            last.0.insert(k, v);
            last.1 += size;
        }
        out
    }

    async fn flush(&mut self) -> Result<(), Failure> {
        let Some(fence) = self.fence.clone() else {
            self.pending.clear();
            return Ok(());
        };
        if self.rewrite {
            let chunks = self.cut(0);
            let existing: BTreeSet<String> = self
                .api
                .list(&ListParams::default().labels(&format!("{JOURNAL_LABEL}={}", self.lease)))
                .await
                .map_err(|e| Failure::Failed(plain_error(&e)))?
                .items
                .iter()
                .map(|c| c.name_any())
                .collect();
            for (n, (data, _)) in chunks.iter().enumerate() {
                self.put(n, &fence, data.clone()).await?;
            }
            // Whatever an earlier story left beyond this one's end is emptied.
            for n in chunks.len().. {
                if !existing.contains(&chunk_name(&self.lease, n)) {
                    break;
                }
                self.put(n, &fence, BTreeMap::new()).await?;
            }
            self.chunks = chunks.iter().map(|(_, b)| *b).collect();
            self.pending.clear();
            self.rewrite = false;
            return Ok(());
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        let first = self.chunks.len().saturating_sub(1);
        let used = self.chunks.last().copied().unwrap_or(0);
        let chunks = self.cut(used);
        for (i, (data, bytes)) in chunks.into_iter().enumerate() {
            let n = first + i;
            if data.is_empty() {
                continue;
            }
            let written = data.len();
            if n < self.chunks.len() {
                let mut ops = vec![json!({
                    "op": "test",
                    "path": format!("/metadata/labels/{}", FENCE_LABEL.replace('/', "~1")),
                    "value": fence,
                })];
                ops.extend(
                    data.into_iter().map(
                        |(k, v)| json!({"op": "add", "path": format!("/data/{k}"), "value": v}),
                    ),
                );
                self.patch(n, ops).await?;
                self.chunks[n] = bytes;
            } else {
                self.put(n, &fence, data).await?;
                self.chunks.push(bytes);
            }
            self.pending.drain(..written);
        }
        Ok(())
    }
}

/// Mirror what the runner hands over into the release's namespace. Writes are coalesced:
/// whatever arrived while a write was in flight goes in the next one.
pub fn spawn_writer(
    client: Client,
    ns: &str,
    lease: &str,
    mut rx: UnboundedReceiver<Publish>,
    tx: UnboundedSender<Event>,
) -> tokio::task::JoinHandle<()> {
    let mut m = Mirror {
        api: Api::namespaced(client, ns),
        lease: lease.to_string(),
        fence: None,
        chunks: Vec::new(),
        pending: Vec::new(),
        rewrite: false,
    };
    let ns = ns.to_string();
    tokio::spawn(async move {
        let mut backoff = Duration::from_secs(1);
        // Whether the console was told the mirror is failing: it hears once when it
        // starts and once when it is over, not at every retry.
        let mut troubled = false;
        loop {
            if m.pending.is_empty() && !m.rewrite {
                match rx.recv().await {
                    Some(p) => m.take(p),
                    None => return,
                }
            }
            while let Ok(p) = rx.try_recv() {
                m.take(p);
            }
            match m.flush().await {
                Ok(()) => {
                    backoff = Duration::from_secs(1);
                    if troubled {
                        troubled = false;
                        let _ = tx.send(Event::Mirror(Ok(())));
                    }
                }
                Err(Failure::FencedOut(why)) => {
                    // Another console drives: its story is the mirror's now.
                    log::warn!("the journal is no longer mirrored from this console: {why}");
                    m.pending.clear();
                    m.rewrite = false;
                    m.fence = None;
                }
                Err(Failure::Failed(why)) => {
                    log::warn!(
                        "mirroring the journal into {ns}: {why}; trying again in {}s",
                        backoff.as_secs()
                    );
                    if !troubled {
                        troubled = true;
                        let _ = tx.send(Event::Mirror(Err(why)));
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    })
}

/// Every record the mirror's ConfigMaps hold, in order (a record found in two, as after a
/// take-over, counts once).
fn assemble(cms: &[std::sync::Arc<ConfigMap>]) -> Result<Vec<Record>, String> {
    let mut by_seq = BTreeMap::new();
    for cm in cms {
        for (k, v) in cm.data.iter().flatten() {
            let r: Record = serde_json::from_str(v).map_err(|e| {
                format!(
                    "ConfigMap {} key {k} is not a journal record ({e})",
                    cm.name_any()
                )
            })?;
            by_seq.entry(r.seq).or_insert(r);
        }
    }
    Ok(by_seq.into_values().collect())
}

/// Follow the mirror of the release whose Lease is `lease`: what it holds, as it grows.
pub fn spawn_reader(
    client: Client,
    ns: &str,
    lease: &str,
    tx: UnboundedSender<Event>,
) -> tokio::task::JoinHandle<()> {
    let api: Api<ConfigMap> = Api::namespaced(client, ns);
    let cfg = watcher::Config::default().labels(&format!("{JOURNAL_LABEL}={lease}"));
    tokio::spawn(async move {
        let (store, writer) = reflector::store::<ConfigMap>();
        let mut events = reflector::reflector(writer, watcher(api, cfg))
            .default_backoff()
            .boxed();
        let mut sent: Vec<Record> = Vec::new();
        let mut lost: Option<String> = None;
        let mut listed = false;
        let mut first = true;
        while let Some(ev) = events.next().await {
            let f = match ev {
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => continue,
                Ok(e) => {
                    listed |= matches!(e, watcher::Event::InitDone);
                    if !listed {
                        continue;
                    }
                    match assemble(&store.state()) {
                        Ok(records) => {
                            let more =
                                records.len() >= sent.len() && records[..sent.len()] == sent[..];
                            let f = if more {
                                let new = records[sent.len()..].to_vec();
                                // The first listing is said even when empty: the
                                // follower then knows nobody has driven yet.
                                if new.is_empty() && lost.is_none() && !first {
                                    sent = records;
                                    continue;
                                }
                                Followed::More(new)
                            } else {
                                Followed::Reset(records.clone())
                            };
                            first = false;
                            sent = records;
                            lost = None;
                            f
                        }
                        Err(why) => {
                            if lost.as_ref() == Some(&why) {
                                continue;
                            }
                            lost = Some(why.clone());
                            Followed::Lost(why)
                        }
                    }
                }
                Err(e) => {
                    let why = format!("the mirror in the cluster cannot be read: {e}");
                    if lost.as_ref() == Some(&why) {
                        continue;
                    }
                    lost = Some(why.clone());
                    Followed::Lost(why)
                }
            };
            if tx.send(Event::Follow(f)).is_err() {
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_as_the_records_do_and_are_valid_configmap_keys() {
        let keys: Vec<String> = [1u64, 9, 10, 123_456].iter().map(|s| key(*s)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert!(keys.iter().all(|k| k.chars().all(|c| c.is_ascii_digit())));
    }
}
