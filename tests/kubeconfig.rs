//! Finding the cluster as kubectl does: `KUBECONFIG`, its current context, or the one
//! `--context` names. One test in its own binary, since it sets the environment.

use k8s_openapi::api::apps::v1::Deployment;

#[test]
fn kubeconfig_from_the_environment_and_context_by_name() {
    warroom::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let scenario =
        warroom::runbook::parse_scenario(include_str!("../assets/scenarios/steady.yaml")).unwrap();
    let ns = scenario.namespace.clone();
    let sim = rt.block_on(warroom::sim::start(scenario, 0, 0)).unwrap();
    let kc = dir.path().join("config");
    sim.write_kubeconfig(&kc).unwrap();
    // A second context, current, whose server nothing answers.
    let text = std::fs::read_to_string(&kc).unwrap();
    let text = text.replace("current-context: warroom-sim", "current-context: elsewhere") + "\n";
    let text = text.replace(
        "contexts:\n",
        "contexts:\n- name: elsewhere\n  context:\n    cluster: nowhere\n    user: warroom-sim\n",
    );
    let text = text.replace(
        "clusters:\n",
        "clusters:\n- name: nowhere\n  cluster:\n    server: http://127.0.0.1:1\n",
    );
    std::fs::write(&kc, &text).unwrap();
    // SAFETY: set before any other thread of this test binary reads the environment.
    unsafe {
        std::env::set_var("KUBECONFIG", &kc);
        std::env::remove_var("HOME");
    }

    rt.block_on(async {
        // --context picks the simulator out of $KUBECONFIG
        let client = warroom::kube::connect(None, Some("warroom-sim")).await.unwrap();
        let deps: kube::Api<Deployment> = kube::Api::namespaced(client, &ns);
        let names: Vec<String> = deps
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|d| d.metadata.name)
            .collect();
        assert!(names.contains(&"erp-backend".to_string()), "{names:?}");

        // no --context: the current one, which is unreachable, and said so plainly
        let client = warroom::kube::connect(None, None).await.unwrap();
        let deps: kube::Api<Deployment> = kube::Api::namespaced(client, &ns);
        let err = deps.list(&Default::default()).await.unwrap_err();
        let text = warroom::kube::plain_error(&err);
        assert!(text.starts_with("cannot reach the API server"), "{text}");

        // a context that does not exist is an error naming it
        let Err(err) = warroom::kube::connect(None, Some("prod-typo")).await else {
            panic!("a missing context must be refused")
        };
        assert_eq!(
            err.to_string(),
            "KUBECONFIG or ~/.kube/config has no context named `prod-typo`; it has: elsewhere, warroom-sim"
        );
        sim.shutdown().await;
    });
}
