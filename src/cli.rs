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
        #[command(flatten)]
        prometheus: PromArgs,
        #[command(flatten)]
        cluster: ClusterArgs,
        #[command(flatten)]
        console: ConsoleArgs,
    },
    /// Run the whole console against a built-in simulated cluster on 127.0.0.1.
    Demo {
        /// Scenario file (default: the built-in one, assets/scenarios/default.yaml).
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Runbook file (default: the built-in demo runbook, assets/runbooks/demo.yaml).
        #[arg(long, conflicts_with_all = ["gateway", "traffic", "release"])]
        runbook: Option<PathBuf>,
        /// A release of three services at once (API, web front end, worker), one of them
        /// bad: the built-in assets/runbooks/demo-release.yaml on
        /// assets/scenarios/erp-release.yaml.
        #[arg(long, conflicts_with_all = ["gateway", "traffic"])]
        release: bool,
        /// How the built-in demo splits canary traffic, as a runbook's `traffic.strategy`
        /// names it (default: replica-ratio); each strategy has its demo runbook and
        /// scenario in assets/.
        #[arg(long, value_parser = strategy, conflicts_with = "gateway")]
        traffic: Option<crate::runbook::TrafficStrategy>,
        /// The same as `--traffic gateway-api`.
        #[arg(long)]
        gateway: bool,
        /// Where to write a kubeconfig for the simulated cluster (default: a temp file).
        #[arg(long)]
        kubeconfig_out: Option<PathBuf>,
        #[command(flatten)]
        console: ConsoleArgs,
    },
    /// Follow the driving console on this host: its journal's stage, ticks, sign-offs,
    /// notes and log as it writes them, with the cluster and gauges alongside. Changes
    /// nothing; takes over (T) only when nobody drives.
    Watch {
        /// The driving console's journal (its --journal, or the path it printed).
        journal: PathBuf,
        /// The release's runbook (default: the one the journal's session names).
        #[arg(long)]
        runbook: Option<PathBuf>,
        #[command(flatten)]
        prometheus: PromArgs,
        #[command(flatten)]
        cluster: ClusterArgs,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Play a journal again on the full console: read-only, the gauges from its flight
    /// recorder; Space pauses, `.` steps, `+`/`-` change the speed. Needs no cluster.
    Replay {
        /// The release's journal.
        journal: PathBuf,
        /// The release's runbook (default: the one the journal's session names).
        #[arg(long)]
        runbook: Option<PathBuf>,
        /// Journal seconds per real second.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// The post-deployment report (部署后总结) of a journal, as Markdown or HTML.
    Report {
        /// The release's journal.
        journal: PathBuf,
        /// The release's runbook (default: the one the journal's session names).
        #[arg(long)]
        runbook: Option<PathBuf>,
        /// Write the report here instead of to standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// One self-contained HTML page instead of Markdown.
        #[arg(long)]
        html: bool,
        /// Times in UTC rather than the local time zone.
        #[arg(long)]
        utc: bool,
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

/// Which cluster, and where in it.
#[derive(Args, Debug)]
pub struct ClusterArgs {
    /// Kubeconfig file (default: KUBECONFIG, ~/.kube/config, or in-cluster).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
    /// Namespace (overrides the runbook's kubernetes.namespace).
    #[arg(long)]
    pub namespace: Option<String>,
}

/// How to reach Prometheus; each flag overrides the runbook's `prometheus:` section.
/// Secrets are never flags: name the environment variable or file that holds them.
#[derive(Args, Debug, Default)]
pub struct PromArgs {
    /// Prometheus base URL (overrides prometheus.url).
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// Send a bearer token read from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub prometheus_token_env: Option<String>,
    /// Send a bearer token read from this file.
    #[arg(long, value_name = "FILE")]
    pub prometheus_token_file: Option<PathBuf>,
    /// Basic auth user; the password comes from --prometheus-password-env or -file.
    #[arg(long, value_name = "USER")]
    pub prometheus_user: Option<String>,
    #[arg(long, value_name = "VAR")]
    pub prometheus_password_env: Option<String>,
    #[arg(long, value_name = "FILE")]
    pub prometheus_password_file: Option<PathBuf>,
    /// An extra request header, `Name: value` (repeatable).
    #[arg(long, value_name = "HEADER")]
    pub prometheus_header: Vec<String>,
    /// PEM file of the CA that signed Prometheus' certificate.
    #[arg(long, value_name = "FILE")]
    pub prometheus_ca: Option<PathBuf>,
    /// PEM client certificate (with --prometheus-key).
    #[arg(long, value_name = "FILE")]
    pub prometheus_cert: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub prometheus_key: Option<PathBuf>,
    /// Do not verify Prometheus' TLS certificate.
    #[arg(long)]
    pub insecure: bool,
}

impl PromArgs {
    pub fn overrides(&self) -> crate::prom::Overrides {
        crate::prom::Overrides {
            url: self.prometheus.clone(),
            bearer_token_env: self.prometheus_token_env.clone(),
            bearer_token_file: self.prometheus_token_file.clone(),
            username: self.prometheus_user.clone(),
            password_env: self.prometheus_password_env.clone(),
            password_file: self.prometheus_password_file.clone(),
            headers: self.prometheus_header.clone(),
            ca_file: self.prometheus_ca.clone(),
            client_cert: self.prometheus_cert.clone(),
            client_key: self.prometheus_key.clone(),
            insecure: self.insecure,
        }
    }
}

#[derive(Args, Debug)]
pub struct ConsoleArgs {
    /// The journal file (default: one per release under ~/.local/state/warroom; for the
    /// demo, a new file in the temp directory).
    #[arg(long)]
    pub journal: Option<PathBuf>,
    #[command(flatten)]
    pub view: ViewArgs,
    /// Watch only: claim no Lease and change nothing in the cluster.
    #[arg(long)]
    pub read_only: bool,
}

/// How a console shows itself and names its user.
#[derive(Args, Debug)]
pub struct ViewArgs {
    /// Layout: war-room, compact, projector, or a layout file.
    #[arg(long, default_value = "war-room")]
    pub layout: String,
    /// Who is at the keys, as the journal and the log name them (default: the OS user).
    #[arg(long)]
    pub operator: Option<String>,
    /// Show times in UTC rather than the local time zone.
    #[arg(long)]
    pub utc: bool,
    /// No colour: meaning is kept by reversed video, bold and the level words (also when
    /// NO_COLOR is set).
    #[arg(long)]
    pub no_color: bool,
    /// ASCII only, for a console without box and block glyphs (a Linux VT).
    #[arg(long)]
    pub ascii: bool,
    /// The language the console writes in: en or zh (default: the runbook's).
    #[arg(long, value_parser = lang)]
    pub lang: Option<crate::runbook::Lang>,
}

fn lang(s: &str) -> Result<crate::runbook::Lang, String> {
    match s {
        "en" => Ok(crate::runbook::Lang::En),
        "zh" => Ok(crate::runbook::Lang::Zh),
        _ => Err(format!(
            "`{s}` is not a language the console speaks: write en or zh"
        )),
    }
}

impl ViewArgs {
    pub fn plain(&self) -> crate::ui::plain::Plain {
        crate::ui::plain::Plain::from_env(self.no_color, self.ascii)
    }

    pub fn zone(&self) -> crate::format::Zone {
        if self.utc {
            crate::format::Zone::Utc
        } else {
            crate::format::Zone::Local
        }
    }

    pub fn operator(&self) -> String {
        self.operator
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("LOGNAME").ok())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "operator".into())
    }
}

/// A traffic strategy as the runbook spells it (`gateway-api`).
fn strategy(s: &str) -> Result<crate::runbook::TrafficStrategy, String> {
    serde_yaml::from_str(s).map_err(|e| {
        let e = e.to_string();
        // serde says which are allowed; the position in a one-word document is noise.
        e.split(" at line").next().unwrap_or(&e).to_string()
    })
}
