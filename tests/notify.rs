//! Notifications as each platform documents them, received by a local server per platform
//! on 127.0.0.1 that checks the payload's shape and the signature the way the platform
//! does; and what happens when a receiver fails or is gone.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::mpsc;
use warroom::event::Event;
use warroom::notify::{Outgoing, Pace, Ready};
use warroom::runbook::{ChannelKind, NotifyEvent};

/// What a receiver got: the path and query, the headers, the body.
#[derive(Debug, Clone)]
struct Got {
    uri: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A receiver that answers each request with the next of `answers` (the last one again
/// once they run out), keeping what it got.
async fn receiver(answers: Vec<(u16, &'static str)>) -> (String, Arc<Mutex<Vec<Got>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let kept = got.clone();
    let answers = Arc::new(answers);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let kept = kept.clone();
            let answers = answers.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let kept = kept.clone();
                    let answers = answers.clone();
                    async move {
                        let uri = req.uri().to_string();
                        let headers = req
                            .headers()
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                            .collect();
                        let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();
                        let n = {
                            let mut g = kept.lock().unwrap();
                            g.push(Got { uri, headers, body });
                            g.len()
                        };
                        let (status, text) = answers[(n - 1).min(answers.len() - 1)];
                        Ok::<_, Infallible>(
                            Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::from(text)))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, got)
}

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&k, msg).as_ref().to_vec()
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Send one message on `c` and wait for its fate.
async fn send(c: Ready, pace: Pace) -> (bool, String, u32) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (queues, tasks) =
        warroom::notify::spawn(vec![c.clone()], ("ERP".into(), "v1.0.0".into()), pace, tx);
    queues[&c.id]
        .send(Outgoing {
            seq: 42,
            event: NotifyEvent::Rollback,
            text: "[ERP v1.0.0] ROLLBACK: manual, by lin: canary errors".into(),
        })
        .unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("an answer")
        .unwrap();
    for t in tasks {
        t.abort();
    }
    match ev {
        Event::Notified {
            seq: 42,
            channel,
            ok,
            message,
            attempts,
        } => {
            assert_eq!(channel, c.id);
            (ok, message, attempts)
        }
        other => panic!("{other:?}"),
    }
}

fn quick() -> Pace {
    Pace {
        gap: Duration::from_millis(10),
        backoff: Duration::from_millis(10),
        attempts: 3,
    }
}

fn json(got: &Got) -> Value {
    serde_json::from_slice(&got.body).unwrap()
}

#[tokio::test]
async fn feishu_gets_a_text_message_signed_as_feishu_checks_it() {
    let (url, got) = receiver(vec![(200, r#"{"code":0,"msg":"success"}"#)]).await;
    let secret = "fs-secret-123";
    let c = Ready::new(
        "ops-feishu",
        ChannelKind::Feishu,
        &format!("{url}/open-apis/bot/v2/hook/abc"),
        Some(secret),
    );
    assert_eq!(send(c, quick()).await, (true, "delivered".into(), 1));
    let got = got.lock().unwrap()[0].clone();
    assert_eq!(got.uri, "/open-apis/bot/v2/hook/abc");
    let v = json(&got);
    assert_eq!(v["msg_type"], "text");
    assert!(
        v["content"]["text"]
            .as_str()
            .unwrap()
            .contains("ROLLBACK: manual, by lin")
    );
    // Feishu: HMAC-SHA256 keyed by "timestamp\nsecret" over nothing, base64.
    let ts = v["timestamp"].as_str().unwrap();
    let want = b64(&hmac(format!("{ts}\n{secret}").as_bytes(), b""));
    assert_eq!(v["sign"].as_str().unwrap(), want);
    let age = chrono::Utc::now().timestamp() - ts.parse::<i64>().unwrap();
    assert!(
        (0..3600).contains(&age),
        "Feishu refuses a timestamp over an hour off"
    );
}

#[tokio::test]
async fn dingtalk_gets_its_signature_in_the_query() {
    let (url, got) = receiver(vec![(200, r#"{"errcode":0,"errmsg":"ok"}"#)]).await;
    let secret = "SECdingtalk";
    let c = Ready::new(
        "ops-dingtalk",
        ChannelKind::Dingtalk,
        &format!("{url}/robot/send?access_token=tok"),
        Some(secret),
    );
    assert_eq!(send(c, quick()).await, (true, "delivered".into(), 1));
    let got = got.lock().unwrap()[0].clone();
    let v = json(&got);
    assert_eq!(v["msgtype"], "text");
    assert!(v["text"]["content"].as_str().unwrap().contains("ROLLBACK"));
    let query = got.uri.split_once('?').unwrap().1;
    let params: std::collections::HashMap<String, String> = query
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), percent_decode(v))
        })
        .collect();
    assert_eq!(params["access_token"], "tok");
    // DingTalk: HMAC-SHA256 under the secret of "timestamp\nsecret" (milliseconds), base64.
    let ts = &params["timestamp"];
    let want = b64(&hmac(
        secret.as_bytes(),
        format!("{ts}\n{secret}").as_bytes(),
    ));
    assert_eq!(params["sign"], want);
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn wecom_and_slack_get_their_own_shapes() {
    let (url, got) = receiver(vec![(200, r#"{"errcode":0,"errmsg":"ok"}"#)]).await;
    let c = Ready::new(
        "ops-wecom",
        ChannelKind::Wecom,
        &format!("{url}/cgi-bin/webhook/send?key=k1"),
        None,
    );
    assert_eq!(send(c, quick()).await, (true, "delivered".into(), 1));
    let v = json(&got.lock().unwrap()[0]);
    assert_eq!(v["msgtype"], "text");
    assert!(v["text"]["content"].as_str().unwrap().contains("ROLLBACK"));

    let (url, got) = receiver(vec![(200, "ok")]).await;
    let c = Ready::new(
        "sre-slack",
        ChannelKind::Slack,
        &format!("{url}/services/T/B/X"),
        None,
    );
    assert_eq!(send(c, quick()).await, (true, "delivered".into(), 1));
    let v = json(&got.lock().unwrap()[0]);
    assert!(v["text"].as_str().unwrap().contains("ROLLBACK"));
    assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
}

#[tokio::test]
async fn a_generic_webhook_gets_the_event_and_an_hmac_of_its_body() {
    let (url, got) = receiver(vec![(204, "")]).await;
    let c = Ready::new(
        "audit",
        ChannelKind::Webhook,
        &format!("{url}/hook"),
        Some("wh-secret"),
    );
    assert_eq!(send(c, quick()).await, (true, "delivered".into(), 1));
    let got = got.lock().unwrap()[0].clone();
    let v = json(&got);
    assert_eq!(v["event"], "rollback");
    assert_eq!(v["release"], "ERP");
    assert_eq!(v["version"], "v1.0.0");
    let sig = got
        .headers
        .iter()
        .find(|(k, _)| k == "x-warroom-signature")
        .map(|(_, v)| v.clone())
        .unwrap();
    let want: String = hmac(b"wh-secret", &got.body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(sig, format!("sha256={want}"));
}

#[tokio::test]
async fn a_failing_receiver_is_retried_and_a_refusal_inside_a_200_counts_as_failure() {
    // Two server errors, then accepted: delivered on the third attempt.
    let (url, got) = receiver(vec![
        (500, "busy"),
        (502, "bad gateway"),
        (200, r#"{"errcode":0,"errmsg":"ok"}"#),
    ])
    .await;
    let c = Ready::new(
        "ops-dingtalk",
        ChannelKind::Dingtalk,
        &format!("{url}/robot/send?access_token=t"),
        None,
    );
    assert_eq!(send(c, quick()).await, (true, "delivered".into(), 3));
    assert_eq!(got.lock().unwrap().len(), 3);
    // Feishu says no in a 200 (a bad signature): tried, then reported with its words.
    let (url, _) = receiver(vec![(200, r#"{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}"#)]).await;
    let c = Ready::new(
        "ops-feishu",
        ChannelKind::Feishu,
        &format!("{url}/hook"),
        Some("x"),
    );
    let (ok, message, attempts) = send(c, quick()).await;
    assert!(!ok);
    assert_eq!(attempts, 3);
    assert!(
        message.starts_with("Feishu answered code 19021: sign match fail"),
        "{message}"
    );
}

#[tokio::test]
async fn a_receiver_that_is_gone_is_reported_without_its_token() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = Ready::new(
        "ops-wecom",
        ChannelKind::Wecom,
        &format!("http://127.0.0.1:{port}/cgi-bin/webhook/send?key=SECRET-KEY-123"),
        None,
    );
    let (ok, message, attempts) = send(c, quick()).await;
    assert!(!ok);
    assert_eq!(attempts, 3);
    assert!(message.starts_with("cannot reach it"), "{message}");
    assert!(
        !message.contains("SECRET-KEY-123"),
        "the token leaked: {message}"
    );
}
