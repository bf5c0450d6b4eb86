//! The Prometheus HTTP API over the simulator's metrics: `/api/v1/query`,
//! `/api/v1/query_range`, the `/metrics` expositions and the health endpoints, with
//! Prometheus' parameters, JSON shapes, number formatting and error wording, so the
//! console's Prometheus client (and `promtool`, Grafana, curl) can't tell it apart.

use std::error::Error as StdError;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::metrics::MetricsSim;
use super::promql::{self, EvalError, Value, format_value};
use super::tsdb::Labels;

/// Queries are a few hundred bytes; this only stops a runaway client.
const MAX_BODY_BYTES: usize = 1 << 20;

const EXPOSITION_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Answer one request, evaluating queries without `time` at the wall clock, as
/// Prometheus does.
pub async fn handle(
    req: Request<Incoming>,
    metrics: Arc<Mutex<MetricsSim>>,
) -> Response<Full<Bytes>> {
    handle_at(req, metrics, now_ms()).await
}

/// [`handle`] with the clock passed in, for a simulation whose time isn't the wall
/// clock's (and for tests).
pub async fn handle_at<B>(
    req: Request<B>,
    metrics: Arc<Mutex<MetricsSim>>,
    now_ms: i64,
) -> Response<Full<Bytes>>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    match path.as_str() {
        "/api/v1/query" | "/api/v1/query_range" => {
            if method != Method::GET && method != Method::POST {
                return method_not_allowed(&method, &path);
            }
            let params = match Params::read(req).await {
                Ok(p) => p,
                Err(msg) => return error(ApiError::bad_data(msg)),
            };
            // Evaluate under the lock, but never hold it across an await.
            let result = {
                let sim = lock(&metrics);
                if path == "/api/v1/query" {
                    instant_query(&sim, &params, now_ms)
                } else {
                    range_query(&sim, &params)
                }
            };
            match result {
                Ok(data) => json(
                    StatusCode::OK,
                    format!(r#"{{"status":"success","data":{data}}}"#),
                ),
                Err(e) => error(e),
            }
        }
        // The first service's pods' metrics at `/metrics`, every service's at
        // `/metrics/<app>`: a Prometheus scrapes each as a job of its own.
        "/metrics" if method == Method::GET => exposition(lock(&metrics).exposition()),
        p if p.starts_with("/metrics/") && method == Method::GET => {
            let app = &p["/metrics/".len()..];
            let text = lock(&metrics).exposition_of(app);
            match text {
                Some(text) => exposition(text),
                None => error(ApiError {
                    status: StatusCode::NOT_FOUND,
                    kind: "not_found",
                    message: format!("no service with app {app:?} in the scenario"),
                }),
            }
        }
        "/-/ready" | "/-/healthy" if method == Method::GET || method == Method::HEAD => {
            let text = if path == "/-/ready" {
                "Prometheus Server is Ready.\n"
            } else {
                "Prometheus Server is Healthy.\n"
            };
            let body = if method == Method::HEAD { "" } else { text };
            let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
            resp.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            resp
        }
        "/metrics" | "/-/ready" | "/-/healthy" => method_not_allowed(&method, &path),
        p if p.starts_with("/metrics/") => method_not_allowed(&method, &path),
        _ => error(ApiError {
            status: StatusCode::NOT_FOUND,
            kind: "not_found",
            message: format!("no such endpoint: {path}"),
        }),
    }
}

fn exposition(text: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(text)));
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(EXPOSITION_CONTENT_TYPE),
    );
    resp
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A panic elsewhere while holding the lock leaves the metrics readable; serving them
/// beats failing every later request.
fn lock(metrics: &Mutex<MetricsSim>) -> MutexGuard<'_, MetricsSim> {
    metrics
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiError {
    fn bad_data(message: String) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "bad_data",
            message,
        }
    }

    fn invalid_param(name: &str, msg: impl std::fmt::Display) -> Self {
        Self::bad_data(format!("invalid parameter \"{name}\": {msg}"))
    }

    /// How Prometheus reports a query that failed to parse or to run.
    fn from_eval(e: EvalError) -> Self {
        match e {
            EvalError::BadData(msg) => Self::invalid_param("query", msg),
            EvalError::Unsupported(message) | EvalError::Execution(message) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                kind: "execution",
                message,
            },
        }
    }
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn error(e: ApiError) -> Response<Full<Bytes>> {
    json(
        e.status,
        format!(
            r#"{{"status":"error","errorType":"{}","error":{}}}"#,
            e.kind,
            json_string(&e.message)
        ),
    )
}

fn method_not_allowed(method: &Method, path: &str) -> Response<Full<Bytes>> {
    error(ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        kind: "bad_data",
        message: format!("method {method} is not allowed for {path}"),
    })
}

/// Request parameters the way Go's `Request.FormValue` sees them: a form-encoded POST
/// body first, then the URL query; the first value of a name wins.
struct Params(Vec<(String, String)>);

impl Params {
    async fn read<B>(req: Request<B>) -> Result<Params, String>
    where
        B: Body,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        let mut pairs = Vec::new();
        let query = req.uri().query().unwrap_or("").to_string();
        let is_form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if req.method() == Method::POST && is_form {
            let body = Limited::new(req.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| format!("error reading the request body: {e}"))?
                .to_bytes();
            parse_form(&String::from_utf8_lossy(&body), &mut pairs);
        }
        parse_form(&query, &mut pairs);
        Ok(Params(pairs))
    }

    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// `application/x-www-form-urlencoded` pairs, as Go's `url.ParseQuery` reads them; a
/// malformed pair is skipped, the rest are kept.
fn parse_form(s: &str, out: &mut Vec<(String, String)>) {
    for pair in s.split('&') {
        // Go (since 1.17) rejects `;` as a separator and drops such a pair.
        if pair.is_empty() || pair.contains(';') {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if let (Some(k), Some(v)) = (percent_decode(k), percent_decode(v)) {
            out.push((k, v));
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    // The parser reports a bad character with its position; don't refuse here.
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn query_param(params: &Params) -> Result<&str, ApiError> {
    match params.get("query") {
        // What Prometheus' parser says about an empty query.
        "" => Err(ApiError::invalid_param(
            "query",
            "1:1: parse error: no expression found in input",
        )),
        q => Ok(q),
    }
}

fn instant_query(sim: &MetricsSim, params: &Params, now_ms: i64) -> Result<String, ApiError> {
    let t_ms = match params.get("time") {
        "" => now_ms,
        s => parse_time(s).map_err(|e| ApiError::invalid_param("time", e))?,
    };
    let query = query_param(params)?;
    let value = promql::instant(sim.tsdb(), query, t_ms).map_err(ApiError::from_eval)?;
    Ok(result_json(&value))
}

fn range_query(sim: &MetricsSim, params: &Params) -> Result<String, ApiError> {
    // Prometheus' checks, in its order and words.
    let start = parse_time(params.get("start")).map_err(|e| ApiError::invalid_param("start", e))?;
    let end = parse_time(params.get("end")).map_err(|e| ApiError::invalid_param("end", e))?;
    if end < start {
        return Err(ApiError::bad_data(
            "end timestamp must not be before start time".into(),
        ));
    }
    let step =
        parse_duration(params.get("step")).map_err(|e| ApiError::invalid_param("step", e))?;
    if step <= 0 {
        return Err(ApiError::bad_data(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
                .into(),
        ));
    }
    if (end - start) / step > promql::MAX_POINTS {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
        ));
    }
    let query = query_param(params)?;
    let value = promql::range(sim.tsdb(), query, start, end, step).map_err(ApiError::from_eval)?;
    Ok(result_json(&value))
}

/// A time as unix seconds (fraction rounded to milliseconds) or RFC 3339, like
/// Prometheus' `parseTime`; milliseconds since the epoch.
fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>() {
        if f.is_finite() && f.abs() < 9.2e15 {
            let secs = f.trunc();
            let millis = ((f - secs) * 1000.0).round();
            return Ok(secs as i64 * 1000 + millis as i64);
        }
    } else if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    Err(format!("cannot parse {s:?} to a valid timestamp"))
}

/// A step as seconds (`15`, `0.5`) or a Prometheus duration (`15s`, `1m30s`), like
/// Prometheus' `parseDuration`; whole milliseconds, truncated as Prometheus does.
fn parse_duration(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>() {
        let ns = f * 1e9;
        if !ns.is_finite() || ns >= i64::MAX as f64 || ns <= i64::MIN as f64 {
            return Err(format!(
                "cannot parse {s:?} to a valid duration. It overflows int64"
            ));
        }
        return Ok(ns as i64 / 1_000_000);
    }
    promql_parser::util::parse_duration(s)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .ok_or_else(|| format!("cannot parse {s:?} to a valid duration"))
}

/// The `data` object of a successful query.
fn result_json(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Scalar { t_ms, v } => {
            out.push_str(r#"{"resultType":"scalar","result":"#);
            out.push_str(&point_json(*t_ms, *v));
        }
        Value::Vector(samples) => {
            out.push_str(r#"{"resultType":"vector","result":["#);
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&format!(
                    r#"{{"metric":{},"value":{}}}"#,
                    labels_json(&s.labels),
                    point_json(s.t_ms, s.v)
                ));
            }
            out.push(']');
        }
        Value::Matrix(series) => {
            out.push_str(r#"{"resultType":"matrix","result":["#);
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let points: Vec<String> = s.points.iter().map(|&(t, v)| point_json(t, v)).collect();
                out.push_str(&format!(
                    r#"{{"metric":{},"values":[{}]}}"#,
                    labels_json(&s.labels),
                    points.join(",")
                ));
            }
            out.push(']');
        }
    }
    out.push('}');
    out
}

fn point_json(t_ms: i64, v: f64) -> String {
    format!(
        "[{},{}]",
        format_timestamp(t_ms),
        json_string(&format_value(v))
    )
}

fn labels_json(labels: &Labels) -> String {
    serde_json::to_string(labels).unwrap_or_else(|_| "{}".into())
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Prometheus' `jsonutil.MarshalTimestamp`: seconds, and if there is a fraction, all
/// three millisecond digits (`1700000000.500`).
fn format_timestamp(t_ms: i64) -> String {
    let sign = if t_ms < 0 { "-" } else { "" };
    let abs = t_ms.unsigned_abs();
    match abs % 1000 {
        0 => format!("{sign}{}", abs / 1000),
        frac => format!("{sign}{}.{frac:03}", abs / 1000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::metrics::PodSample;

    const T: f64 = 1_700_000_000.0;

    fn sim() -> Arc<Mutex<MetricsSim>> {
        let yaml = r#"
name: api
namespace: erp-production
app: erp-backend
stable: {name: erp-backend, image: "r/erp-backend:v1", replicas: 1, track: stable}
canary: {name: erp-backend-canary, image: "r/erp-backend:v2", replicas: 0, track: canary}
versions:
  v1: {error_rate: 0.01, latency_p50_ms: 100, latency_p95_ms: 300, cpu: 0.5, memory: 0.5}
traffic: {rps: 100, orders_per_min: 60, active_users: 1250}
"#;
        let scenario = crate::runbook::parse_scenario(yaml).unwrap();
        let mut sim = MetricsSim::new(&scenario);
        let pods = [PodSample {
            name: "erp-backend-a".into(),
            app: "erp-backend".into(),
            track: "stable".into(),
            version: "v1".into(),
            ready: true,
            restarts: 0,
        }];
        for i in 1..=60 {
            sim.step(T + i as f64, 1.0, &pods);
        }
        Arc::new(Mutex::new(sim))
    }

    async fn call(req: Request<Full<Bytes>>) -> (StatusCode, String, String) {
        let resp = handle_at(req, sim(), (T as i64 + 60) * 1000).await;
        let status = resp.status();
        let ctype = resp
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, ctype, String::from_utf8(body.to_vec()).unwrap())
    }

    async fn get(uri: &str) -> (StatusCode, String, String) {
        call(Request::get(uri).body(Full::new(Bytes::new())).unwrap()).await
    }

    async fn post(uri: &str, form: &str) -> (StatusCode, String, String) {
        let req = Request::post(uri)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(form.to_string())))
            .unwrap();
        call(req).await
    }

    const USERS: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"erp_active_users","instance":"sim","job":"erp-backend","namespace":"erp-production"},"value":[1700000059.500,"1250"]}]}}"#;

    #[tokio::test]
    async fn instant_query_answers_in_prometheus_json() {
        let (status, ctype, body) =
            get("/api/v1/query?query=erp_active_users&time=1700000059.5").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ctype, "application/json");
        assert_eq!(body, USERS);

        // The same as a form POST, with percent-encoding, and as RFC 3339 time.
        let (_, _, body) = post(
            "/api/v1/query",
            "query=erp_active_users%7Bnamespace%3D%22erp-production%22%7D&time=2023-11-14T22%3A14%3A19.5Z",
        )
        .await;
        assert_eq!(body, USERS);

        // Without `time`, the handler's clock; whole seconds have no fraction.
        let (_, _, body) = get("/api/v1/query?query=erp_active_users").await;
        assert!(body.contains(r#""value":[1700000060,"1250"]"#), "{body}");

        let (_, _, body) = get("/api/v1/query?query=1+%2B+1&time=1700000000").await;
        assert_eq!(
            body,
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"2"]}}"#
        );
        let (_, _, body) = get("/api/v1/query?query=nothing_here").await;
        assert_eq!(
            body,
            r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#
        );
    }

    #[tokio::test]
    async fn the_error_ratio_query_works_end_to_end() {
        let q = "sum(rate(http_requests_total{job=\"erp-backend\",code=~\"5..\"}[5m])) / sum(rate(http_requests_total{job=\"erp-backend\"}[5m]))";
        let form = format!("query={}", q.replace('+', "%2B").replace(' ', "+"));
        let (status, _, body) = post("/api/v1/query", &form).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        let v: f64 = json["data"]["result"][0]["value"][1]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((v - 0.01).abs() < 1e-6, "{v}");
    }

    #[tokio::test]
    async fn range_query_returns_a_matrix() {
        let (status, _, body) = get(
            "/api/v1/query_range?query=erp_active_users&start=1700000030&end=1700000060&step=15s",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body,
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"erp_active_users","instance":"sim","job":"erp-backend","namespace":"erp-production"},"values":[[1700000030,"1250"],[1700000045,"1250"],[1700000060,"1250"]]}]}}"#
        );
        let (_, _, body) =
            get("/api/v1/query_range?query=2&start=1700000030&end=1700000031&step=0.5").await;
        assert!(
            body.contains(r#""values":[[1700000030,"2"],[1700000030.500,"2"],[1700000031,"2"]]"#),
            "{body}"
        );
    }

    async fn expect_error(uri: &str, status: StatusCode, kind: &str, message: &str) {
        let (got, ctype, body) = get(uri).await;
        assert_eq!(got, status, "{uri}: {body}");
        assert_eq!(ctype, "application/json");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["status"], "error", "{body}");
        assert_eq!(json["errorType"], kind, "{body}");
        let error = json["error"].as_str().unwrap();
        assert!(error.starts_with(message), "{uri}: {error}");
    }

    #[tokio::test]
    async fn errors_look_like_prometheus_errors() {
        let bad = StatusCode::BAD_REQUEST;
        expect_error(
            "/api/v1/query?query=sum(rate(x%5B5m%5D)",
            bad,
            "bad_data",
            "invalid parameter \"query\": ",
        )
        .await;
        expect_error(
            "/api/v1/query",
            bad,
            "bad_data",
            "invalid parameter \"query\": 1:1: parse error: no expression found in input",
        )
        .await;
        expect_error(
            "/api/v1/query?query=up&time=yesterday",
            bad,
            "bad_data",
            "invalid parameter \"time\": cannot parse \"yesterday\" to a valid timestamp",
        )
        .await;
        expect_error(
            "/api/v1/query?query=predict_linear(x%5B5m%5D,60)",
            StatusCode::UNPROCESSABLE_ENTITY,
            "execution",
            "unsupported PromQL: function \"predict_linear\" is not implemented by the simulator",
        )
        .await;
        expect_error(
            "/api/v1/query_range?query=up&end=1&step=1",
            bad,
            "bad_data",
            "invalid parameter \"start\": cannot parse \"\" to a valid timestamp",
        )
        .await;
        expect_error(
            "/api/v1/query_range?query=up&start=2&end=1&step=1",
            bad,
            "bad_data",
            "end timestamp must not be before start time",
        )
        .await;
        expect_error(
            "/api/v1/query_range?query=up&start=1&end=2&step=fast",
            bad,
            "bad_data",
            "invalid parameter \"step\": cannot parse \"fast\" to a valid duration",
        )
        .await;
        expect_error(
            "/api/v1/query_range?query=up&start=1&end=2&step=-1",
            bad,
            "bad_data",
            "zero or negative query resolution step widths are not accepted",
        )
        .await;
        expect_error(
            "/api/v1/query_range?query=up&start=0&end=100000&step=1",
            bad,
            "bad_data",
            "exceeded maximum resolution of 11,000 points",
        )
        .await;
        expect_error(
            "/api/v1/query_range?query=up%5B5m%5D&start=1&end=2&step=1",
            bad,
            "bad_data",
            "invalid parameter \"query\": invalid expression type \"range vector\" for range query",
        )
        .await;
        expect_error(
            "/api/v1/labels",
            StatusCode::NOT_FOUND,
            "not_found",
            "no such endpoint",
        )
        .await;
    }

    #[tokio::test]
    async fn metrics_and_health_endpoints() {
        let (status, ctype, body) = get("/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ctype, "text/plain; version=0.0.4; charset=utf-8");
        assert!(
            body.contains("# TYPE http_requests_total counter\n"),
            "{body}"
        );
        for path in ["/-/ready", "/-/healthy"] {
            let (status, _, body) = get(path).await;
            assert_eq!(status, StatusCode::OK);
            assert!(body.starts_with("Prometheus Server is"));
        }
        let req = Request::delete("/api/v1/query")
            .body(Full::new(Bytes::new()))
            .unwrap();
        assert_eq!(call(req).await.0, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn forms_decode_like_go() {
        let mut out = Vec::new();
        parse_form(
            "a=1+2%2B3&b=%7Bx%3D%22y%22%7D&bad=%zz&semi=1;2&c&=v&a=second",
            &mut out,
        );
        let got: Vec<(&str, &str)> = out.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            got,
            vec![
                ("a", "1 2+3"),
                ("b", "{x=\"y\"}"),
                ("c", ""),
                ("", "v"),
                ("a", "second")
            ]
        );
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%+1"), None);
    }

    #[test]
    fn times_and_durations_parse_like_prometheus() {
        assert_eq!(parse_time("1700000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_time("1700000000.1234"), Ok(1_700_000_000_123));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000));
        assert_eq!(
            parse_time("2023-11-14T23:13:20.25+01:00"),
            Ok(1_700_000_000_250)
        );
        assert!(parse_time("").is_err());
        assert!(parse_time("NaN").is_err());
        assert_eq!(parse_duration("15"), Ok(15_000));
        assert_eq!(parse_duration("0.25"), Ok(250));
        assert_eq!(parse_duration("1m30s"), Ok(90_000));
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert!(parse_duration("15x").is_err());
    }

    #[test]
    fn timestamps_are_written_like_prometheus() {
        assert_eq!(format_timestamp(1_700_000_000_123), "1700000000.123");
        assert_eq!(format_timestamp(1_700_000_000_500), "1700000000.500");
        assert_eq!(format_timestamp(1_700_000_000_050), "1700000000.050");
        assert_eq!(format_timestamp(1_700_000_000_005), "1700000000.005");
        assert_eq!(format_timestamp(1_700_000_000_000), "1700000000");
        assert_eq!(format_timestamp(-1_500), "-1.500");
        assert_eq!(point_json(1000, f64::NAN), r#"[1,"NaN"]"#);
        assert_eq!(point_json(1000, f64::NEG_INFINITY), r#"[1,"-Inf"]"#);
        assert_eq!(point_json(1000, 1e-7), r#"[1,"1e-07"]"#);
    }
}
