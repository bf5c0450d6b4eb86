//! Notifications to the team's chat: Feishu/Lark custom bots, DingTalk and WeCom group
//! robots, Slack incoming webhooks and a generic JSON webhook. The pure core decides what
//! to say and to whom (`Effect::Notify`); here each channel has a task of its own that
//! sends in order, at most one message per `MIN_GAP`, retrying with backoff, and reports
//! each message's fate as an event. Sending never waits on the screen, and the screen
//! never waits on a send. A webhook URL carries the platform's access token: it is read
//! at start from the environment or a file and never shown, logged or journaled.

use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::event::Event;
use crate::prom::Secret;
use crate::runbook::{Channel, ChannelKind, Lang, NotifyEvent, Runbook};

/// The least time between two messages to one channel: DingTalk allows 20 a minute per
/// robot, Feishu 5 a second; one every three seconds keeps every platform content.
pub const MIN_GAP: Duration = Duration::from_secs(3);

/// How many times a message is tried before it is reported as not delivered.
pub const ATTEMPTS: u32 = 5;

/// The wait before the second attempt; each next one waits twice as long.
const BACKOFF: Duration = Duration::from_secs(1);

/// How long one attempt may take.
const TIMEOUT: Duration = Duration::from_secs(10);

impl NotifyEvent {
    /// As the runbook and the journal name it.
    pub fn name(self) -> &'static str {
        match self {
            NotifyEvent::StageStarted => "stage_started",
            NotifyEvent::StageCompleted => "stage_completed",
            NotifyEvent::TriggerMet => "trigger_met",
            NotifyEvent::CountdownStarted => "countdown_started",
            NotifyEvent::CountdownCancelled => "countdown_cancelled",
            NotifyEvent::Rollback => "rollback",
            NotifyEvent::Override => "override",
            NotifyEvent::Signoff => "signoff",
            NotifyEvent::ReleaseComplete => "release_complete",
            NotifyEvent::DriverChanged => "driver_changed",
            NotifyEvent::MonitoringLost => "monitoring_lost",
        }
    }

    /// The message's headline, in the runbook's language.
    fn headline(self, lang: Lang) -> &'static str {
        match (lang, self) {
            (Lang::En, NotifyEvent::StageStarted) => "Stage started",
            (Lang::En, NotifyEvent::StageCompleted) => "Stage held: ready to advance",
            (Lang::En, NotifyEvent::TriggerMet) => "ROLLBACK TRIGGER MET",
            (Lang::En, NotifyEvent::CountdownStarted) => "AUTOMATIC ROLLBACK COUNTING DOWN",
            (Lang::En, NotifyEvent::CountdownCancelled) => "Automatic rollback cancelled",
            (Lang::En, NotifyEvent::Rollback) => "ROLLBACK",
            (Lang::En, NotifyEvent::Override) => "OVERRIDE of unknown health",
            (Lang::En, NotifyEvent::Signoff) => "Signed off",
            (Lang::En, NotifyEvent::ReleaseComplete) => "Release complete",
            (Lang::En, NotifyEvent::DriverChanged) => "Driver changed",
            (Lang::En, NotifyEvent::MonitoringLost) => "MONITORING LOST",
            (Lang::Zh, NotifyEvent::StageStarted) => "阶段开始",
            (Lang::Zh, NotifyEvent::StageCompleted) => "阶段观察期满，可进入下一阶段",
            (Lang::Zh, NotifyEvent::TriggerMet) => "回滚条件已触发",
            (Lang::Zh, NotifyEvent::CountdownStarted) => "自动回滚倒计时开始",
            (Lang::Zh, NotifyEvent::CountdownCancelled) => "自动回滚已取消",
            (Lang::Zh, NotifyEvent::Rollback) => "回滚",
            (Lang::Zh, NotifyEvent::Override) => "在健康状态未知时强制推进",
            (Lang::Zh, NotifyEvent::Signoff) => "已签字确认",
            (Lang::Zh, NotifyEvent::ReleaseComplete) => "发布完成",
            (Lang::Zh, NotifyEvent::DriverChanged) => "操作控制台已变更",
            (Lang::Zh, NotifyEvent::MonitoringLost) => "监控数据丢失",
        }
    }
}

/// The message for `event`: the release, the headline in the runbook's language, and
/// what happened in the console's words.
pub fn compose(rb: &Runbook, event: NotifyEvent, detail: &str) -> String {
    format!(
        "[{} {}] {}: {detail}",
        rb.release.name,
        rb.release.version,
        event.headline(rb.lang())
    )
}

/// The channels of the runbook that hear of `event`.
pub fn channels_for(rb: &Runbook, event: NotifyEvent) -> Vec<String> {
    rb.notify
        .iter()
        .flat_map(|n| &n.channels)
        .filter(|c| c.events.contains(&event))
        .map(|c| c.id.clone())
        .collect()
}

/// A channel ready to send: its URL and secret read.
#[derive(Clone, Debug)]
pub struct Ready {
    pub id: String,
    pub kind: ChannelKind,
    url: Secret,
    secret: Option<Secret>,
}

impl Ready {
    /// A channel whose URL and secret are known (tests, and `resolve`).
    pub fn new(id: &str, kind: ChannelKind, url: &str, secret: Option<&str>) -> Ready {
        Ready {
            id: id.to_string(),
            kind,
            url: Secret::new(url),
            secret: secret.map(Secret::new),
        }
    }
}

/// Read each channel's URL and secret. A channel that cannot be read is left out, and
/// why is said (without the secret) for the log.
pub fn resolve(rb: &Runbook) -> (Vec<Ready>, Vec<String>) {
    let mut ready = Vec::new();
    let mut problems = Vec::new();
    for c in rb.notify.iter().flat_map(|n| &n.channels) {
        match read(c) {
            Ok(r) => ready.push(r),
            Err(e) => problems.push(format!(
                "notify channel {}: {e}; nothing will be sent there",
                c.id
            )),
        }
    }
    (ready, problems)
}

fn read(c: &Channel) -> Result<Ready, String> {
    use crate::prom::{from_env, from_file};
    let what = format!("notify.{}", c.id);
    let url = match (&c.url_env, &c.url_file) {
        (Some(v), _) => from_env(v, &format!("{what}.url_env"))?,
        (None, Some(p)) => from_file(p, &format!("{what}.url_file"))?,
        (None, None) => return Err("no url_env or url_file".into()),
    };
    let secret = match (&c.secret_env, &c.secret_file) {
        (Some(v), _) => Some(from_env(v, &format!("{what}.secret_env"))?),
        (None, Some(p)) => Some(from_file(p, &format!("{what}.secret_file"))?),
        (None, None) => None,
    };
    Ok(Ready {
        id: c.id.clone(),
        kind: c.kind,
        url,
        secret,
    })
}

/// An HTTP request as a platform documents it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&k, msg).as_ref().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The request for one message on channel `c`, at `now`.
pub fn request(
    c: &Ready,
    event: NotifyEvent,
    text: &str,
    release: (&str, &str),
    now: DateTime<Utc>,
) -> Request {
    let url = c.url.expose().to_string();
    let secret = c.secret.as_ref().map(|s| s.expose());
    let json = |v: Value| serde_json::to_vec(&v).unwrap_or_default();
    let plain = vec![("Content-Type".to_string(), "application/json".to_string())];
    match c.kind {
        ChannelKind::Feishu => {
            // Feishu/Lark: the key is "timestamp\nsecret", the message empty; the
            // timestamp in seconds goes in the body with the signature.
            let mut body = json!({"msg_type": "text", "content": {"text": text}});
            if let Some(secret) = secret {
                let ts = now.timestamp().to_string();
                let sign = b64(&hmac_sha256(format!("{ts}\n{secret}").as_bytes(), b""));
                body["timestamp"] = json!(ts);
                body["sign"] = json!(sign);
            }
            Request {
                url,
                headers: plain,
                body: json(body),
            }
        }
        ChannelKind::Dingtalk => {
            // DingTalk: HMAC-SHA256 of "timestamp\nsecret" under the secret, in
            // milliseconds, base64 and URL-encoded into the query.
            let mut url = url;
            if let Some(secret) = secret {
                let ts = now.timestamp_millis();
                let sign = b64(&hmac_sha256(
                    secret.as_bytes(),
                    format!("{ts}\n{secret}").as_bytes(),
                ));
                let sign = percent_encoding::utf8_percent_encode(
                    &sign,
                    percent_encoding::NON_ALPHANUMERIC,
                );
                let sep = if url.contains('?') { '&' } else { '?' };
                url = format!("{url}{sep}timestamp={ts}&sign={sign}");
            }
            Request {
                url,
                headers: plain,
                body: json(json!({"msgtype": "text", "text": {"content": text}})),
            }
        }
        ChannelKind::Wecom => Request {
            url,
            headers: plain,
            body: json(json!({"msgtype": "text", "text": {"content": text}})),
        },
        ChannelKind::Slack => Request {
            url,
            headers: plain,
            body: json(json!({"text": text})),
        },
        ChannelKind::Webhook => {
            let body = json(json!({
                "event": event.name(),
                "release": release.0,
                "version": release.1,
                "text": text,
                "at": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            }));
            let mut headers = plain;
            if let Some(secret) = secret {
                let sig: String = hmac_sha256(secret.as_bytes(), &body)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                headers.push(("X-Warroom-Signature".into(), format!("sha256={sig}")));
            }
            Request { url, headers, body }
        }
    }
}

/// Whether the platform took the message: its own answer, not only the HTTP status
/// (Feishu, DingTalk and WeCom answer 200 with an error code inside).
pub fn accepted(kind: ChannelKind, status: u16, body: &str) -> Result<(), String> {
    if !(200..300).contains(&status) {
        return Err(format!(
            "HTTP {status}: {}",
            crate::text::fit(&crate::text::clean(body), 120)
        ));
    }
    let v: Option<Value> = serde_json::from_str(body).ok();
    let code = |k: &str| v.as_ref().and_then(|v| v.get(k)).and_then(Value::as_i64);
    let msg = |k: &str| {
        v.as_ref()
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(|m| crate::text::clean(m).into_owned())
            .unwrap_or_default()
    };
    match kind {
        ChannelKind::Feishu => match code("code").or(code("StatusCode")) {
            Some(0) => Ok(()),
            Some(c) => Err(format!("Feishu answered code {c}: {}", msg("msg"))),
            None => Err("Feishu's answer has no code".into()),
        },
        ChannelKind::Dingtalk | ChannelKind::Wecom => match code("errcode") {
            Some(0) => Ok(()),
            Some(c) => Err(format!("answered errcode {c}: {}", msg("errmsg"))),
            None => Err("the answer has no errcode".into()),
        },
        ChannelKind::Slack => {
            if body.trim() == "ok" {
                Ok(())
            } else {
                Err(format!("Slack answered {}", crate::text::fit(body, 80)))
            }
        }
        ChannelKind::Webhook => Ok(()),
    }
}

/// How a channel's sender paces itself.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// The least time between two requests to the channel.
    pub gap: Duration,
    /// The wait before the second attempt; each next one twice as long.
    pub backoff: Duration,
    pub attempts: u32,
}

impl Default for Pace {
    fn default() -> Pace {
        Pace {
            gap: MIN_GAP,
            backoff: BACKOFF,
            attempts: ATTEMPTS,
        }
    }
}

/// One message for a channel, as the core asked for it.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub seq: u64,
    pub event: NotifyEvent,
    pub text: String,
}

/// Start a sender per channel; the map from channel id to its queue goes to the runner.
pub fn spawn(
    channels: Vec<Ready>,
    release: (String, String),
    pace: Pace,
    tx: UnboundedSender<Event>,
) -> (
    std::collections::HashMap<String, UnboundedSender<Outgoing>>,
    Vec<tokio::task::JoinHandle<()>>,
) {
    let mut queues = std::collections::HashMap::new();
    let mut tasks = Vec::new();
    // The one TLS stack's provider (idempotent): a client without one cannot be built.
    crate::install_crypto();
    let http = reqwest::Client::builder()
        .connect_timeout(TIMEOUT)
        .timeout(TIMEOUT)
        .user_agent(concat!("warroom/", env!("CARGO_PKG_VERSION")))
        .build();
    let http = match http {
        Ok(h) => h,
        Err(e) => {
            log::error!("cannot build the HTTP client for notifications: {e}");
            return (queues, tasks);
        }
    };
    for c in channels {
        let (qtx, qrx) = tokio::sync::mpsc::unbounded_channel();
        queues.insert(c.id.clone(), qtx);
        tasks.push(tokio::spawn(channel_task(
            c,
            http.clone(),
            release.clone(),
            pace,
            qrx,
            tx.clone(),
        )));
    }
    (queues, tasks)
}

async fn channel_task(
    c: Ready,
    http: reqwest::Client,
    release: (String, String),
    pace: Pace,
    mut rx: UnboundedReceiver<Outgoing>,
    tx: UnboundedSender<Event>,
) {
    let mut last: Option<tokio::time::Instant> = None;
    while let Some(m) = rx.recv().await {
        let mut attempts = 0;
        let mut wait = pace.backoff;
        let result = loop {
            if let Some(l) = last {
                tokio::time::sleep_until(l + pace.gap).await;
            }
            last = Some(tokio::time::Instant::now());
            attempts += 1;
            let r = request(&c, m.event, &m.text, (&release.0, &release.1), Utc::now());
            let mut b = http.post(&r.url).body(r.body);
            for (k, v) in &r.headers {
                b = b.header(k, v);
            }
            let outcome = match b.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let body = resp.text().await.unwrap_or_default();
                    accepted(c.kind, status, &body)
                }
                // Never the URL: it carries the channel's token.
                Err(e) => Err(format!("cannot reach it: {}", e.without_url())),
            };
            match outcome {
                Ok(()) => break Ok(()),
                Err(e) if attempts >= pace.attempts => break Err(e),
                Err(e) => {
                    log::warn!(
                        "notify {}: attempt {attempts} of message #{} failed: {e}",
                        c.id,
                        m.seq
                    );
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        };
        let (ok, message) = match result {
            Ok(()) => (true, "delivered".to_string()),
            Err(e) => (false, e),
        };
        let ev = Event::Notified {
            seq: m.seq,
            channel: c.id.clone(),
            ok,
            message,
            attempts,
        };
        if tx.send(ev).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_answers_are_read_as_the_platforms_mean_them() {
        assert!(accepted(ChannelKind::Feishu, 200, r#"{"code":0,"msg":"success"}"#).is_ok());
        let e = accepted(
            ChannelKind::Feishu,
            200,
            r#"{"code":19021,"msg":"sign match fail"}"#,
        )
        .unwrap_err();
        assert_eq!(e, "Feishu answered code 19021: sign match fail");
        assert!(accepted(ChannelKind::Dingtalk, 200, r#"{"errcode":0,"errmsg":"ok"}"#).is_ok());
        assert!(
            accepted(
                ChannelKind::Wecom,
                200,
                r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#
            )
            .is_err()
        );
        assert!(accepted(ChannelKind::Slack, 200, "ok").is_ok());
        assert!(accepted(ChannelKind::Slack, 404, "no_service").is_err());
        assert!(accepted(ChannelKind::Webhook, 204, "").is_ok());
        assert!(accepted(ChannelKind::Webhook, 500, "boom").is_err());
    }
}
