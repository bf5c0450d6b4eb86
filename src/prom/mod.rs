//! The Prometheus HTTP API client and the gauge poller. The poller owns its I/O and sends
//! readings as events; a slow or dead Prometheus delays only its own gauges.
//!
//! Secrets (a bearer token, a basic-auth password) are read once at start-up from the
//! environment variable or file the runbook names, kept in [`Secret`], which never prints
//! itself, and sent as sensitive headers. No message this module writes contains one.
//!
//! A server can echo what it was sent (an error page listing the request's headers, a
//! proxy's debug body). Every string this client hands on that came from a server
//! (error messages, excerpts of bodies, label names and values) passes through
//! [`Redactor::redact`] first, so a configured secret never reaches the screen, the
//! journal or the log.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use tokio::sync::mpsc::UnboundedSender;

use crate::event::Event;
use crate::runbook::{Bad, Metric, PromConfig, check_url};
use crate::state::metrics::{HISTORY, Part, Reading, worse};
use crate::text::clean;

/// At most this many queries in flight at once.
const CONCURRENCY: usize = 4;
/// Tries per query: the first and two retries, while the query's time allows.
const TRIES: u32 = 3;
/// The first retry waits this long; each next one twice as long.
const BACKOFF: Duration = Duration::from_millis(200);

/// A secret read at start-up. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: &str) -> Secret {
        Secret(s.to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Every secret this client sends, in each form a server could echo: the bearer token,
/// the basic-auth password and the `Authorization` value that encodes it, and every
/// extra header's value (a tenant key is a credential too).
#[derive(Clone, Default)]
struct Redactor(Arc<Vec<String>>);

impl Redactor {
    fn new(s: &Settings, authorization: Option<&str>) -> Redactor {
        let mut secrets: Vec<String> = Vec::new();
        match &s.auth {
            Auth::None => {}
            Auth::Bearer(t) => secrets.push(t.expose().to_string()),
            Auth::Basic { password, .. } => secrets.push(password.expose().to_string()),
        }
        secrets.extend(authorization.map(str::to_string));
        secrets.extend(s.headers.iter().map(|(_, v)| v.clone()));
        secrets.retain(|v| !v.is_empty());
        // The longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|v| std::cmp::Reverse(v.len()));
        secrets.dedup();
        Redactor(Arc::new(secrets))
    }

    /// `s` with every secret replaced by `[redacted]`; borrowed when none is in it.
    fn redact<'a>(&self, s: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(s);
        for secret in self.0.iter() {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), "[redacted]"));
            }
        }
        out
    }

    fn labels(&self, labels: BTreeMap<String, String>) -> BTreeMap<String, String> {
        if self.0.is_empty() {
            return labels;
        }
        labels
            .into_iter()
            .map(|(k, v)| (self.redact(&k).into_owned(), self.redact(&v).into_owned()))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Auth {
    #[default]
    None,
    Bearer(Secret),
    Basic {
        username: String,
        password: Secret,
    },
}

/// Command-line settings that override the runbook's `prometheus:` section.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub url: Option<String>,
    pub bearer_token_env: Option<String>,
    pub bearer_token_file: Option<PathBuf>,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    /// `Name: value`
    pub headers: Vec<String>,
    pub ca_file: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub insecure: bool,
}

/// Everything needed to talk to one Prometheus, resolved from the runbook and the flags.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: String,
    pub refresh: Duration,
    pub timeout: Duration,
    pub auth: Auth,
    pub headers: Vec<(String, String)>,
    pub ca_file: Option<PathBuf>,
    pub client_cert: Option<(PathBuf, PathBuf)>,
    pub insecure: bool,
}

impl Settings {
    /// Plain settings for a URL: no auth, no TLS options (the simulator, tests).
    pub fn new(url: &str, refresh: Duration) -> Settings {
        Settings {
            url: url.to_string(),
            refresh,
            timeout: default_timeout(refresh),
            auth: Auth::None,
            headers: Vec::new(),
            ca_file: None,
            client_cert: None,
            insecure: false,
        }
    }

    /// The runbook's section with the flags on top. `Ok(None)`: no URL anywhere.
    /// Secrets are read here, once; errors name where they were looked for, never them.
    pub fn resolve(cfg: Option<&PromConfig>, o: &Overrides) -> Result<Option<Settings>, String> {
        let def = PromConfig::default();
        let cfg = cfg.unwrap_or(&def);
        let Some(url) = o.url.clone().or_else(|| cfg.url.clone()) else {
            return Ok(None);
        };
        check_url(&url)?;
        let refresh = if cfg.refresh.0.is_zero() {
            Duration::from_secs(5)
        } else {
            cfg.refresh.0
        };
        let timeout = cfg.timeout.map(|t| t.0).unwrap_or(default_timeout(refresh));
        let ra = cfg.auth.clone().unwrap_or_default();
        let flag_auth =
            o.bearer_token_env.is_some() || o.bearer_token_file.is_some() || o.username.is_some();
        let auth = if flag_auth {
            if [
                o.bearer_token_env.is_some(),
                o.bearer_token_file.is_some(),
                o.username.is_some(),
            ]
            .iter()
            .filter(|x| **x)
            .count()
                > 1
            {
                return Err("give one of --prometheus-token-env, --prometheus-token-file or --prometheus-user".into());
            }
            if let Some(v) = &o.bearer_token_env {
                Auth::Bearer(from_env(v, "--prometheus-token-env")?)
            } else if let Some(f) = &o.bearer_token_file {
                Auth::Bearer(from_file(f, "--prometheus-token-file")?)
            } else {
                let username = o.username.clone().unwrap_or_default();
                let password = match (&o.password_env, &o.password_file) {
                    (Some(v), None) => from_env(v, "--prometheus-password-env")?,
                    (None, Some(f)) => from_file(f, "--prometheus-password-file")?,
                    _ => return Err("--prometheus-user needs exactly one of --prometheus-password-env or --prometheus-password-file".into()),
                };
                Auth::Basic { username, password }
            }
        } else if let Some(v) = &ra.bearer_token_env {
            Auth::Bearer(from_env(v, "prometheus.auth.bearer_token_env")?)
        } else if let Some(f) = &ra.bearer_token_file {
            Auth::Bearer(from_file(f, "prometheus.auth.bearer_token_file")?)
        } else if let Some(b) = &ra.basic {
            let password = match (&b.password_env, &b.password_file) {
                (Some(v), _) => from_env(v, "prometheus.auth.basic.password_env")?,
                (None, Some(f)) => from_file(f, "prometheus.auth.basic.password_file")?,
                (None, None) => {
                    return Err("prometheus.auth.basic needs password_env or password_file".into());
                }
            };
            Auth::Basic {
                username: b.username.clone(),
                password,
            }
        } else {
            Auth::None
        };
        let mut headers: Vec<(String, String)> = cfg
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for h in &o.headers {
            let (k, v) = h
                .split_once(':')
                .ok_or("--prometheus-header takes `Name: value`")?;
            let k = k.trim().to_string();
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&k));
            headers.push((k, v.trim().to_string()));
        }
        let client_cert = match (
            o.client_cert.clone().or_else(|| cfg.client_cert.clone()),
            o.client_key.clone().or_else(|| cfg.client_key.clone()),
        ) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                return Err(
                    "a client certificate needs its key: give both the certificate and the key"
                        .into(),
                );
            }
        };
        Ok(Some(Settings {
            url,
            refresh,
            timeout,
            auth,
            headers,
            ca_file: o.ca_file.clone().or_else(|| cfg.ca_file.clone()),
            client_cert,
            insecure: o.insecure || cfg.insecure,
        }))
    }
}

fn default_timeout(refresh: Duration) -> Duration {
    refresh.min(Duration::from_secs(10))
}

pub(crate) fn from_env(var: &str, what: &str) -> Result<Secret, String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret(v.trim().to_string())),
        Ok(_) => Err(format!("the environment variable {var} ({what}) is empty")),
        Err(_) => Err(format!(
            "the environment variable {var} ({what}) is not set"
        )),
    }
}

pub(crate) fn from_file(path: &Path, what: &str) -> Result<Secret, String> {
    match std::fs::read_to_string(path) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret(v.trim().to_string())),
        Ok(_) => Err(format!("{} ({what}) is empty", path.display())),
        Err(e) => Err(format!(
            "cannot read {} ({what}): {}",
            path.display(),
            e.kind()
        )),
    }
}

#[derive(Clone)]
pub struct Prom {
    http: reqwest::Client,
    base: Arc<str>,
    /// The two endpoints, parsed once: each round asks a dozen queries.
    endpoints: Arc<Endpoints>,
    timeout: Duration,
    secrets: Redactor,
}

struct Endpoints {
    query: reqwest::Url,
    query_range: reqwest::Url,
}

#[derive(Deserialize)]
struct ApiResponse {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<Item>,
}

/// One element of an answer's `result`, read straight into its own type (no JSON tree
/// in between): a series of a vector or a matrix, or one half of a scalar's
/// `[time, "value"]`.
enum Item {
    Time(f64),
    Text(String),
    Series(Series),
}

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    /// A vector's sample.
    #[serde(default)]
    value: Option<(f64, String)>,
    /// A matrix's samples.
    #[serde(default)]
    values: Option<Vec<(f64, String)>>,
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Item, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Item;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a series, a time or a value")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Item, E> {
                Ok(Item::Time(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Item, E> {
                Ok(Item::Time(v as f64))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Item, E> {
                Ok(Item::Time(v as f64))
            }
            fn visit_str<E>(self, v: &str) -> Result<Item, E> {
                Ok(Item::Text(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Item, A::Error> {
                Series::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(Item::Series)
            }
        }
        d.deserialize_any(V)
    }
}

impl Data {
    /// The series of a vector or a matrix answer; `what` names the answer for the error.
    fn series(self, what: &str) -> Result<Vec<Series>, String> {
        self.result
            .into_iter()
            .map(|i| match i {
                Item::Series(s) => Ok(s),
                _ => Err(format!("a {what} result that is not a list of series")),
            })
            .collect()
    }
}

/// One series of an instant answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
    pub at: DateTime<Utc>,
}

/// One answer to an instant query, as Prometheus gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Scalar { value: f64, at: DateTime<Utc> },
    Vector(Vec<Sample>),
}

/// One series of a range answer, oldest point first.
#[derive(Debug, Clone, PartialEq)]
pub struct Points {
    pub labels: BTreeMap<String, String>,
    pub points: Vec<(i64, f64)>,
}

/// Why a request failed, and whether trying again soon could help.
struct Failure {
    message: String,
    retry: bool,
}

impl Prom {
    pub fn new(s: &Settings) -> Result<Prom, String> {
        crate::install_crypto();
        check_url(&s.url)?;
        let mut headers = HeaderMap::new();
        for (k, v) in &s.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("`{k}` is not an HTTP header name"))?;
            let mut value = HeaderValue::from_str(v)
                .map_err(|_| format!("the value of header {k} is not valid in HTTP"))?;
            // Extra headers may carry tenant keys: keep them out of debug output.
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let auth = match &s.auth {
            Auth::None => None,
            Auth::Bearer(t) => Some(format!("Bearer {}", t.expose())),
            Auth::Basic { username, password } => Some(format!(
                "Basic {}",
                base64(format!("{username}:{}", password.expose()).as_bytes())
            )),
        };
        let secrets = Redactor::new(s, auth.as_deref());
        if let Some(a) = auth {
            let mut value = HeaderValue::from_str(&a)
                .map_err(|_| "the credentials contain characters HTTP cannot carry".to_string())?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let mut b = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(s.timeout)
            .user_agent(concat!("warroom/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &s.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| format!("cannot read the CA file {}: {}", ca.display(), e.kind()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|_| format!("{} holds no PEM certificate", ca.display()))?;
            if certs.is_empty() {
                return Err(format!("{} holds no PEM certificate", ca.display()));
            }
            b = b.tls_certs_only(certs);
        }
        if let Some((cert, key)) = &s.client_cert {
            let mut pem = std::fs::read(cert).map_err(|e| {
                format!(
                    "cannot read the client certificate {}: {}",
                    cert.display(),
                    e.kind()
                )
            })?;
            pem.push(b'\n');
            pem.extend(std::fs::read(key).map_err(|e| {
                format!("cannot read the client key {}: {}", key.display(), e.kind())
            })?);
            let id = reqwest::Identity::from_pem(&pem).map_err(|_| {
                format!(
                    "{} and {} are not a PEM certificate and its key",
                    cert.display(),
                    key.display()
                )
            })?;
            b = b.identity(id);
        }
        if s.insecure {
            b = b.tls_danger_accept_invalid_certs(true);
        }
        let http = b
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let base = s.url.trim_end_matches('/');
        let parse = |path: &str| {
            reqwest::Url::parse(&format!("{base}{path}"))
                .map_err(|e| format!("the Prometheus URL {base} is not valid: {e}"))
        };
        Ok(Prom {
            http,
            endpoints: Arc::new(Endpoints {
                query: parse("/api/v1/query")?,
                query_range: parse("/api/v1/query_range")?,
            }),
            base: base.into(),
            timeout: s.timeout,
            secrets,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// One API call, retried with backoff while the query's time allows and the failure
    /// is one that passes (unreachable, overloaded); a bad query is never retried.
    async fn get(
        &self,
        endpoint: &reqwest::Url,
        params: &[(&str, String)],
    ) -> Result<Data, String> {
        let start = Instant::now();
        let mut wait = BACKOFF;
        let mut tries = 0;
        loop {
            tries += 1;
            let left = self.timeout.saturating_sub(start.elapsed());
            match self.get_once(endpoint, params, left).await {
                Ok(d) => return Ok(d),
                Err(f) => {
                    if !f.retry || tries >= TRIES || start.elapsed() + wait >= self.timeout {
                        return Err(self.secrets.redact(&f.message).into_owned());
                    }
                }
            }
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }

    async fn get_once(
        &self,
        endpoint: &reqwest::Url,
        params: &[(&str, String)],
        timeout: Duration,
    ) -> Result<Data, Failure> {
        let mut url = endpoint.clone();
        url.query_pairs_mut().extend_pairs(params);
        let fail = |message: String, retry: bool| Failure { message, retry };
        let resp = self
            .http
            .get(url)
            .timeout(timeout.max(Duration::from_millis(1)))
            .send()
            .await
            .map_err(|e| {
                let cause = root_cause(&e);
                if cause.contains("certificate") || cause.contains("fatal alert") {
                    return fail(
                        format!(
                            "the TLS handshake with Prometheus at {} failed: {cause} (check ca_file / --prometheus-ca and the client certificate, or --insecure)",
                            self.base
                        ),
                        false,
                    );
                }
                if e.is_timeout() {
                    fail(
                        format!(
                            "Prometheus did not answer within {}s",
                            self.timeout.as_secs_f64()
                        ),
                        false,
                    )
                } else if e.is_connect() {
                    fail(
                        format!(
                            "cannot reach Prometheus at {}: {}",
                            self.base,
                            root_cause(&e)
                        ),
                        true,
                    )
                } else {
                    fail(
                        format!("request to Prometheus failed: {}", root_cause(&e)),
                        true,
                    )
                }
            })?;
        let code = resp.status();
        let body = resp.bytes().await.map_err(|e| {
            fail(
                format!("reading Prometheus' answer failed: {}", root_cause(&e)),
                true,
            )
        })?;
        let parsed: ApiResponse = match serde_json::from_slice(&body) {
            Ok(p) => p,
            Err(_) if code == reqwest::StatusCode::UNAUTHORIZED => {
                return Err(fail(
                    "Prometheus refused the credentials (HTTP 401): check the token or password"
                        .into(),
                    false,
                ));
            }
            Err(_) if code == reqwest::StatusCode::FORBIDDEN => {
                return Err(fail(
                    "Prometheus refused access (HTTP 403): these credentials may not query".into(),
                    false,
                ));
            }
            Err(_) if !code.is_success() => {
                return Err(fail(
                    format!(
                        "Prometheus answered HTTP {code}{}",
                        excerpt(&self.secrets, &body)
                    ),
                    code.is_server_error(),
                ));
            }
            Err(_) => {
                return Err(fail(
                    format!(
                        "Prometheus answered with something that is not its JSON API{}",
                        excerpt(&self.secrets, &body)
                    ),
                    false,
                ));
            }
        };
        if parsed.status != "success" {
            let kind = parsed.error_type.unwrap_or_else(|| "error".into());
            let msg = parsed.error.unwrap_or_default();
            let msg = msg.trim_start_matches("invalid parameter \"query\": ");
            return Err(fail(
                match kind.as_str() {
                    "bad_data" => format!("the query is not valid PromQL: {msg}"),
                    "timeout" => format!("Prometheus timed out evaluating the query: {msg}"),
                    "canceled" => format!("Prometheus canceled the query: {msg}"),
                    "execution" => format!("Prometheus could not evaluate the query: {msg}"),
                    "unavailable" => format!("Prometheus is not ready: {msg}"),
                    _ => format!("Prometheus {kind} (HTTP {code}): {msg}"),
                },
                code.is_server_error() && kind != "execution",
            ));
        }
        parsed
            .data
            .ok_or_else(|| fail("Prometheus answered success without data".into(), false))
    }

    /// An instant query evaluated now (or at `time`).
    pub async fn instant_at(
        &self,
        query: &str,
        time: Option<DateTime<Utc>>,
    ) -> Result<Answer, String> {
        match self.instant_unredacted(query, time).await {
            Ok(Answer::Vector(v)) => Ok(Answer::Vector(
                v.into_iter()
                    .map(|s| Sample {
                        labels: self.secrets.labels(s.labels),
                        ..s
                    })
                    .collect(),
            )),
            Ok(a) => Ok(a),
            Err(e) => Err(self.secrets.redact(&e).into_owned()),
        }
    }

    async fn instant_unredacted(
        &self,
        query: &str,
        time: Option<DateTime<Utc>>,
    ) -> Result<Answer, String> {
        let mut params = vec![("query", query.to_string())];
        if let Some(t) = time {
            params.push(("time", secs(t)));
        }
        let data = self.get(&self.endpoints.query, &params).await?;
        match data.result_type.as_str() {
            "scalar" => match data.result.as_slice() {
                [Item::Time(t), Item::Text(v)] => {
                    let (at, value) = sample(*t, v)?;
                    Ok(Answer::Scalar { value, at })
                }
                _ => Err("a scalar result that is not [time, value]".into()),
            },
            "vector" => data
                .series("vector")?
                .into_iter()
                .map(|s| {
                    let (t, v) = s.value.ok_or("a sample without a value")?;
                    let (at, value) = sample(t, &v)?;
                    Ok(Sample {
                        labels: s.metric,
                        value,
                        at,
                    })
                })
                .collect::<Result<Vec<_>, String>>()
                .map(Answer::Vector),
            other => Err(format!(
                "the query returned a {other}; a gauge needs an instant vector or a scalar"
            )),
        }
    }

    pub async fn instant(&self, query: &str) -> Result<Answer, String> {
        self.instant_at(query, None).await
    }

    /// Every series of a range query.
    pub async fn range(
        &self,
        query: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Duration,
    ) -> Result<Vec<Points>, String> {
        match self.range_unredacted(query, start, end, step).await {
            Ok(series) => Ok(series
                .into_iter()
                .map(|p| Points {
                    labels: self.secrets.labels(p.labels),
                    ..p
                })
                .collect()),
            Err(e) => Err(self.secrets.redact(&e).into_owned()),
        }
    }

    async fn range_unredacted(
        &self,
        query: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Duration,
    ) -> Result<Vec<Points>, String> {
        let data = self
            .get(
                &self.endpoints.query_range,
                &[
                    ("query", query.to_string()),
                    ("start", secs(start)),
                    ("end", secs(end)),
                    ("step", format!("{}", step.as_secs_f64())),
                ],
            )
            .await?;
        match data.result_type.as_str() {
            "matrix" => {}
            other => return Err(format!("a range query returned a {other}")),
        }
        data.series("range")?
            .into_iter()
            .map(|s| {
                let points = s
                    .values
                    .ok_or("a matrix without values")?
                    .iter()
                    .map(|(t, v)| sample(*t, v).map(|(at, v)| (at.timestamp_millis(), v)))
                    .collect::<Result<Vec<_>, String>>()?;
                Ok(Points {
                    labels: s.metric,
                    points,
                })
            })
            .collect()
    }
}

fn secs(t: DateTime<Utc>) -> String {
    format!("{:.3}", t.timestamp_millis() as f64 / 1000.0)
}

/// The innermost cause, in words (reqwest's outer message repeats the URL).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The start of an unexpected body, so "not JSON" says what it was instead. Secrets are
/// taken out before it is cut, so a cut cannot leave the start of one behind.
fn excerpt(secrets: &Redactor, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = secrets.redact(&text);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return String::new();
    }
    let cut: String = one_line.chars().take(80).collect();
    let more = if one_line.chars().count() > 80 {
        "…"
    } else {
        ""
    };
    format!(": {}{more}", clean(&cut))
}

/// `(unix_seconds, "value")` → (time, value); values may be "NaN", "+Inf", "-Inf".
fn sample(t: f64, s: &str) -> Result<(DateTime<Utc>, f64), String> {
    let value = match s {
        "NaN" => f64::NAN,
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().map_err(|_| format!("`{s}` is not a number"))?,
    };
    let at = DateTime::from_timestamp_millis((t * 1000.0).round() as i64)
        .ok_or("a sample time out of range")?;
    Ok((at, value))
}

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for c in input.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn picked(m: &Metric, labels: &BTreeMap<String, String>) -> bool {
    m.pick
        .iter()
        .all(|(k, v)| labels.get(k).is_some_and(|l| l == v))
}

fn describe_series(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    clean(&format!("{{{}}}", inner.join(","))).into_owned()
}

/// What a gauge shows for an answer: one value, several side by side, no data, or why
/// the answer cannot be shown as the runbook asks.
pub fn reading_for(m: &Metric, answer: Answer) -> Reading {
    let series = match answer {
        Answer::Scalar { value, at } => return Reading::Value { value, at },
        Answer::Vector(v) => v,
    };
    let total = series.len();
    let series: Vec<Sample> = series
        .into_iter()
        .filter(|s| picked(m, &s.labels))
        .collect();
    if series.is_empty() {
        return Reading::NoData;
    }
    let Some(by) = &m.split_by else {
        return match series.len() {
            1 => Reading::Value {
                value: series[0].value,
                at: series[0].at,
            },
            n => Reading::Error(format!(
                "the query returned {n} series (e.g. {} and {}){}; a gauge shows one: aggregate with sum(...), keep one with `pick:`, or show them side by side with `split_by:`",
                describe_series(&series[0].labels),
                describe_series(&series[1].labels),
                if total > n {
                    format!(" after `pick:` kept {n} of {total}")
                } else {
                    String::new()
                },
            )),
        };
    };
    let mut parts: Vec<Part> = Vec::new();
    for s in &series {
        let key = clean(s.labels.get(by).map(String::as_str).unwrap_or("(none)")).into_owned();
        if parts.iter().any(|p| p.key == key) {
            return Reading::Error(format!(
                "several series have {by}=\"{key}\"; split_by shows one per {by}: aggregate with sum by ({by}) (...)"
            ));
        }
        parts.push(Part {
            key,
            value: s.value,
            at: s.at,
        });
    }
    order_parts(m, &mut parts);
    Reading::Split(parts)
}

/// The runbook's order, then by name; with `top:` the worst first, cut to N.
fn order_parts(m: &Metric, parts: &mut Vec<Part>) {
    let rank = |k: &str| m.order.iter().position(|o| o == k).unwrap_or(usize::MAX);
    parts.sort_by(|a, b| rank(&a.key).cmp(&rank(&b.key)).then(a.key.cmp(&b.key)));
    if let Some(n) = m.top {
        let badness = |v: f64| {
            if v.is_nan() {
                f64::NEG_INFINITY
            } else if m.bad == Bad::Above {
                v
            } else {
                -v
            }
        };
        parts.sort_by(|a, b| badness(b.value).total_cmp(&badness(a.value)));
        parts.truncate(n);
    }
}

/// A range answer as one sparkline: the single series, or the worst of the shown ones at
/// each step (a split gauge's history is that of its worst part).
pub fn history_for(m: &Metric, series: Vec<Points>) -> Result<Vec<f64>, String> {
    let series: Vec<Points> = series
        .into_iter()
        .filter(|s| picked(m, &s.labels))
        .collect();
    if m.split_by.is_none() && series.len() > 1 {
        return Err(format!(
            "the query returned {} series; a gauge shows one",
            series.len()
        ));
    }
    let mut by_time: BTreeMap<i64, f64> = BTreeMap::new();
    for s in &series {
        for &(t, v) in &s.points {
            let e = by_time.entry(t).or_insert(f64::NAN);
            *e = worse(m, *e, v);
        }
    }
    Ok(by_time.into_values().collect())
}

/// One gauge for the poller: its definition and how far back its sparkline reaches.
#[derive(Debug, Clone)]
pub struct Gauge {
    pub metric: Metric,
    pub points: usize,
}

/// Fill the sparklines (at the `refresh` step), then query every gauge each round,
/// sending each answer as it arrives. At most [`CONCURRENCY`] queries run at once, each
/// bounded by the timeout, so a slow Prometheus delays only the gauges' next answers,
/// never the screen.
pub fn spawn_poller(
    prom: Prom,
    gauges: Vec<Gauge>,
    refresh: Duration,
    mut rounds: crate::beat::Rounds,
    tx: UnboundedSender<Event>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let end = Utc::now();
        let backfills = futures::stream::iter(gauges.clone().into_iter().enumerate())
            .map(|(i, g)| {
                let prom = prom.clone();
                let n = g.points.clamp(1, HISTORY) as u32;
                // `check` bounds the refresh; a runbook that skipped it must still not
                // overflow here: at worst the history starts now.
                let start = chrono::Duration::from_std(refresh.saturating_mul(n))
                    .ok()
                    .and_then(|span| end.checked_sub_signed(span))
                    .unwrap_or(end);
                async move {
                    let r = prom.range(&g.metric.query, start, end, refresh).await;
                    (i, r.and_then(|s| history_for(&g.metric, s)))
                }
            })
            .buffer_unordered(CONCURRENCY);
        let results: Vec<_> = backfills.collect().await;
        for (index, r) in results {
            match r {
                Ok(points) => {
                    if tx.send(Event::Backfill { index, points }).is_err() {
                        return;
                    }
                }
                Err(e) => log::info!(
                    "sparkline history for {} not loaded: {e}",
                    gauges[index].metric.id
                ),
            }
        }
        while rounds.next().await.is_some() {
            // Each query holds the gauges by reference count: a round copies no gauge.
            let mut answers = futures::stream::iter(0..gauges.len())
                .map(|i| {
                    let (prom, gauges) = (prom.clone(), gauges.clone());
                    async move {
                        let m = &gauges[i].metric;
                        let r = prom.instant(&m.query).await;
                        (i, r.map(|a| reading_for(m, a)))
                    }
                })
                .buffer_unordered(CONCURRENCY);
            while let Some((index, r)) = answers.next().await {
                let reading = match r {
                    Ok(r) => r,
                    Err(e) => Reading::Error(e),
                };
                if let Reading::Error(e) = &reading {
                    log::warn!(
                        "gauge {}: query {:?} failed: {e}",
                        gauges[index].metric.id,
                        gauges[index].metric.query
                    );
                }
                if tx
                    .send(Event::Metric {
                        index,
                        at: Utc::now(),
                        reading,
                    })
                    .is_err()
                {
                    return;
                }
            }
        }
    })
}

pub mod triggers;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
        let a = Auth::Basic {
            username: "u".into(),
            password: s,
        };
        assert!(!format!("{a:?}").contains("hunter2"));
    }
}
