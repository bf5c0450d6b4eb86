//! warroom: a terminal console for driving a production release live.

pub mod action;
pub mod app;
pub mod beat;
pub mod canary;
pub mod cli;
pub mod cluster;
pub mod effect;
pub mod event;
pub mod format;
pub mod i18n;
pub mod journal;
pub mod kube;
pub mod layout;
pub mod logger;
pub mod notify;
pub mod probe;
pub mod prom;
pub mod report;
pub mod runbook;
pub mod runner;
pub mod sim;
pub mod state;
pub mod text;
pub mod ui;
pub mod update;

/// TLS uses rustls with the ring provider, for kube and reqwest alike.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Built-in assets, so `warroom demo` works from anywhere in one command.
pub mod builtin {
    pub const DEMO_RUNBOOK: &str = include_str!("../assets/runbooks/demo.yaml");
    pub const DEFAULT_SCENARIO: &str = include_str!("../assets/scenarios/default.yaml");
    pub const DEMO_GATEWAY_RUNBOOK: &str = include_str!("../assets/runbooks/demo-gateway.yaml");
    pub const GATEWAY_SCENARIO: &str = include_str!("../assets/scenarios/gateway.yaml");
    pub const DEMO_ISTIO_RUNBOOK: &str = include_str!("../assets/runbooks/demo-istio.yaml");
    pub const ISTIO_SCENARIO: &str = include_str!("../assets/scenarios/istio.yaml");
    pub const DEMO_RELEASE_RUNBOOK: &str = include_str!("../assets/runbooks/demo-release.yaml");
    pub const RELEASE_SCENARIO: &str = include_str!("../assets/scenarios/erp-release.yaml");

    /// How a journal's session names a built-in runbook.
    pub const DEMO_LABEL: &str = "built-in demo runbook";
    pub const DEMO_GATEWAY_LABEL: &str = "built-in gateway demo runbook";
    pub const DEMO_ISTIO_LABEL: &str = "built-in istio demo runbook";
    pub const DEMO_RELEASE_LABEL: &str = "built-in three-service demo runbook";

    /// The built-in demo of a traffic strategy: its runbook's label and its scenario.
    pub fn demo(strategy: crate::runbook::TrafficStrategy) -> (&'static str, &'static str) {
        use crate::runbook::TrafficStrategy::*;
        match strategy {
            ReplicaRatio => (DEMO_LABEL, DEFAULT_SCENARIO),
            GatewayApi => (DEMO_GATEWAY_LABEL, GATEWAY_SCENARIO),
            Istio => (DEMO_ISTIO_LABEL, ISTIO_SCENARIO),
        }
    }

    /// The built-in runbook a session names (its file name for messages, its text).
    pub fn runbook(label: &str) -> Option<(&'static str, &'static str)> {
        match label {
            DEMO_LABEL => Some(("assets/runbooks/demo.yaml", DEMO_RUNBOOK)),
            DEMO_GATEWAY_LABEL => Some(("assets/runbooks/demo-gateway.yaml", DEMO_GATEWAY_RUNBOOK)),
            DEMO_ISTIO_LABEL => Some(("assets/runbooks/demo-istio.yaml", DEMO_ISTIO_RUNBOOK)),
            DEMO_RELEASE_LABEL => Some(("assets/runbooks/demo-release.yaml", DEMO_RELEASE_RUNBOOK)),
            _ => None,
        }
    }
}
