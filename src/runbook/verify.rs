//! `verify:` on a checklist item: a fact the console checks itself, with its evidence,
//! instead of a box the lead ticks by hand. The schema and its validation live here; the
//! pure verdicts in `state::verify`, the probes that need I/O in `probe`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::locate::Seg;
use super::{Dur, Runbook, Unit};

/// Exactly one of `gauge`, `promql`, `kube` or `http`, with what it needs.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    /// A gauge of the runbook, by id: its fresh value against `above:`/`below:`.
    #[serde(default)]
    pub gauge: Option<String>,
    /// A PromQL expression, asked of Prometheus as an instant query: every series it
    /// returns against `above:`/`below:`.
    #[serde(default)]
    pub promql: Option<String>,
    /// A fact about the cluster.
    #[serde(default)]
    pub kube: Option<KubeCheck>,
    /// An HTTP request and what its answer must be.
    #[serde(default)]
    pub http: Option<HttpCheck>,
    /// With `gauge`/`promql`: the value must be above this (`90%`, `2s`, `500ms`, or a
    /// number in the query's own unit).
    #[serde(default)]
    pub above: Option<Bound>,
    #[serde(default)]
    pub below: Option<Bound>,
    /// With a split `gauge`: which series, by label (default: every part shown).
    #[serde(default)]
    pub series: BTreeMap<String, String>,
    /// With `kube: available | pods_ready | no_restarts | image`: which Deployment,
    /// `stable` or `canary` (default: those that should serve at this stage).
    #[serde(default)]
    pub deployment: Option<Track>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Track {
    Stable,
    Canary,
}

/// A bound as written: a number, or a number with its unit.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Bound {
    Number(f64),
    Text(String),
}

/// What the console reads from the cluster to settle an item: a word
/// (`kube: pods_ready`) or a map of one key (`kube: {exists: {kind: Secret, name: tls}}`).
#[derive(Debug, Clone, PartialEq)]
pub enum KubeCheck {
    /// The Deployment's rollout is complete and every replica available.
    Available,
    /// Every pod of the Deployment's current ReplicaSet is ready, as many as it wants.
    PodsReady,
    /// No container of the Deployment's pods restarted since the stage began.
    NoRestarts,
    /// The Deployment runs the release's version: its image's tag is `release.version`.
    Image,
    /// An object exists (read by its metadata only: a Secret's data is never fetched).
    Exists(Exists),
    /// The API server's version is at least this (`"1.25"`, in quotes: 1.30 is not 1.3).
    Version(Bound),
    /// The Ready nodes' allocatable resources, summed, are at least these.
    Nodes(Nodes),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exists {
    pub kind: ObjectKind,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nodes {
    /// Cores.
    #[serde(default)]
    pub cpu: Option<f64>,
    /// `16Gi`, `16G`, `512Mi`…
    #[serde(default)]
    pub memory: Option<String>,
}

const KUBE_WORDS: &[&str] = &["available", "pods_ready", "no_restarts", "image"];
const KUBE_KEYS: &[&str] = &["exists", "version", "nodes"];

impl<'de> Deserialize<'de> for KubeCheck {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = KubeCheck;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "one of available, pods_ready, no_restarts, image, or a map with one of exists, version, nodes",
                )
            }
            fn visit_str<E: serde::de::Error>(self, w: &str) -> Result<KubeCheck, E> {
                Ok(match w {
                    "available" => KubeCheck::Available,
                    "pods_ready" => KubeCheck::PodsReady,
                    "no_restarts" => KubeCheck::NoRestarts,
                    "image" => KubeCheck::Image,
                    _ => return Err(E::unknown_variant(w, KUBE_WORDS)),
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<KubeCheck, A::Error> {
                use serde::de::Error;
                let Some(key) = m.next_key::<String>()? else {
                    return Err(A::Error::custom(
                        "the map is empty: write one of exists, version or nodes",
                    ));
                };
                let out = match key.as_str() {
                    "exists" => KubeCheck::Exists(m.next_value()?),
                    "version" => KubeCheck::Version(m.next_value()?),
                    "nodes" => KubeCheck::Nodes(m.next_value()?),
                    k => return Err(A::Error::unknown_field(k, KUBE_KEYS)),
                };
                if let Some(k) = m.next_key::<String>()? {
                    return Err(A::Error::custom(format!(
                        "`{k}`: one check per item; give each its own item"
                    )));
                }
                Ok(out)
            }
        }
        d.deserialize_any(V)
    }
}

impl KubeCheck {
    /// Settled from the watches the console already has, without a request of its own.
    pub fn watched(&self) -> bool {
        matches!(
            self,
            KubeCheck::Available | KubeCheck::PodsReady | KubeCheck::NoRestarts | KubeCheck::Image
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ObjectKind {
    ConfigMap,
    Secret,
    Deployment,
    ReplicaSet,
}

impl ObjectKind {
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::ConfigMap => "ConfigMap",
            ObjectKind::Secret => "Secret",
            ObjectKind::Deployment => "Deployment",
            ObjectKind::ReplicaSet => "ReplicaSet",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    /// May name environment variables, `https://${ERP_HOST}/health`: a runbook serves
    /// several environments, and the console probes nothing until they are set.
    pub url: String,
    /// The status the answer must have (default: any 2xx).
    #[serde(default)]
    pub status: Option<u16>,
    /// The whole answer must arrive within this (default: 10s, the probe's own limit).
    #[serde(default)]
    pub within: Option<Bound>,
    /// Text the body must contain.
    #[serde(default)]
    pub contains: Option<String>,
    /// Headers the answer must carry (e.g. `Strict-Transport-Security`).
    #[serde(default)]
    pub headers: Vec<String>,
    /// With https: the server's certificate must stay valid this many days more.
    #[serde(default)]
    pub cert_days: Option<u32>,
    /// With https: the PEM file of the CA that signed the server's certificate, when it
    /// is not a public one.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
}

impl Bound {
    /// As written in the runbook.
    pub fn text(&self) -> String {
        match self {
            Bound::Number(n) => n.to_string(),
            Bound::Text(t) => t.clone(),
        }
    }
}

/// How long an HTTP probe may take when the runbook does not say.
pub const DEFAULT_WITHIN: Dur = Dur::from_secs(10);

impl HttpCheck {
    /// The URL with its `${NAME}`s taken from `env`; the name of one that is not set.
    pub fn resolve(&self, env: impl Fn(&str) -> Option<String>) -> Result<String, String> {
        expand(&self.url, env)
    }

    pub fn within(&self) -> std::time::Duration {
        self.within
            .as_ref()
            .and_then(|b| b.seconds().ok())
            .map(std::time::Duration::from_secs_f64)
            .unwrap_or(DEFAULT_WITHIN.0)
    }
}

impl Bound {
    /// The bound in seconds (`2s`, `500ms`, or a number of seconds).
    pub fn seconds(&self) -> Result<f64, String> {
        match self {
            Bound::Number(n) => Ok(*n),
            Bound::Text(t) => match split_unit(t)? {
                (n, "ms") => Ok(n / 1000.0),
                (n, "s" | "") => Ok(n),
                (n, "m") => Ok(n * 60.0),
                (_, u) => Err(format!(
                    "`{t}` is not a time: unit `{u}`; write e.g. 2s or 500ms"
                )),
            },
        }
    }

    /// The bound in a gauge's own unit: `2s` is 2000 for a gauge in milliseconds, `90%`
    /// is 0.9 for a ratio. None for `promql`, whose unit is the query's.
    pub fn value(&self, unit: Option<Unit>) -> Result<f64, String> {
        let t = match self {
            Bound::Number(n) => return Ok(*n),
            Bound::Text(t) => t,
        };
        let (n, u) = split_unit(t)?;
        let time = |secs: f64| match unit {
            Some(Unit::Seconds) | None => Ok(secs),
            Some(Unit::Milliseconds) => Ok(secs * 1000.0),
            Some(u) => Err(format!(
                "`{t}` is a time, but the gauge is in {}: write a number in its unit",
                unit_name(u)
            )),
        };
        match u {
            "" => Ok(n),
            "ms" => time(n / 1000.0),
            "s" => time(n),
            "%" => match unit {
                Some(Unit::Percent) => Ok(n),
                Some(Unit::Ratio) => Ok(n / 100.0),
                Some(u) => Err(format!(
                    "`{t}` is a percentage, but the gauge is in {}: write a number in its unit",
                    unit_name(u)
                )),
                None => Err(format!(
                    "`{t}`: a PromQL expression has no unit the console knows; write the number the query returns (0.9 for a ratio of 90%)"
                )),
            },
            u => Err(format!(
                "`{t}`: unknown unit `{u}`; write a number, or one with %, s or ms"
            )),
        }
    }
}

fn unit_name(u: Unit) -> &'static str {
    match u {
        Unit::Percent => "percent",
        Unit::Ratio => "a ratio",
        Unit::Seconds => "seconds",
        Unit::Milliseconds => "milliseconds",
        Unit::ReqPerSec => "requests per second",
        Unit::Bytes => "bytes",
        Unit::Count => "a count",
        Unit::PerMin => "a count per minute",
    }
}

/// `2.5s` → (2.5, "s"); `90%` → (90, "%"); `12` → (12, "").
fn split_unit(t: &str) -> Result<(f64, &str), String> {
    let t = t.trim();
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(end);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{t}` is not a number with a unit: write e.g. 2s, 500ms or 90%"))?;
    Ok((n, unit.trim()))
}

/// Bytes in a Kubernetes quantity (`16Gi`, `16G`, `512Mi`, `1073741824`).
pub fn bytes(q: &str) -> Option<f64> {
    let q = q.trim();
    let end = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (num, unit) = q.split_at(end);
    let n: f64 = num.parse().ok()?;
    let mult = match unit {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(n * mult)
}

/// Cores in a Kubernetes CPU quantity (`8`, `7900m`).
pub fn cores(q: &str) -> Option<f64> {
    match q.trim().strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().ok().map(|m| m / 1000.0),
        None => q.trim().parse().ok(),
    }
}

/// `1.25` → (1, 25); also `v1.25.3`.
pub fn version(v: &str) -> Option<(u32, u32)> {
    let v = v.trim().trim_start_matches('v');
    let mut it = v.split('.');
    let major = it.next()?.parse().ok()?;
    let minor: String = it
        .next()?
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    Some((major, minor.parse().ok()?))
}

/// Everything wrong with one item's `verify:`, at `here(field)`.
pub fn validate(
    v: &Verify,
    rb: &Runbook,
    here: &dyn Fn(&str) -> Vec<Seg>,
    out: &mut Vec<(Vec<Seg>, String)>,
) {
    let kinds = [
        v.gauge.is_some(),
        v.promql.is_some(),
        v.kube.is_some(),
        v.http.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        out.push((
            here("verify"),
            "say what to verify with exactly one of `gauge:`, `promql:`, `kube:` or `http:`".into(),
        ));
        return;
    }
    let bounded = v.gauge.is_some() || v.promql.is_some();
    if bounded && v.above.is_some() == v.below.is_some() {
        out.push((
            here(if v.gauge.is_some() { "gauge" } else { "promql" }),
            "give exactly one of `above:` or `below:`: the value the check compares with".into(),
        ));
    }
    if !bounded && (v.above.is_some() || v.below.is_some()) {
        let k = if v.above.is_some() { "above" } else { "below" };
        out.push((
            here(k),
            format!("`{k}:` goes with `gauge:` or `promql:`; for http use `within:`"),
        ));
    }
    if !v.series.is_empty() && v.gauge.is_none() {
        out.push((
            here("series"),
            "`series:` picks a split gauge's part: it goes with `gauge:`".into(),
        ));
    }
    if v.deployment.is_some() && !v.kube.as_ref().is_some_and(KubeCheck::watched) {
        out.push((
            here("deployment"),
            "`deployment:` goes with `kube: available`, `pods_ready`, `no_restarts` or `image`"
                .into(),
        ));
    }
    if let Some(id) = &v.gauge {
        match rb.metrics.iter().find(|m| &m.id == id) {
            None => out.push((
                here("gauge"),
                format!(
                    "no gauge has id `{id}`: use one of {}",
                    super::list(rb.metrics.iter().map(|m| m.id.as_str()))
                ),
            )),
            Some(m) => {
                for (k, b) in [("above", &v.above), ("below", &v.below)] {
                    if let Some(b) = b
                        && let Err(e) = b.value(Some(m.unit))
                    {
                        out.push((here(k), e));
                    }
                }
                for (k, val) in &v.series {
                    if m.split_by.as_deref() != Some(k.as_str()) {
                        out.push((
                            here("series"),
                            format!(
                                "gauge `{id}` is not split by `{k}`: {}",
                                match &m.split_by {
                                    Some(by) => format!("write `series: {{{by}: {val}}}`"),
                                    None => "remove `series:`, it has one value".into(),
                                }
                            ),
                        ));
                    }
                }
            }
        }
    }
    if let Some(q) = &v.promql {
        if q.trim().is_empty() {
            out.push((
                here("promql"),
                "the expression is empty: write a PromQL expression".into(),
            ));
        } else if let Err(e) = promql_parser::parser::parse(q) {
            out.push((
                here("promql"),
                format!(
                    "the expression is not valid PromQL ({}): correct it; Prometheus would refuse it the same way",
                    e.trim()
                ),
            ));
        }
        for (k, b) in [("above", &v.above), ("below", &v.below)] {
            if let Some(b) = b
                && let Err(e) = b.value(None)
            {
                out.push((here(k), e));
            }
        }
    }
    match &v.kube {
        Some(KubeCheck::Version(Bound::Number(n))) => out.push((
            here("kube"),
            format!("write the version in quotes, `version: \"{n}\"`: as a number, 1.30 would read as 1.3"),
        )),
        Some(KubeCheck::Version(Bound::Text(want))) if version(want).is_none() => out.push((
            here("kube"),
            format!("`{want}` is not a Kubernetes version: write it as \"1.25\""),
        )),
        Some(KubeCheck::Nodes(Nodes { cpu, memory })) => {
            if cpu.is_none() && memory.is_none() {
                out.push((
                    here("kube"),
                    "say what the nodes must have: `cpu:` (cores) and/or `memory:` (e.g. 16Gi)"
                        .into(),
                ));
            }
            if let Some(m) = memory
                && bytes(m).is_none()
            {
                out.push((
                    here("kube"),
                    format!("`{m}` is not an amount of memory: write e.g. 16Gi or 512Mi"),
                ));
            }
        }
        Some(KubeCheck::Exists(Exists { name, .. })) if name.trim().is_empty() => out.push((
            here("kube"),
            "the object's name is empty: say which object must exist".into(),
        )),
        _ => {}
    }
    if let Some(h) = &v.http {
        if let Err(e) = check_http_url(&h.url) {
            out.push((here("http"), e));
        }
        if let Some(w) = &h.within
            && let Err(e) = w.seconds()
        {
            out.push((here("http"), e));
        }
        if h.status.is_some_and(|s| !(100..=599).contains(&s)) {
            out.push((
                here("http"),
                "`status:` is an HTTP status, from 100 to 599".into(),
            ));
        }
        if (h.cert_days.is_some() || h.ca_file.is_some())
            && !h.url.starts_with("https://")
            && !h.url.starts_with("${")
        {
            out.push((
                here("http"),
                "`cert_days:` and `ca_file:` need an https:// URL".into(),
            ));
        }
    }
}

/// `${NAME}` replaced by `env(NAME)`; Err(NAME) for the first that has no value.
pub fn expand(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[at..]);
            return Ok(out);
        };
        let name = &after[..end];
        match env(name).filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(&v),
            None => return Err(name.to_string()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Every `${NAME}` in `text` is a proper variable name, closed.
fn check_placeholders(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("`{text}`: `${{` is not closed: write ${{NAME}}"));
        };
        let name = &after[..end];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(format!(
                "`{text}`: `${{{name}}}` is not an environment variable's name: use capitals, digits and _, e.g. ${{ERP_HOST}}"
            ));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

fn check_http_url(u: &str) -> Result<(), String> {
    check_placeholders(u)?;
    // Checked with a stand-in for each variable: its value is only known at the probe.
    let stand_in = expand(u, |_| Some("example.invalid".into())).unwrap_or_default();
    if stand_in != u && !u.starts_with("${") {
        return check_http_url_plain(&stand_in).map_err(|e| e.replace(&stand_in, u));
    }
    if u.starts_with("${") {
        return Ok(());
    }
    check_http_url_plain(u)
}

fn check_http_url_plain(u: &str) -> Result<(), String> {
    let rest = u
        .strip_prefix("http://")
        .or_else(|| u.strip_prefix("https://"))
        .ok_or_else(|| {
            format!(
                "`{u}` is not an http:// or https:// URL: write e.g. https://erp.example.com/health"
            )
        })?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() {
        return Err(format!(
            "`{u}` has no host: write e.g. https://erp.example.com/health"
        ));
    }
    if host.contains('@') {
        return Err(format!(
            "`{u}` carries credentials: a probe's URL is shown in the log, so it must not hold any"
        ));
    }
    if host.contains(' ') {
        return Err(format!("`{u}` has a space in its host"));
    }
    Ok(())
}
