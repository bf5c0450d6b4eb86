//! The runbook: one file describes one release. Every struct denies unknown fields so a
//! typo is an error with a position, never a silently ignored setting.

use serde::Deserialize;

use super::duration::Dur;
use crate::cluster::RouteKind;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    pub release: Release,
    /// The one-service form, `kubernetes:`: on load it becomes the only target.
    #[serde(default, rename = "kubernetes")]
    pub(crate) kubernetes_one: Option<KubeTarget>,
    /// The services the release moves (`targets:`), each a stable and a canary Deployment
    /// with its own traffic strategy. Stages apply to all of them, in this order; a
    /// rollback goes in the reverse order.
    #[serde(default)]
    pub targets: Vec<KubeTarget>,
    #[serde(default)]
    pub prometheus: Option<PromConfig>,
    pub stages: Vec<Stage>,
    #[serde(default)]
    pub metrics: Vec<Metric>,
    #[serde(default)]
    pub rollback_triggers: Vec<Trigger>,
    /// Where the team hears of the release: chat channels and the events each gets.
    #[serde(default)]
    pub notify: Option<Notify>,
    /// Who to call: shown with the emergency plan (`E`).
    #[serde(default)]
    pub contacts: Vec<Contact>,
    pub phases: Vec<Phase>,
    /// The language chosen over the runbook's own (`--lang`); not written in the file.
    #[serde(skip)]
    pub language: Option<super::Lang>,
}

/// A person or line to call in an incident. A name or number left empty is shown as
/// still to fill, never as if there were none.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub role: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// What opens the emergency plan at a group by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Situation {
    /// A rollback starts (by the lead or automatically).
    Rollback,
    /// An automatic rollback trigger is met.
    Trigger,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    pub channels: Vec<Channel>,
}

/// A chat channel. Its webhook URL holds the platform's access token, so it is a secret
/// like the signing secret: named by environment variable or file, never written here.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    pub id: String,
    pub kind: ChannelKind,
    #[serde(default)]
    pub url_env: Option<String>,
    #[serde(default)]
    pub url_file: Option<std::path::PathBuf>,
    /// The signing secret, for the platforms that sign (Feishu/Lark, DingTalk, and the
    /// generic webhook).
    #[serde(default)]
    pub secret_env: Option<String>,
    #[serde(default)]
    pub secret_file: Option<std::path::PathBuf>,
    /// What this channel hears of.
    pub events: Vec<NotifyEvent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// Feishu / Lark custom bot.
    Feishu,
    /// DingTalk group robot.
    Dingtalk,
    /// WeCom (企业微信) group robot.
    Wecom,
    /// Slack incoming webhook.
    Slack,
    /// Any JSON webhook (signed with HMAC-SHA256 when it has a secret).
    Webhook,
}

impl ChannelKind {
    /// Whether the platform signs its messages with a secret.
    pub fn signs(self) -> bool {
        matches!(
            self,
            ChannelKind::Feishu | ChannelKind::Dingtalk | ChannelKind::Webhook
        )
    }
}

/// What the team hears of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    StageStarted,
    StageCompleted,
    TriggerMet,
    CountdownStarted,
    CountdownCancelled,
    /// With its kind and reason.
    Rollback,
    /// Advancing over unknown health, with the reason.
    Override,
    Signoff,
    ReleaseComplete,
    DriverChanged,
    /// Gauges or the cluster without fresh data.
    MonitoringLost,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    pub name: String,
    pub version: String,
    /// YYYY-MM-DD
    pub date: String,
    pub owner: String,
    pub planned_duration: Dur,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeTarget {
    /// What the screen and the log call this service (default: the stable Deployment's
    /// name).
    #[serde(default)]
    pub name: String,
    pub namespace: String,
    /// The Deployment that serves the current version.
    pub stable: String,
    /// The Deployment that serves the new version during the canary stages.
    pub canary: String,
    pub traffic: Traffic,
    /// The labels that pick the canary's own series in Prometheus (e.g. `{track:
    /// canary}`): after a rollback, while the canary serves nothing, a split gauge's part
    /// with these labels says "not serving" instead of driving the gauge and HEALTH.
    #[serde(default)]
    pub canary_series: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    pub strategy: TrafficStrategy,
    /// replica-ratio: the total number of pods shared between stable and canary.
    #[serde(default)]
    pub replicas: Option<u32>,
    /// gateway-api: the HTTPRoute whose backend weights split the traffic (default: the
    /// stable Deployment's name).
    #[serde(default)]
    pub route: Option<String>,
    /// gateway-api: the backendRef (Service) in front of the stable pods (default: the
    /// stable Deployment's name).
    #[serde(default)]
    pub stable_backend: Option<String>,
    /// gateway-api: the backendRef in front of the canary pods (default: the canary
    /// Deployment's name).
    #[serde(default)]
    pub canary_backend: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrafficStrategy {
    /// Stable and canary Deployments behind one Service; a stage's percentage becomes
    /// replica counts.
    ReplicaRatio,
    /// Stable and canary Services as backends of one Gateway API HTTPRoute; a stage's
    /// percentage becomes backend weights.
    GatewayApi,
    /// Stable and canary as destinations of one Istio VirtualService; a stage's
    /// percentage becomes destination weights.
    Istio,
}

/// The traffic split as the console acts on it, after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Split<'a> {
    /// Replica counts over one Service: (the total number of pods).
    Replicas(u32),
    /// Backend weights on a route of `kind`.
    Route {
        kind: RouteKind,
        route: &'a str,
        stable: &'a str,
        canary: &'a str,
    },
}

impl KubeTarget {
    /// What the screen and the log call the target.
    pub fn name(&self) -> &str {
        if self.name.is_empty() {
            &self.stable
        } else {
            &self.name
        }
    }

    pub fn split(&self) -> Split<'_> {
        let t = &self.traffic;
        let route = |kind| Split::Route {
            kind,
            route: t.route.as_deref().unwrap_or(&self.stable),
            stable: t.stable_backend.as_deref().unwrap_or(&self.stable),
            canary: t.canary_backend.as_deref().unwrap_or(&self.canary),
        };
        match t.strategy {
            TrafficStrategy::ReplicaRatio => Split::Replicas(t.replicas.unwrap_or(0)),
            TrafficStrategy::GatewayApi => route(RouteKind::HttpRoute),
            TrafficStrategy::Istio => route(RouteKind::VirtualService),
        }
    }
}

/// Where the gauges' numbers come from, and how to reach it. Secrets are never written
/// here: the runbook names the environment variable or file that holds them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromConfig {
    /// Base URL, e.g. `https://prometheus.example:9090` (`--prometheus` overrides it).
    #[serde(default)]
    pub url: Option<String>,
    /// How often every gauge is queried.
    #[serde(default = "default_refresh")]
    pub refresh: Dur,
    /// How long one query may take (default: the refresh interval, at most 10 s).
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// How much history a sparkline spans (a metric's own `window:` wins).
    #[serde(default)]
    pub window: Option<Dur>,
    #[serde(default)]
    pub auth: Option<PromAuth>,
    /// Extra request headers, e.g. a tenant id. Values are sent as written.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// PEM file of the certificate authority that signed Prometheus' certificate.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// PEM client certificate and key, for a Prometheus that asks for one.
    #[serde(default)]
    pub client_cert: Option<std::path::PathBuf>,
    #[serde(default)]
    pub client_key: Option<std::path::PathBuf>,
    /// Skip TLS certificate verification. Off unless a person says so.
    #[serde(default)]
    pub insecure: bool,
}

/// Exactly one way to authenticate; each names where the secret is, never the secret.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromAuth {
    /// The environment variable that holds a bearer token.
    #[serde(default)]
    pub bearer_token_env: Option<String>,
    /// A file whose contents (trimmed) are the bearer token.
    #[serde(default)]
    pub bearer_token_file: Option<std::path::PathBuf>,
    #[serde(default)]
    pub basic: Option<BasicAuth>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<std::path::PathBuf>,
}

/// Default span of a sparkline.
pub const DEFAULT_WINDOW: Dur = Dur::from_secs(600);

fn default_refresh() -> Dur {
    Dur::from_secs(5)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub id: String,
    pub title: String,
    /// Percent of traffic sent to the new version at this stage, 1..=100.
    pub traffic: u32,
    /// How long to watch this stage before the next may start.
    pub hold: Dur,
    /// The targets one after another, in this order, each once the cluster shows the one
    /// before it done (rolled out, every pod ready, its traffic as the stage means); the
    /// hold starts when the last is. Empty: every target in one action.
    #[serde(default)]
    pub order: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    pub id: String,
    pub title: String,
    /// The target whose health the gauge reads, in a release of several (its query picks
    /// that service's series, e.g. `job="erp-frontend"`): named when it is bad, and its
    /// canary's part is the one that stops serving when it is rolled back.
    #[serde(default)]
    pub target: Option<String>,
    /// The title where the gauge's row has no room for the whole one (e.g. `p95 by
    /// track`), rather than a title cut mid-word.
    #[serde(default)]
    pub short: Option<String>,
    /// Digits after the decimal point, where the default (about three significant
    /// digits) cannot tell the value from its threshold: availability against 99.95.
    #[serde(default)]
    pub decimals: Option<u8>,
    pub query: String,
    pub unit: Unit,
    pub warn: f64,
    pub critical: f64,
    /// Which direction is bad: `above` (error rate) or `below` (payment success).
    pub bad: Bad,
    /// How much history the sparkline spans (default: `prometheus.window`, else 10m).
    #[serde(default)]
    pub window: Option<Dur>,
    /// Keep only the series with these labels, e.g. `{track: canary}`.
    #[serde(default)]
    pub pick: std::collections::BTreeMap<String, String>,
    /// Show one value per value of this label, side by side, each with its own level,
    /// e.g. `track` gives `stable 0.4 % │ canary 5.9 %`; the gauge's level is the worst.
    #[serde(default)]
    pub split_by: Option<String>,
    /// With `split_by`: the order to show them in (others follow, by name).
    #[serde(default)]
    pub order: Vec<String>,
    /// With `split_by`: show only the N worst series, worst first.
    #[serde(default)]
    pub top: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    /// The query returns a percentage, 0..100.
    Percent,
    /// The query returns a fraction, 0..1, shown as a percentage.
    Ratio,
    Seconds,
    Milliseconds,
    #[serde(rename = "req/s")]
    ReqPerSec,
    Bytes,
    Count,
    #[serde(rename = "per-min")]
    PerMin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bad {
    Above,
    Below,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    pub id: String,
    pub kind: TriggerKind,
    pub text: String,
    /// The target whose health it watches, in a release of several: named when it fires.
    #[serde(default)]
    pub target: Option<String>,
    /// What its automatic rollback returns: `all` the release's targets (the default),
    /// or only its `target`, the others going on.
    #[serde(default)]
    pub rolls_back: RollsBack,
    /// For automatic triggers: any condition holding for its duration fires the trigger.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// For automatic triggers, required: what the console does when the trigger is met.
    #[serde(default)]
    pub action: Option<TriggerAction>,
    /// With `action: rollback`: how long the room has to cancel before the console rolls
    /// back (default 30s; `0s` rolls back at once).
    #[serde(default)]
    pub countdown: Option<Dur>,
    /// The stages during which the trigger is armed (default: every stage). Outside them
    /// it is neither evaluated as a gate nor acted on.
    #[serde(default)]
    pub during: Vec<String>,
}

/// What a trigger's automatic rollback returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RollsBack {
    #[default]
    All,
    Target,
}

/// What a met automatic trigger makes the console do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerAction {
    /// Count down, then roll back exactly as `R` would, unless the lead cancels.
    Rollback,
    /// Say so, block advancing, and leave the rollback to the lead.
    Announce,
}

/// How long a rollback countdown lasts when the runbook does not say.
pub const DEFAULT_COUNTDOWN: Dur = Dur::from_secs(30);

impl Trigger {
    pub fn countdown(&self) -> Dur {
        self.countdown.unwrap_or(DEFAULT_COUNTDOWN)
    }

    /// Whether the trigger watches the stage with this id.
    pub fn armed_at(&self, stage: &str) -> bool {
        self.during.is_empty() || self.during.iter().any(|d| d == stage)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerKind {
    Automatic,
    Manual,
    Emergency,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub metric: String,
    #[serde(default)]
    pub above: Option<f64>,
    #[serde(default)]
    pub below: Option<f64>,
    #[serde(rename = "for")]
    pub for_: Dur,
    /// Which of the metric's series the condition reads, by label (e.g. `{track: canary}`):
    /// a trigger protecting the canary reads the canary's own series.
    #[serde(default)]
    pub series: std::collections::BTreeMap<String, String>,
}

impl Condition {
    /// Which way the condition looks and its bound: `(">", 5.0)`. Validation leaves
    /// exactly one of `above:` and `below:`.
    pub fn bound(&self) -> (&'static str, f64) {
        match (self.above, self.below) {
            (Some(a), _) => (">", a),
            (None, Some(b)) => ("<", b),
            (None, None) => ("?", f64::NAN),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub id: String,
    pub title: String,
    /// The stage this phase's items gate, unless an item says otherwise.
    #[serde(default)]
    pub gates: Option<String>,
    /// The emergency plan (应急预案): its groups are the situations `E` shows.
    #[serde(default)]
    pub emergency: bool,
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    #[serde(default)]
    pub title: Option<String>,
    /// In the emergency plan: what opens it at this group by itself.
    #[serde(default)]
    pub opens_on: Vec<Situation>,
    /// `after: rollback`: the checks to make once a rollback is done (the seed's
    /// 回滚后验证). They become the active ones after a rollback, and do not hold up the
    /// release's completion.
    #[serde(default)]
    pub after: Option<After>,
    /// `procedure: rollback`: the rollback's steps as the runbook writes them (the seed's
    /// generic commands). During a rollback the console shows in their place what it
    /// does at this stage, each step ticked as the cluster confirms it.
    #[serde(default)]
    pub procedure: Option<Procedure>,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub id: String,
    pub text: String,
    #[serde(default)]
    pub kind: ItemKind,
    /// Who is expected to do it (a role, not a person).
    #[serde(default)]
    pub role: Option<String>,
    /// Defaults to true for checks and sign-offs, false for the other kinds.
    #[serde(default)]
    pub required: Option<bool>,
    #[serde(default)]
    pub gates: Option<String>,
    /// The stage whose start the console performs this item by (a traffic shift): the
    /// console ticks it when its action to start that stage succeeds.
    #[serde(default)]
    pub ticked_by: Option<String>,
    /// Already done before release night (the seed's `[x]`).
    #[serde(default)]
    pub done: bool,
    /// What the console writes into this (info) item: `deployment_time`, when the first
    /// stage started.
    #[serde(default)]
    pub fill: Option<Fill>,
    /// A check the console settles itself: `all_checks`, done when every other required
    /// check gating the same stage is.
    #[serde(default)]
    pub computed: Option<Computed>,
    /// A fact the console checks itself and ticks the item by, with its evidence.
    #[serde(default)]
    pub verify: Option<super::verify::Verify>,
    #[serde(default)]
    pub children: Vec<Item>,
}

/// A procedure the console itself carries out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Procedure {
    Rollback,
}

/// When a group's items apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum After {
    Rollback,
}

/// A check the console settles from the rest of the checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Computed {
    /// The seed's 所有检查项已完成: every other required check gating its stage is done.
    AllChecks,
}

/// A fact the console fills into an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fill {
    /// When the first stage started (the seed's 部署时间).
    DeploymentTime,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    /// A box to tick.
    #[default]
    Check,
    /// A procedure step (rollback, emergency): tickable to record that it was done.
    Step,
    /// A role signs off the release.
    Signoff,
    /// A person or channel to reach; not tickable.
    Contact,
    /// Text to read; not tickable.
    Info,
}

impl ItemKind {
    pub fn tickable(self) -> bool {
        matches!(self, ItemKind::Check | ItemKind::Step | ItemKind::Signoff)
    }
}
