//! The verifications that need a request of their own, against real peers on 127.0.0.1:
//! an HTTP and an HTTPS server of the test's own (status, body, headers, latency, the
//! certificate's remaining days), the simulator's Prometheus API and its Kubernetes API
//! (server version, an object's existence by its metadata, the nodes' capacity).

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use warroom::journal::Verdict;
use warroom::probe::Probes;
use warroom::runbook::{Lang, Verify};
use warroom::state::verify::Outcome;

/// `/health` answers 200 "status: ok" with HSTS; `/plain` 200 without it; `/slow` after
/// 3 s; anything else 404.
async fn answer(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let r = Response::builder();
    Ok(match req.uri().path() {
        "/health" => r
            .status(200)
            .header("Strict-Transport-Security", "max-age=31536000")
            .body(Full::new(Bytes::from("status: ok"))),
        "/plain" => r.status(200).body(Full::new(Bytes::from("hello"))),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            r.status(200).body(Full::new(Bytes::from("late")))
        }
        _ => r.status(404).body(Full::new(Bytes::from("not here"))),
    }
    .unwrap())
}

async fn server(tls: Option<tokio_rustls::TlsAcceptor>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let scheme = if tls.is_some() { "https" } else { "http" };
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let tls = tls.clone();
            tokio::spawn(async move {
                let http = hyper::server::conn::http1::Builder::new();
                match tls {
                    Some(acc) => {
                        if let Ok(s) = acc.accept(stream).await {
                            let _ = http
                                .serve_connection(TokioIo::new(s), service_fn(answer))
                                .await;
                        }
                    }
                    None => {
                        let _ = http
                            .serve_connection(TokioIo::new(stream), service_fn(answer))
                            .await;
                    }
                }
            });
        }
    });
    format!("{scheme}://{addr}")
}

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls")
}

fn acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    warroom::install_crypto();
    let dir = fixtures();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
}

/// One `verify:` block as a runbook item would carry it.
fn verify(yaml: &str) -> Verify {
    let src = warroom::builtin::DEMO_RUNBOOK.replace(
        "          - id: prep-baseline\n",
        &format!("          - id: probe-under-test\n            text: under test\n            verify: {yaml}\n          - id: prep-baseline\n"),
    );
    let rb = warroom::runbook::parse_runbook(Path::new("probe.yaml"), &src)
        .unwrap_or_else(|e| panic!("{yaml}: {e}"));
    rb.flat_items()
        .into_iter()
        .find(|i| i.id == "probe-under-test")
        .unwrap()
        .verify
        .unwrap()
}

async fn run(p: &Probes, yaml: &str) -> Outcome {
    p.run(&verify(yaml)).await
}

fn is(o: &Outcome, v: Verdict, text: &str) {
    assert_eq!(o.verdict, v, "{o:?}");
    assert!(o.evidence.contains(text), "{:?} lacks {text:?}", o.evidence);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_probes_check_status_body_headers_and_latency() {
    let base = server(None).await;
    let p = Probes::default();
    let o = run(
        &p,
        &format!("{{http: {{url: \"{base}/health\", status: 200, contains: \"status: ok\", headers: [Strict-Transport-Security]}}}}"),
    )
    .await;
    is(&o, Verdict::Pass, &format!("GET {base}/health: 200 OK in "));
    assert!(o.evidence.contains("body contains “status: ok”"), "{o:?}");
    assert!(
        o.evidence
            .contains("Strict-Transport-Security: max-age=31536000"),
        "{o:?}"
    );
    // Each way it can fail says which.
    let o = run(&p, &format!("{{http: {{url: \"{base}/nope\"}}}}")).await;
    is(&o, Verdict::Fail, "status 404 Not Found, not 2xx");
    let o = run(
        &p,
        &format!("{{http: {{url: \"{base}/plain\", contains: \"status: ok\", headers: [Strict-Transport-Security]}}}}"),
    )
    .await;
    is(&o, Verdict::Fail, "the body does not contain “status: ok”");
    assert!(
        o.evidence.contains("no Strict-Transport-Security header"),
        "{o:?}"
    );
    let zh = Probes {
        lang: Lang::Zh,
        ..Probes::default()
    };
    let o = run(
        &zh,
        &format!("{{http: {{url: \"{base}/plain\", contains: \"status: ok\", headers: [Strict-Transport-Security]}}}}"),
    )
    .await;
    is(&o, Verdict::Fail, "响应体不包含“status: ok”");
    assert!(
        o.evidence.contains("没有 Strict-Transport-Security 响应头"),
        "{o:?}"
    );
    let o = run(
        &p,
        &format!("{{http: {{url: \"{base}/slow\", within: 500ms}}}}"),
    )
    .await;
    is(&o, Verdict::Fail, "no answer within 500 ms");
    // Nobody listening: failed, not unknown (the service is not there).
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let o = run(&p, &format!("{{http: {{url: \"http://{gone}/health\"}}}}")).await;
    is(&o, Verdict::Fail, "cannot connect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_probes_read_the_certificates_remaining_days() {
    let base = server(Some(acceptor())).await;
    let ca = fixtures().join("ca.pem");
    let ca = ca.display();
    let p = Probes::default();
    // The fixture's certificate runs to 2126.
    let o = run(
        &p,
        &format!("{{http: {{url: \"{base}/health\", ca_file: \"{ca}\", cert_days: 30}}}}"),
    )
    .await;
    is(&o, Verdict::Pass, "certificate valid until 2126-11-02");
    let o = run(
        &p,
        &format!("{{http: {{url: \"{base}/health\", ca_file: \"{ca}\", cert_days: 60000}}}}"),
    )
    .await;
    is(&o, Verdict::Fail, "the certificate expires 2126-11-02, in ");
    assert!(o.evidence.contains("(fewer than 60000)"), "{o:?}");
    // A certificate nobody vouches for is a failed probe.
    let o = run(&p, &format!("{{http: {{url: \"{base}/health\"}}}}")).await;
    is(
        &o,
        Verdict::Fail,
        &format!("GET {base}/health: cannot connect"),
    );
}

/// The certificate's end read from its DER, as the probe reads it.
#[test]
fn not_after_reads_the_certificates_validity() {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let der = CertificateDer::from_pem_file(fixtures().join("server.pem")).unwrap();
    let end = warroom::probe::not_after(&der).unwrap();
    assert_eq!(end.to_rfc3339(), "2126-11-02T00:36:15+00:00");
    assert_eq!(warroom::probe::not_after(&der[..40]), None);
}

/// A probe answers again until it knows, however long a loaded machine takes to fill the
/// simulator's history.
async fn known(p: &Probes, yaml: &str) -> Outcome {
    for _ in 0..600 {
        let o = run(p, yaml).await;
        if o.verdict != Verdict::Unknown {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{yaml} stayed unknown: {:?}", run(p, yaml).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promql_and_cluster_probes_against_the_simulator() {
    warroom::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let sc = warroom::runbook::parse_scenario(warroom::builtin::DEFAULT_SCENARIO).unwrap();
    let sim = warroom::sim::start(sc, 0, 0).await.unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let client = warroom::kube::connect(Some(&kc), None).await.unwrap();
    let prom = warroom::prom::Prom::new(&warroom::prom::Settings::new(
        &sim.prom_url,
        Duration::from_secs(5),
    ))
    .unwrap();
    let p = Probes {
        kube: Some(client),
        prom: Some(prom),
        namespace: "erp-production".into(),
        timeout: None,
        lang: Lang::En,
    };
    // PromQL: the scenario's 1250 active users.
    let users = "sum(erp_active_users{job=\\\"erp-backend\\\"})";
    let o = known(&p, &format!("{{promql: \"{users}\", above: 100}}")).await;
    is(&o, Verdict::Pass, " > 100");
    let o = known(&p, &format!("{{promql: \"{users}\", below: 100}}")).await;
    is(&o, Verdict::Fail, " ≥ 100");
    let o = run(&p, "{promql: 'sum(no_such_metric)', below: 1}").await;
    is(
        &o,
        Verdict::Unknown,
        "the query matched no series: no data is not a pass",
    );

    // The API server's version (the simulator reports 1.32).
    let o = run(&p, "{kube: {version: \"1.25\"}}").await;
    is(
        &o,
        Verdict::Pass,
        "the API server runs v1.32.0 (at least 1.25)",
    );
    let o = run(&p, "{kube: {version: \"1.40\"}}").await;
    is(
        &o,
        Verdict::Fail,
        "the API server runs v1.32.0, older than 1.40",
    );
    // Objects by their metadata.
    let o = run(
        &p,
        "{kube: {exists: {kind: Secret, name: erp-backend-tls}}}",
    )
    .await;
    is(
        &o,
        Verdict::Pass,
        "Secret erp-production/erp-backend-tls exists",
    );
    let o = run(
        &p,
        "{kube: {exists: {kind: Secret, name: erp-backend-nope}}}",
    )
    .await;
    is(
        &o,
        Verdict::Fail,
        "Secret erp-production/erp-backend-nope does not exist",
    );
    let o = run(
        &p,
        "{kube: {exists: {kind: Deployment, name: erp-backend}}}",
    )
    .await;
    is(
        &o,
        Verdict::Pass,
        "Deployment erp-production/erp-backend exists",
    );
    let o = run(&p, "{kube: {exists: {kind: ConfigMap, name: erp-config}}}").await;
    is(
        &o,
        Verdict::Fail,
        "ConfigMap erp-production/erp-config does not exist",
    );
    let rs = sim.replicasets()[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let o = run(
        &p,
        &format!("{{kube: {{exists: {{kind: ReplicaSet, name: {rs}}}}}}}"),
    )
    .await;
    is(
        &o,
        Verdict::Pass,
        &format!("ReplicaSet erp-production/{rs} exists"),
    );
    // Three nodes of 8 cores and 32 GiB.
    let o = run(&p, "{kube: {nodes: {cpu: 8, memory: 16Gi}}}").await;
    is(
        &o,
        Verdict::Pass,
        "3 Ready nodes of 3: 24 cores, 96.0 GiB allocatable",
    );
    let o = run(&p, "{kube: {nodes: {cpu: 32}}}").await;
    is(&o, Verdict::Fail, "CPU 24 < 32 cores");

    // With a Chinese runbook, the findings are written in Chinese.
    let zh = Probes {
        lang: Lang::Zh,
        ..p.clone()
    };
    is(
        &run(&zh, "{kube: {version: \"1.25\"}}").await,
        Verdict::Pass,
        "API 服务器运行 v1.32.0（不低于 1.25）",
    );
    is(
        &run(&zh, "{kube: {nodes: {cpu: 32}}}").await,
        Verdict::Fail,
        "CPU 24 < 32 核：3 个就绪节点",
    );
    is(
        &run(&zh, "{kube: {nodes: {cpu: 8}}}").await,
        Verdict::Pass,
        "3 个就绪节点（共 3 个）：可分配 24 核、96.0 GiB",
    );
    is(
        &run(
            &zh,
            "{kube: {exists: {kind: Secret, name: erp-backend-nope}}}",
        )
        .await,
        Verdict::Fail,
        "Secret erp-production/erp-backend-nope 不存在",
    );
    is(
        &run(&zh, "{promql: 'sum(no_such_metric)', below: 1}").await,
        Verdict::Unknown,
        "查询未匹配任何序列：没有数据不算通过",
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_client_a_probe_is_unknown_not_passed() {
    let p = Probes::default();
    is(
        &run(&p, "{kube: {version: \"1.25\"}}").await,
        Verdict::Unknown,
        "no Kubernetes client is configured",
    );
    is(
        &run(&p, "{promql: 'sum(up)', above: 0}").await,
        Verdict::Unknown,
        "no Prometheus is configured",
    );
}

/// What a verification checks is said in the runbook's language, as the checklist's
/// detail shows it ("verified by the console: …").
#[test]
fn what_a_verification_checks_is_said_in_either_language() {
    use warroom::state::verify::describe;
    for (yaml, en, zh) in [
        (
            "{kube: {version: \"1.25\"}}",
            "Kubernetes at least 1.25",
            "Kubernetes 不低于 1.25",
        ),
        (
            "{kube: {nodes: {cpu: 8, memory: 16Gi}}}",
            "nodes allocatable ≥ 8 cores, 16Gi",
            "节点可分配 ≥ 8 核、16Gi",
        ),
        (
            "{http: {url: \"https://erp.example/health\", status: 200, within: 500ms}}",
            "GET https://erp.example/health (status 200, within 500ms)",
            "GET https://erp.example/health (状态 200、500ms 之内)",
        ),
        (
            "{kube: {exists: {kind: Secret, name: erp-backend-tls}}}",
            "Secret erp-backend-tls exists",
            "Secret erp-backend-tls 存在",
        ),
        (
            "{gauge: error-rate, below: 1%}",
            "gauge error-rate below 1%",
            "指标 error-rate 低于 1%",
        ),
    ] {
        let v = verify(yaml);
        assert_eq!(describe(&v, Lang::En), en);
        assert_eq!(describe(&v, Lang::Zh), zh);
    }
}
