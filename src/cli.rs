//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "warroom",
    version,
    about = "A war-room console for driving a production release live"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Drive a release against a real cluster and Prometheus.
    Run {
        /// The release's runbook (YAML).
        runbook: PathBuf,
        /// Prometheus base URL (overrides the runbook's prometheus.url).
        #[arg(long)]
        prometheus: Option<String>,
        /// Kubeconfig file (default: KUBECONFIG, ~/.kube/config, or in-cluster).
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// Kubeconfig context to use.
        #[arg(long)]
        context: Option<String>,
        /// Namespace (overrides the runbook's kubernetes.namespace).
        #[arg(long)]
        namespace: Option<String>,
        #[command(flatten)]
        console: ConsoleArgs,
    },
    /// Run the whole console against a built-in simulated cluster on 127.0.0.1.
    Demo {
        /// Scenario file (default: the built-in one, assets/scenarios/default.yaml).
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Runbook file (default: the built-in demo runbook, assets/runbooks/demo.yaml).
        #[arg(long)]
        runbook: Option<PathBuf>,
        /// Where to write a kubeconfig for the simulated cluster (default: a temp file).
        #[arg(long)]
        kubeconfig_out: Option<PathBuf>,
        #[command(flatten)]
        console: ConsoleArgs,
    },
    /// Validate a runbook (or a layout file) without starting the console.
    Check {
        /// Runbook or layout YAML files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run the simulated cluster alone in the foreground.
    Sim {
        #[arg(long)]
        scenario: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        kube_port: u16,
        #[arg(long, default_value_t = 0)]
        prom_port: u16,
        #[arg(long)]
        kubeconfig_out: Option<PathBuf>,
        /// Enforce the Role in this YAML file (e.g. assets/rbac.yaml) on every API request.
        #[arg(long)]
        rbac: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct ConsoleArgs {
    /// The journal file (default: one per release under ~/.local/state/warroom).
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// Layout: war-room, compact, projector, or a layout file.
    #[arg(long, default_value = "war-room")]
    pub layout: String,
    /// Who is at the keys, as the journal and the log name them (default: the OS user).
    #[arg(long)]
    pub operator: Option<String>,
    /// Show times in UTC rather than the local time zone.
    #[arg(long)]
    pub utc: bool,
    /// Watch only: claim no Lease and change nothing in the cluster.
    #[arg(long)]
    pub read_only: bool,
}

impl ConsoleArgs {
    pub fn operator(&self) -> String {
        self.operator
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("LOGNAME").ok())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "operator".into())
    }
}
