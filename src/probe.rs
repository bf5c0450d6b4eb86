//! The verifications that need a request of their own: a PromQL condition, a one-off read
//! of the cluster, an HTTP probe. A source like the others: it owns its I/O and answers
//! with `Event::Probed`; it never touches the state.

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::i18n::{tr, trf};
use crate::prom::{Answer, Prom};
use crate::runbook::verify::{Exists, HttpCheck, KubeCheck, Nodes, ObjectKind, bytes, cores};
use crate::runbook::{Lang, Verify};
use crate::state::verify::Outcome;

/// What a probe may use: the console's clients, when it has them.
#[derive(Clone, Default)]
pub struct Probes {
    pub kube: Option<kube::Client>,
    pub prom: Option<Prom>,
    pub namespace: String,
    /// The most a one-off read may take.
    pub timeout: Option<Duration>,
    /// The language the findings are written in.
    pub lang: Lang,
}

const READ_TIMEOUT: Duration = Duration::from_secs(10);

impl Probes {
    /// The verdict on one `verify:`: never a pass without the evidence that shows it.
    pub async fn run(&self, v: &Verify) -> Outcome {
        if let Some(q) = &v.promql {
            return self.promql(q, v).await;
        }
        if let Some(h) = &v.http {
            return http(h, self.lang).await;
        }
        match &v.kube {
            Some(k) => {
                let limit = self.timeout.unwrap_or(READ_TIMEOUT);
                match tokio::time::timeout(limit, self.kube(k)).await {
                    Ok(o) => o,
                    Err(_) => Outcome::unknown(trf(
                        self.lang,
                        "the Kubernetes API did not answer within {}s",
                        &[&limit.as_secs()],
                    )),
                }
            }
            None => Outcome::unknown(tr(self.lang, "nothing the console can probe").into()),
        }
    }

    async fn promql(&self, q: &str, v: &Verify) -> Outcome {
        let lang = self.lang;
        let Some(prom) = &self.prom else {
            return Outcome::unknown(
                tr(
                    lang,
                    "no Prometheus is configured (prometheus.url or --prometheus)",
                )
                .into(),
            );
        };
        let (above, bound) = match (&v.above, &v.below) {
            (Some(b), _) => (true, b.value(None)),
            (None, Some(b)) => (false, b.value(None)),
            _ => return Outcome::unknown(tr(lang, "no bound to compare with").into()),
        };
        let Ok(bound) = bound else {
            return Outcome::unknown(tr(lang, "the bound is not a number").into());
        };
        let values: Vec<(String, f64)> = match prom.instant(q).await {
            Err(e) => return Outcome::unknown(trf(lang, "the query fails: {}", &[&e])),
            Ok(Answer::Scalar { value, .. }) => vec![(String::new(), value)],
            Ok(Answer::Vector(v)) if v.is_empty() => {
                return Outcome::unknown(
                    tr(lang, "the query matched no series: no data is not a pass").into(),
                );
            }
            Ok(Answer::Vector(v)) => v
                .into_iter()
                .map(|s| {
                    let labels: Vec<String> = s
                        .labels
                        .iter()
                        .map(|(k, v)| format!("{k}=\"{v}\""))
                        .collect();
                    let name = if labels.is_empty() {
                        String::new()
                    } else {
                        format!("{{{}}} ", labels.join(","))
                    };
                    (name, s.value)
                })
                .collect(),
        };
        if values.iter().any(|(_, x)| x.is_nan()) {
            return Outcome::unknown(
                tr(lang, "the query returned NaN: no value to compare").into(),
            );
        }
        let (sym, not) = if above { (">", "≤") } else { ("<", "≥") };
        let ok = |x: f64| if above { x > bound } else { x < bound };
        let bad: Vec<String> = values
            .iter()
            .filter(|(_, x)| !ok(*x))
            .map(|(k, x)| format!("{k}{} {not} {}", num(*x), num(bound)))
            .collect();
        if bad.is_empty() {
            let seen: Vec<String> = values
                .iter()
                .take(3)
                .map(|(k, x)| format!("{k}{} {sym} {}", num(*x), num(bound)))
                .collect();
            let more = values.len().saturating_sub(3);
            let more = if more > 0 {
                trf(lang, " and {} more series", &[&more])
            } else {
                String::new()
            };
            Outcome::pass(format!("{}{more}", seen.join(lang.list())))
        } else {
            Outcome::fail(bad.join(lang.list()))
        }
    }

    async fn kube(&self, k: &KubeCheck) -> Outcome {
        let lang = self.lang;
        let Some(client) = &self.kube else {
            return Outcome::unknown(tr(lang, "no Kubernetes client is configured").into());
        };
        match k {
            KubeCheck::Version(want) => {
                let want = match want {
                    crate::runbook::verify::Bound::Text(t) => t.clone(),
                    crate::runbook::verify::Bound::Number(n) => n.to_string(),
                };
                let Some(min) = crate::runbook::verify::version(&want) else {
                    return Outcome::unknown(trf(lang, "`{}` is not a version", &[&want]));
                };
                match client.apiserver_version().await {
                    Err(e) => {
                        Outcome::unknown(trf(lang, "cannot read the server's version: {}", &[&e]))
                    }
                    Ok(info) => {
                        let got = crate::runbook::verify::version(&format!(
                            "{}.{}",
                            info.major,
                            info.minor.trim_end_matches('+')
                        ));
                        match got {
                            Some(g) if g >= min => Outcome::pass(trf(
                                lang,
                                "the API server runs {} (at least {})",
                                &[&info.git_version, &want],
                            )),
                            Some(_) => Outcome::fail(trf(
                                lang,
                                "the API server runs {}, older than {}",
                                &[&info.git_version, &want],
                            )),
                            None => Outcome::unknown(trf(
                                lang,
                                "the server's version `{}` cannot be read",
                                &[&info.git_version],
                            )),
                        }
                    }
                }
            }
            KubeCheck::Exists(Exists { kind, name }) => self.exists(client, *kind, name).await,
            KubeCheck::Nodes(n) => nodes(client, n, lang).await,
            _ => Outcome::unknown(tr(lang, "settled from the watches, not probed").into()),
        }
    }

    /// Whether the object exists, read as metadata only (a Secret's data never leaves the
    /// API server), with the verbs the Role already grants: a get of a Deployment or a
    /// named Secret, a list by name of ConfigMaps and ReplicaSets.
    async fn exists(&self, client: &kube::Client, kind: ObjectKind, name: &str) -> Outcome {
        use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
        use k8s_openapi::api::core::v1::{ConfigMap, Secret};
        use kube::Api;
        use kube::api::ListParams;
        let ns = &self.namespace;
        let by_name = ListParams::default().fields(&format!("metadata.name={name}"));
        let r = match kind {
            ObjectKind::ConfigMap => Api::<ConfigMap>::namespaced(client.clone(), ns)
                .list_metadata(&by_name)
                .await
                .map(|l| !l.items.is_empty()),
            ObjectKind::ReplicaSet => Api::<ReplicaSet>::namespaced(client.clone(), ns)
                .list_metadata(&by_name)
                .await
                .map(|l| !l.items.is_empty()),
            ObjectKind::Secret => Api::<Secret>::namespaced(client.clone(), ns)
                .get_metadata_opt(name)
                .await
                .map(|o| o.is_some()),
            ObjectKind::Deployment => Api::<Deployment>::namespaced(client.clone(), ns)
                .get_metadata_opt(name)
                .await
                .map(|o| o.is_some()),
        };
        let what = format!("{} {ns}/{name}", kind.name());
        let lang = self.lang;
        match r {
            Ok(true) => Outcome::pass(trf(lang, "{} exists", &[&what])),
            Ok(false) => Outcome::fail(trf(lang, "{} does not exist", &[&what])),
            Err(e) => Outcome::unknown(trf(
                lang,
                "cannot read {}: {}",
                &[&what, &crate::kube::plain_error(&e)],
            )),
        }
    }
}

async fn nodes(client: &kube::Client, want: &Nodes, lang: Lang) -> Outcome {
    use k8s_openapi::api::core::v1::Node;
    use kube::Api;
    let list = match Api::<Node>::all(client.clone())
        .list(&Default::default())
        .await
    {
        Ok(l) => l,
        Err(e) => {
            return Outcome::unknown(trf(
                lang,
                "cannot list the nodes: {}",
                &[&crate::kube::plain_error(&e)],
            ));
        }
    };
    let mut cpu = 0.0;
    let mut mem = 0.0;
    let mut ready = 0;
    for n in &list.items {
        let st = n.status.as_ref();
        let is_ready = st
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if !is_ready {
            continue;
        }
        ready += 1;
        if let Some(a) = st.and_then(|s| s.allocatable.as_ref()) {
            cpu += a.get("cpu").and_then(|q| cores(&q.0)).unwrap_or(0.0);
            mem += a.get("memory").and_then(|q| bytes(&q.0)).unwrap_or(0.0);
        }
    }
    let gib = |b: f64| b / (1024.0 * 1024.0 * 1024.0);
    let seen = trf(
        lang,
        "{} Ready nodes of {}: {} cores, {} GiB allocatable",
        &[
            &ready,
            &list.items.len(),
            &num(cpu),
            &format!("{:.1}", gib(mem)),
        ],
    );
    let mut short = Vec::new();
    if let Some(c) = want.cpu
        && cpu < c
    {
        short.push(trf(lang, "CPU {} < {} cores", &[&num(cpu), &num(c)]));
    }
    if let Some(m) = &want.memory
        && let Some(b) = bytes(m)
        && mem < b
    {
        short.push(trf(
            lang,
            "memory {} GiB < {}",
            &[&format!("{:.1}", gib(mem)), m],
        ));
    }
    if short.is_empty() {
        Outcome::pass(seen)
    } else {
        Outcome::fail(format!("{}{}{seen}", short.join(lang.list()), lang.colon()))
    }
}

/// An HTTP probe: one GET, no redirect followed, the whole answer within its limit.
pub async fn http(h: &HttpCheck, lang: Lang) -> Outcome {
    crate::install_crypto();
    let within = h.within();
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(within)
        .tls_info(true)
        .user_agent(concat!("warroom/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &h.ca_file {
        let pem = match std::fs::read(ca) {
            Ok(p) => p,
            Err(e) => {
                return Outcome::unknown(trf(
                    lang,
                    "cannot read the CA file {}: {}",
                    &[&ca.display(), &e.kind()],
                ));
            }
        };
        match reqwest::Certificate::from_pem_bundle(&pem) {
            Ok(c) if !c.is_empty() => b = b.tls_certs_only(c),
            _ => {
                return Outcome::unknown(trf(
                    lang,
                    "{} holds no PEM certificate",
                    &[&ca.display()],
                ));
            }
        }
    }
    let client = match b.build() {
        Ok(c) => c,
        Err(e) => {
            return Outcome::unknown(trf(lang, "cannot build the HTTP client: {}", &[&e]));
        }
    };
    let url = match h.resolve(|n| std::env::var(n).ok()) {
        Ok(u) => u,
        Err(name) => {
            return Outcome::unknown(trf(
                lang,
                "{} is not set: export it where the console runs (the service's address), and nothing is probed until it is",
                &[&name],
            ));
        }
    };
    let url = &url;
    let start = Instant::now();
    let resp = match client.get(url).send().await {
        Ok(r) => r,
        Err(e) => {
            let why = if e.is_timeout() {
                trf(lang, "no answer within {}", &[&secs(within)])
            } else if e.is_connect() {
                trf(lang, "cannot connect: {}", &[&cause(&e)])
            } else {
                cause(&e)
            };
            // An answer that never came is a failed probe: the service is not reachable.
            return Outcome::fail(format!("GET {url}{}{why}", lang.colon()));
        }
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    let der = resp
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|t| t.peer_certificate().map(<[u8]>::to_vec));
    let body = match resp.text().await {
        Ok(b) => b,
        Err(e) => {
            return Outcome::fail(trf(
                lang,
                "GET {}: {}, but the body did not arrive: {}",
                &[url, &status, &cause(&e)],
            ));
        }
    };
    let took = start.elapsed();
    let mut seen = vec![trf(lang, "GET {}: {} in {}", &[url, &status, &ms(took)])];
    let mut bad = Vec::new();
    match h.status {
        Some(want) if status.as_u16() != want => {
            bad.push(trf(lang, "status {}, not {}", &[&status, &want]))
        }
        None if !status.is_success() => bad.push(trf(lang, "status {}, not 2xx", &[&status])),
        _ => {}
    }
    if let Some(limit) = &h.within
        && let Ok(l) = limit.seconds()
        && took.as_secs_f64() > l
    {
        bad.push(trf(
            lang,
            "answered in {}, slower than {}",
            &[&ms(took), &secs_f(l)],
        ));
    }
    if let Some(text) = &h.contains {
        if body.contains(text.as_str()) {
            seen.push(trf(lang, "body contains “{}”", &[text]));
        } else {
            bad.push(trf(lang, "the body does not contain “{}”", &[text]));
        }
    }
    for name in &h.headers {
        match headers.get(name.as_str()) {
            Some(v) => seen.push(format!(
                "{name}{}{}",
                lang.colon(),
                v.to_str().unwrap_or(tr(lang, "(not text)"))
            )),
            None => bad.push(trf(lang, "no {} header", &[name])),
        }
    }
    if let Some(days) = h.cert_days {
        match der.as_deref().map(not_after) {
            None => bad.push(tr(lang, "no server certificate was seen").into()),
            Some(None) => bad.push(tr(lang, "the server's certificate cannot be read").into()),
            Some(Some(end)) => {
                let left = (end - Utc::now()).num_days();
                let when = end.format("%Y-%m-%d");
                if left >= days as i64 {
                    seen.push(trf(
                        lang,
                        "certificate valid until {} ({} days)",
                        &[&when, &left],
                    ));
                } else {
                    bad.push(trf(
                        lang,
                        "the certificate expires {}, in {} days (fewer than {})",
                        &[&when, &left, &days],
                    ));
                }
            }
        }
    }
    if bad.is_empty() {
        Outcome::pass(seen.join(lang.list()))
    } else {
        Outcome::fail(format!(
            "GET {url}{}{}",
            lang.colon(),
            bad.join(lang.list())
        ))
    }
}

/// The end of a DER certificate's validity (`tbsCertificate.validity.notAfter`).
pub fn not_after(der: &[u8]) -> Option<DateTime<Utc>> {
    let (cert, _) = tlv(der, 0x30)?;
    let (tbs, _) = tlv(cert, 0x30)?;
    let mut rest = tbs;
    // version [0] EXPLICIT, optional
    if rest.first() == Some(&0xa0) {
        rest = skip(rest)?;
    }
    rest = skip(rest)?; // serialNumber
    rest = skip(rest)?; // signature
    rest = skip(rest)?; // issuer
    let (validity, _) = tlv(rest, 0x30)?;
    let after = skip(validity)?;
    let tag = *after.first()?;
    let (t, _) = tlv(after, tag)?;
    let t = std::str::from_utf8(t).ok()?;
    let full = match tag {
        0x17 => {
            let yy: i32 = t.get(..2)?.parse().ok()?;
            format!("{}{t}", if yy < 50 { "20" } else { "19" })
        }
        0x18 => t.to_string(),
        _ => return None,
    };
    NaiveDateTime::parse_from_str(full.trim_end_matches('Z'), "%Y%m%d%H%M%S")
        .ok()
        .map(|n| n.and_utc())
}

/// The contents of the element at the start of `b` with tag `tag`, and what follows it.
fn tlv(b: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    if *b.first()? != tag {
        return None;
    }
    let first = *b.get(1)?;
    let (len, head) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let body = b.get(head..head.checked_add(len)?)?;
    Some((body, &b[head + len..]))
}

fn skip(b: &[u8]) -> Option<&[u8]> {
    let tag = *b.first()?;
    tlv(b, tag).map(|(_, rest)| rest)
}

fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        last = s.to_string();
        src = s.source();
    }
    last
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e12 {
        format!("{x:.0}")
    } else {
        format!("{}", (x * 1e4).round() / 1e4)
    }
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

fn secs(d: Duration) -> String {
    secs_f(d.as_secs_f64())
}

fn secs_f(s: f64) -> String {
    if s < 1.0 {
        format!("{} ms", (s * 1000.0).round())
    } else {
        format!("{} s", num(s))
    }
}
