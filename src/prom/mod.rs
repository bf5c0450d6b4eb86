//! The Prometheus HTTP API client and the gauge poller. The poller owns its I/O and sends
//! readings as events; a slow or dead Prometheus delays only its own gauges.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;

use crate::event::Event;
use crate::state::metrics::Reading;

/// At most this many queries in flight at once.
const CONCURRENCY: usize = 4;

#[derive(Clone)]
pub struct Prom {
    http: reqwest::Client,
    base: String,
    timeout: Duration,
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
    result: Value,
}

/// One answer to an instant query.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Value { value: f64, at: DateTime<Utc> },
    NoData,
}

impl Prom {
    pub fn new(base: &str, timeout: Duration) -> Result<Prom, String> {
        crate::install_crypto();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Prom {
            http,
            base: base.trim_end_matches('/').to_string(),
            timeout,
        })
    }

    async fn get(&self, path: &str, params: &[(&str, String)]) -> Result<Data, String> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .http
            .get(&url)
            .query(params)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    format!(
                        "Prometheus did not answer within {}s",
                        self.timeout.as_secs_f64()
                    )
                } else if e.is_connect() {
                    format!("cannot reach Prometheus at {}", self.base)
                } else {
                    format!("request to Prometheus failed: {e}")
                }
            })?;
        let code = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| format!("reading Prometheus' answer failed: {e}"))?;
        let parsed: ApiResponse = match serde_json::from_slice(&body) {
            Ok(p) => p,
            Err(_) if !code.is_success() => return Err(format!("Prometheus answered HTTP {code}")),
            Err(e) => {
                return Err(format!(
                    "Prometheus answered with something that is not its JSON API ({e})"
                ));
            }
        };
        if parsed.status != "success" {
            let kind = parsed.error_type.unwrap_or_else(|| "error".into());
            let msg = parsed.error.unwrap_or_default();
            return Err(match kind.as_str() {
                "bad_data" => format!("the query is not valid PromQL: {msg}"),
                "timeout" => format!("Prometheus timed out evaluating the query: {msg}"),
                "execution" => format!("Prometheus could not evaluate the query: {msg}"),
                _ => format!("Prometheus {kind} (HTTP {code}): {msg}"),
            });
        }
        parsed
            .data
            .ok_or_else(|| "Prometheus answered success without data".into())
    }

    pub async fn instant(&self, query: &str) -> Result<Answer, String> {
        let data = self
            .get("/api/v1/query", &[("query", query.to_string())])
            .await?;
        match data.result_type.as_str() {
            "scalar" => {
                let (at, v) = sample(&data.result)?;
                Ok(Answer::Value { value: v, at })
            }
            "vector" => {
                let series = data
                    .result
                    .as_array()
                    .ok_or("a vector result that is not a list")?;
                match series.len() {
                    0 => Ok(Answer::NoData),
                    1 => {
                        let (at, v) = sample(&series[0]["value"])?;
                        Ok(Answer::Value { value: v, at })
                    }
                    n => Err(format!(
                        "the query returned {n} series; a gauge shows one: aggregate it, e.g. sum(...)"
                    )),
                }
            }
            other => Err(format!(
                "the query returned a {other}; a gauge needs an instant vector or a scalar"
            )),
        }
    }

    /// Values of a range query, oldest first (one series, as for `instant`).
    pub async fn range(
        &self,
        query: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Duration,
    ) -> Result<Vec<f64>, String> {
        let secs = |t: DateTime<Utc>| format!("{:.3}", t.timestamp_millis() as f64 / 1000.0);
        let data = self
            .get(
                "/api/v1/query_range",
                &[
                    ("query", query.to_string()),
                    ("start", secs(start)),
                    ("end", secs(end)),
                    ("step", format!("{}", step.as_secs_f64())),
                ],
            )
            .await?;
        let series = data
            .result
            .as_array()
            .ok_or("a range result that is not a list")?;
        if series.len() > 1 {
            return Err(format!(
                "the query returned {} series; aggregate it, e.g. sum(...)",
                series.len()
            ));
        }
        let Some(s) = series.first() else {
            return Ok(Vec::new());
        };
        s["values"]
            .as_array()
            .ok_or("a matrix without values")?
            .iter()
            .map(|p| sample(p).map(|(_, v)| v))
            .collect()
    }
}

/// `[unix_seconds, "value"]` → (time, value); values may be "NaN", "+Inf", "-Inf".
fn sample(v: &Value) -> Result<(DateTime<Utc>, f64), String> {
    let t = v
        .get(0)
        .and_then(Value::as_f64)
        .ok_or("a sample without a time")?;
    let s = v
        .get(1)
        .and_then(Value::as_str)
        .ok_or("a sample without a value")?;
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

/// Fill the sparklines, then query every gauge each `refresh`, sending each answer as it
/// arrives.
pub fn spawn_poller(
    prom: Prom,
    queries: Vec<String>,
    refresh: Duration,
    tx: UnboundedSender<Event>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let end = Utc::now();
        let start = end
            - chrono::Duration::from_std(refresh * crate::state::metrics::HISTORY as u32)
                .unwrap_or_default();
        let backfills = futures::stream::iter(queries.clone().into_iter().enumerate())
            .map(|(i, q)| {
                let prom = prom.clone();
                async move { (i, prom.range(&q, start, end, refresh).await) }
            })
            .buffer_unordered(CONCURRENCY);
        let results: Vec<_> = backfills.collect().await;
        for (index, r) in results {
            if let Ok(points) = r
                && tx.send(Event::Backfill { index, points }).is_err()
            {
                return;
            }
        }
        let mut tick = tokio::time::interval(refresh);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let mut answers = futures::stream::iter(queries.clone().into_iter().enumerate())
                .map(|(i, q)| {
                    let prom = prom.clone();
                    async move { (i, prom.instant(&q).await) }
                })
                .buffer_unordered(CONCURRENCY);
            while let Some((index, r)) = answers.next().await {
                let reading = match r {
                    Ok(Answer::Value { value, at }) => Reading::Value { value, at },
                    Ok(Answer::NoData) => Reading::NoData,
                    Err(e) => {
                        log::warn!("query {:?} failed: {e}", queries[index]);
                        Reading::Error(e)
                    }
                };
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
