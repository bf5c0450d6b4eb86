//! Secrets never come back from a server: a Prometheus (or a proxy in front of it) that
//! echoes the request's headers in an error page, a non-JSON body, an API error, label
//! values or a sample never puts a configured token, password or header value into what
//! the console shows, journals or logs.

use std::path::Path;
use std::time::Duration;

use warroom::prom::{self, Answer, Overrides, Prom, Settings};
use warroom::state::metrics::Reading;

/// Answers every request by echoing its headers, the way the request's `query` asks:
/// `e500` an HTTP 500 text page, `text` a 200 that is not JSON, `api` a Prometheus API
/// error, `labels` two series whose labels carry the headers, `number` a sample whose
/// value is the headers. The credential-carrying headers come first, after PAD bytes,
/// so a body cut short would cut through a secret.
async fn echo_server() -> String {
    use http_body_util::Full;
    use hyper::{Request, Response};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|req: Request<hyper::body::Incoming>| {
                    let mut heads: Vec<(String, String)> = req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                        .collect();
                    // The credentials first: Authorization, then the extra headers.
                    heads.sort_by_key(|(k, _)| (k != "authorization", !k.starts_with("x-")));
                    let dump: Vec<String> =
                        heads.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                    // `query=MODE.PAD`
                    let q = req.uri().query().unwrap_or("").to_string();
                    let (mode, pad) = q
                        .split('&')
                        .find_map(|kv| kv.strip_prefix("query="))
                        .and_then(|v| v.split_once('.'))
                        .map(|(m, p)| (m.to_string(), p.parse().unwrap_or(0usize)))
                        .unwrap_or_default();
                    let dump = format!("{}{}", ".".repeat(pad), dump.join(" | "));
                    let esc = serde_json::to_string(&dump).unwrap();
                    let now = chrono::Utc::now().timestamp();
                    let (code, body) = match mode.as_str() {
                        "e500" => (500, dump),
                        "text" => (200, format!("<html>{dump}</html>")),
                        "api" => (
                            400,
                            format!(r#"{{"status":"error","errorType":"bad_data","error":{esc}}}"#),
                        ),
                        "labels" => (
                            200,
                            format!(
                                r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{"echo":{esc},"n":"1"}},"value":[{now},"1"]}},{{"metric":{{"echo":{esc},"n":"2"}},"value":[{now},"2"]}}]}}}}"#
                            ),
                        ),
                        "number" => (
                            200,
                            format!(
                                r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[{now},{esc}]}}]}}}}"#
                            ),
                        ),
                        _ => (404, "no such mode".into()),
                    };
                    async move {
                        let mut r = Response::new(Full::new(bytes::Bytes::from(body)));
                        *r.status_mut() = hyper::StatusCode::from_u16(code).unwrap();
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

fn b64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in s.as_bytes().chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            out.push(if i <= c.len() {
                T[(n >> (18 - 6 * i)) as usize & 63] as char
            } else {
                '='
            });
        }
    }
    out
}

/// Every text the console would get from this client for each kind of echo.
async fn texts(prom: &Prom) -> Vec<String> {
    let rb = warroom::runbook::load(Path::new("assets/runbooks/demo.yaml")).unwrap();
    let metric = rb.metrics[0].clone();
    let mut out = Vec::new();
    for mode in ["e500", "text", "api", "labels", "number"] {
        // No padding, and paddings that put each kind of secret across the 80th
        // character, where an excerpt of the body is cut.
        for pad in [0, 50, 62] {
            let q = format!("{mode}.{pad}");
            let text = match prom.instant(&q).await {
                Ok(answer) => {
                    if let Answer::Vector(v) = &answer {
                        out.extend(
                            v.iter()
                                .flat_map(|s| s.labels.iter().map(|(k, v)| format!("{k}={v}"))),
                        );
                    }
                    match prom::reading_for(&metric, answer) {
                        Reading::Error(e) => e,
                        other => panic!("{mode}: expected an error reading, got {other:?}"),
                    }
                }
                Err(e) => e,
            };
            out.push(text);
            let now = chrono::Utc::now();
            match prom
                .range(
                    &q,
                    now - chrono::Duration::minutes(1),
                    now,
                    Duration::from_secs(15),
                )
                .await
            {
                Ok(series) => out.extend(
                    series
                        .iter()
                        .flat_map(|s| s.labels.iter().map(|(k, v)| format!("{k}={v}"))),
                ),
                Err(e) => out.push(e),
            }
        }
    }
    out
}

fn assert_clean(what: &str, texts: &[String], secrets: &[&str]) {
    // The echo did come back: the test would prove nothing if the server said nothing.
    assert!(
        texts.iter().any(|t| t.contains("[redacted]")),
        "{what}: no echo reached the client: {texts:#?}"
    );
    for t in texts {
        for s in secrets {
            assert!(!t.contains(s), "{what}: `{s}` leaked into: {t}");
            // Nor the start of one, left by a body cut short.
            assert!(
                !t.contains(&s[..7]),
                "{what}: the start of `{s}` leaked into: {t}"
            );
        }
    }
}

#[test]
fn no_configured_secret_comes_back_in_anything_a_server_answers() {
    const ENV_TOKEN: &str = "SEKRIT-env-4c1d7e9a0b";
    const FILE_TOKEN: &str = "SEKRIT-file-93ab5d2f11";
    const PASSWORD: &str = "SEKRIT-pw-1e8c44a7d0";
    const HEADER: &str = "SEKRIT-hdr-77f0c2b9e5";
    let var = format!("WARROOM_TEST_PROM_TOKEN_{}", std::process::id());
    // SAFETY: set before the runtime starts, while this test's thread is the only one
    // that reads or writes this variable.
    unsafe { std::env::set_var(&var, ENV_TOKEN) };
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{FILE_TOKEN}\n")).unwrap();
    let pw_file = dir.path().join("pw");
    std::fs::write(&pw_file, PASSWORD).unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let url = echo_server().await;
        let kinds: Vec<(&str, Overrides, Vec<String>)> = vec![
            (
                "bearer token from the environment",
                Overrides {
                    bearer_token_env: Some(var.clone()),
                    ..Default::default()
                },
                vec![ENV_TOKEN.into()],
            ),
            (
                "bearer token from a file",
                Overrides {
                    bearer_token_file: Some(token_file.clone()),
                    ..Default::default()
                },
                vec![FILE_TOKEN.into()],
            ),
            (
                "basic-auth password",
                Overrides {
                    username: Some("release-lead".into()),
                    password_file: Some(pw_file.clone()),
                    ..Default::default()
                },
                // The password travels base64-encoded: that form is as good as the password.
                vec![PASSWORD.into(), b64(&format!("release-lead:{PASSWORD}"))],
            ),
            (
                "header value",
                Overrides {
                    headers: vec![format!("X-Api-Key: {HEADER}")],
                    ..Default::default()
                },
                vec![HEADER.into()],
            ),
        ];
        for (what, o, secrets) in kinds {
            let o = Overrides {
                url: Some(url.clone()),
                ..o
            };
            let settings = Settings::resolve(None, &o).unwrap().unwrap();
            let settings = Settings {
                timeout: Duration::from_secs(30),
                ..settings
            };
            let prom = Prom::new(&settings).unwrap();
            let texts = texts(&prom).await;
            let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
            assert_clean(what, &texts, &secrets);
        }
    });
}

/// The same echo without any configured secret comes back whole: redaction takes only
/// secrets, not the server's words.
#[tokio::test]
async fn without_secrets_the_server_words_are_kept() {
    let url = echo_server().await;
    let prom = Prom::new(&Settings {
        timeout: Duration::from_secs(30),
        ..Settings::new(&url, Duration::from_secs(5))
    })
    .unwrap();
    let e = prom.instant("e500.0").await.unwrap_err();
    assert!(
        e.starts_with("Prometheus answered HTTP 500 Internal Server Error: "),
        "{e}"
    );
    assert!(e.contains("user-agent: warroom/"), "{e}");
    assert!(!e.contains("[redacted]"), "{e}");
}
