//! Runbooks, scenarios and layouts are YAML; all YAML parsing lives behind this module so
//! a later switch of parser touches one place.

pub mod alias;
pub mod duration;
pub mod locate;
pub mod scenario;
pub mod schema;
pub mod verify;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

pub use duration::Dur;
use locate::{Seg, locate};
pub use scenario::Scenario;
pub use schema::*;
pub use verify::Verify;

/// One thing wrong with a file: where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0: the problem is the file as a whole, which has no position.
        if self.line == 0 {
            return write!(f, "{}: {}", self.file.display(), self.message);
        }
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

#[derive(Debug, Clone)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Parse YAML into `T` strictly, turning serde_yaml's message into one a user can act on.
pub fn parse_yaml<T: serde::de::DeserializeOwned>(file: &Path, src: &str) -> Result<T, Problems> {
    refuse_aliases(file, src)?;
    serde_yaml::from_str(src).map_err(|e| {
        let msg = e.to_string();
        let at_serde = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((1, 1));
        // serde_yaml places errors raised inside a value (a bad duration) at the start of
        // the enclosing mapping; the path in its message finds the value itself.
        let at_path = error_path(&msg).map(|p| locate(src, &p)).unwrap_or((1, 1));
        let mut at = at_serde.max(at_path);
        // A key or value named in the message (`titel`, `soon`) sits at or below that
        // start: point at it.
        let named = msg.split('`').nth(1).filter(|t| !t.is_empty());
        let about_a_key = ["unknown field", "duplicate field"]
            .iter()
            .any(|k| explain_serde(&msg).starts_with(k));
        if let Some(tok) = named
            && let Some(found) = if about_a_key {
                find_key(src, at, tok)
            } else {
                find_value(src, at, tok)
            }
        {
            at = found;
        }
        let (line, column) = at;
        Problems(vec![Problem {
            file: file.to_path_buf(),
            line,
            column,
            message: explain_serde(&msg),
        }])
    })
}

/// Aliases could expand a small file into gigabytes; see [`alias`].
pub fn refuse_aliases(file: &Path, src: &str) -> Result<(), Problems> {
    match alias::find_alias(src) {
        None => Ok(()),
        Some((line, column)) => Err(Problems(vec![Problem {
            file: file.to_path_buf(),
            line,
            column,
            message: "aliases (`*name`) are not allowed in a runbook, layout or scenario: write the value out (or quote it if the `*` is text)".into(),
        }])),
    }
}

/// Where the key `key` sits in the mapping whose keys start at `from` (1-based line and
/// column): where an unknown key, or the second of a repeated one, is. The last match
/// within the mapping.
fn find_key(src: &str, from: (usize, usize), key: &str) -> Option<(usize, usize)> {
    let col = from.1.saturating_sub(1);
    let mut found = None;
    for (i, l) in src.lines().enumerate().skip(from.0.saturating_sub(1)) {
        let body = l.trim_start();
        let indent = l.len() - body.len();
        if i + 1 > from.0 && !body.is_empty() && !body.starts_with('#') && indent < col {
            break;
        }
        let (Some(before), Some(at)) = (l.get(..col), l.get(col..)) else {
            continue;
        };
        if before.chars().all(|c| c == ' ' || c == '-')
            && (at.starts_with(&format!("{key}:")) || at.starts_with(&format!("\"{key}\":")))
        {
            found = Some((i + 1, before.chars().count() + 1));
        }
    }
    found
}

/// The first `key: token` value at or after `from` (1-based), within the same block: the
/// whole value, not a value that merely starts with it.
fn find_value(src: &str, from: (usize, usize), tok: &str) -> Option<(usize, usize)> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let lines: Vec<&str> = src.lines().collect();
    let first = lines.get(from.0 - 1)?;
    let base = indent(first);
    for (i, l) in lines.iter().enumerate().skip(from.0 - 1) {
        if i >= from.0 && !l.trim().is_empty() && indent(l) < base {
            break;
        }
        for pat in [
            format!(": {tok}"),
            format!(": \"{tok}\""),
            format!(": '{tok}'"),
        ] {
            if let Some(p) = l.find(&pat)
                && l[p + pat.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| c.is_whitespace() || ",}]#".contains(c))
            {
                return Some((i + 1, l[..p + 2].chars().count() + 1));
            }
        }
    }
    None
}

/// `stages[0].hold: ...` → [stages, 0, hold].
fn error_path(msg: &str) -> Option<Vec<Seg>> {
    let (head, _) = msg.split_once(": ")?;
    if head.is_empty()
        || !head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.[]".contains(c))
    {
        return None;
    }
    let mut out = Vec::new();
    for part in head.split('.') {
        let (key, rest) = part
            .split_once('[')
            .map(|(k, r)| (k, Some(r)))
            .unwrap_or((part, None));
        if !key.is_empty() {
            out.push(Seg::Key(key.to_string()));
        }
        if let Some(r) = rest {
            for idx in r.split('[') {
                out.push(Seg::Index(idx.trim_end_matches(']').parse().ok()?));
            }
        }
    }
    Some(out)
}

/// serde's messages name the problem; add how to fix it.
fn explain_serde(msg: &str) -> String {
    // serde_yaml appends " at line L column C"; the position is printed separately.
    let msg = match msg.find(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    // A path before the sentence (`phases[0].groups: …`) is dropped; a sentence that
    // starts at once (`unknown field …` at the top level) is kept whole.
    let msg = match msg.split_once(": ") {
        Some((path, rest))
            if !path.is_empty()
                && path
                    .chars()
                    .all(|c| c == '.' || c.is_alphanumeric() || "_-[]".contains(c)) =>
        {
            rest
        }
        _ => msg,
    }
    .trim();
    if msg.starts_with("unknown field") {
        format!("{msg}: remove it or correct its spelling")
    } else if msg.starts_with("missing field") {
        format!("{msg}: add it")
    } else if msg.starts_with("invalid type") {
        format!("{msg}: change the value to the expected type")
    } else if msg.starts_with("unknown variant") {
        format!("{msg}: use one of the expected values")
    } else if msg.starts_with("duplicate field") {
        format!("{msg}: keep only one")
    } else {
        msg.to_string()
    }
}

// serde_yaml prefixes messages with the path (`phases[0].groups: ...`); strip it so the
// sentence starts with what is wrong.
#[cfg(test)]
#[test]
fn explains_serde_messages() {
    assert_eq!(
        explain_serde(
            "phases[0]: unknown field `titel`, expected one of `id`, `title` at line 3 column 5"
        ),
        "unknown field `titel`, expected one of `id`, `title`: remove it or correct its spelling"
    );
}

pub fn read(path: &Path) -> Result<String, Problems> {
    std::fs::read_to_string(path).map_err(|e| {
        Problems(vec![Problem {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message: match e.kind() {
                std::io::ErrorKind::NotFound => "no such file: check the path".into(),
                std::io::ErrorKind::PermissionDenied => {
                    "permission denied: this user cannot read it".into()
                }
                _ => format!("cannot read the file: {e}"),
            },
        }])
    })
}

/// Load and validate a runbook file.
pub fn load(path: &Path) -> Result<Runbook, Problems> {
    let src = read(path)?;
    parse_runbook(path, &src)
}

pub fn parse_runbook(path: &Path, src: &str) -> Result<Runbook, Problems> {
    let mut rb: Runbook = parse_yaml(path, src)?;
    let problems = validate(&rb);
    if problems.is_empty() {
        if let Some(k) = rb.kubernetes_one.take() {
            rb.targets = vec![k];
        }
        for k in &mut rb.targets {
            k.name = k.name().to_string();
        }
        Ok(rb)
    } else {
        Err(Problems(
            problems
                .into_iter()
                .map(|(path_segs, message)| {
                    let (line, column) = locate(src, &path_segs);
                    Problem {
                        file: path.to_path_buf(),
                        line,
                        column,
                        message,
                    }
                })
                .collect(),
        ))
    }
}

pub fn load_scenario(path: &Path) -> Result<Scenario, Problems> {
    let src = read(path)?;
    let sc: Scenario = parse_yaml(path, &src)?;
    let mut problems = Vec::new();
    for (which, d) in [("stable", &sc.stable), ("canary", &sc.canary)] {
        if sc.behavior(&d.image).is_none() {
            problems.push((
                vec![Seg::from(which), Seg::from("image")],
                format!(
                    "no behaviour for version `{}`: add it under `versions:`",
                    Scenario::tag(&d.image)
                ),
            ));
        }
    }
    for (tag, b) in &sc.versions {
        for (field, v) in b.not_a_fraction() {
            problems.push((
                vec![
                    Seg::from("versions"),
                    Seg::Key(tag.clone()),
                    Seg::from(field),
                ],
                format!("{field} is a fraction: write a number from 0 to 1 (got {v})"),
            ));
        }
        if b.latency_p95_ms < b.latency_p50_ms {
            problems.push((
                vec![
                    Seg::from("versions"),
                    Seg::Key(tag.clone()),
                    Seg::from("latency_p95_ms"),
                ],
                "latency_p95_ms must be at least latency_p50_ms".to_string(),
            ));
        }
    }
    if problems.is_empty() {
        Ok(sc)
    } else {
        Err(Problems(
            problems
                .into_iter()
                .map(|(p, message)| {
                    let (line, column) = locate(&src, &p);
                    Problem {
                        file: path.to_path_buf(),
                        line,
                        column,
                        message,
                    }
                })
                .collect(),
        ))
    }
}

/// Parse a scenario from a string (tests and the built-in default).
pub fn parse_scenario(src: &str) -> Result<Scenario, String> {
    refuse_aliases(Path::new("scenario"), src).map_err(|e| e.to_string())?;
    serde_yaml::from_str(src).map_err(|e| e.to_string())
}

type Found = Vec<(Vec<Seg>, String)>;

/// The longest durations the console can work with. Beyond them a value is a slip (`d`
/// for `m`) or cannot work: a release is planned in hours, a gauge refreshed in seconds.
/// They also keep the console's arithmetic on durations (a refresh times the history's
/// points, seconds as signed numbers) far from any overflow.
pub const MAX_REFRESH: Dur = Dur::from_secs(10 * 60);
pub const MAX_TIMEOUT: Dur = Dur::from_secs(60);
pub const MAX_WINDOW: Dur = Dur::from_secs(7 * 86400);
pub const MAX_HOLD: Dur = Dur::from_secs(7 * 86400);
pub const MAX_FOR: Dur = Dur::from_secs(86400);
pub const MAX_PLANNED: Dur = Dur::from_secs(7 * 86400);

/// `got` is at most `max`, else a problem at `at` saying the bound and an example.
fn at_most(out: &mut Found, at: Vec<Seg>, field: &str, got: Dur, max: Dur, what: &str, eg: &str) {
    if got > max {
        out.push((
            at,
            format!(
                "{field} must be at most {} (got {got}): {what}; write e.g. {eg}",
                days(max)
            ),
        ));
    }
}

/// A bound the way a person writes it: 7d, 1d, 10m, 60s.
fn days(d: Dur) -> String {
    let s = d.secs();
    if s >= 86400 && s.is_multiple_of(86400) {
        format!("{}d", s / 86400)
    } else {
        d.to_string()
    }
}

fn validate(rb: &Runbook) -> Found {
    let mut out: Found = Vec::new();
    // Release
    if chrono::NaiveDate::parse_from_str(&rb.release.date, "%Y-%m-%d").is_err() {
        out.push((
            vec!["release".into(), "date".into()],
            format!(
                "`{}` is not a date: write it as YYYY-MM-DD",
                rb.release.date
            ),
        ));
    }
    if rb.release.planned_duration.secs() == 0 {
        out.push((
            vec!["release".into(), "planned_duration".into()],
            "planned_duration must be more than zero, e.g. 2h".into(),
        ));
    }
    at_most(
        &mut out,
        vec!["release".into(), "planned_duration".into()],
        "planned_duration",
        rb.release.planned_duration,
        MAX_PLANNED,
        "a release window longer than a week is not one evening's release",
        "2h",
    );
    validate_targets(rb, &mut out);
    // Stages
    let mut stage_ids = HashSet::new();
    let mut last_traffic = 0;
    if rb.stages.is_empty() {
        out.push((
            vec!["stages".into()],
            "add at least one stage, e.g. `- {id: full, title: Full, traffic: 100, hold: 5m}`"
                .into(),
        ));
    }
    for (i, s) in rb.stages.iter().enumerate() {
        if !stage_ids.insert(s.id.as_str()) {
            out.push((
                vec!["stages".into(), i.into(), "id".into()],
                format!("duplicate stage id `{}`: give each stage its own id", s.id),
            ));
        }
        if s.traffic == 0 || s.traffic > 100 {
            out.push((
                vec!["stages".into(), i.into(), "traffic".into()],
                format!("traffic is a percentage from 1 to 100 (got {})", s.traffic),
            ));
        } else if s.traffic <= last_traffic {
            out.push((
                vec!["stages".into(), i.into(), "traffic".into()],
                format!(
                    "stages must raise traffic: {}% does not follow {}%; order stages from least to most traffic",
                    s.traffic, last_traffic
                ),
            ));
        }
        last_traffic = last_traffic.max(s.traffic);
        at_most(
            &mut out,
            vec!["stages".into(), i.into(), "hold".into()],
            "hold",
            s.hold,
            MAX_HOLD,
            "a stage is watched this long before the next may start",
            "10m",
        );
        if !s.order.is_empty() {
            let names: Vec<&str> = rb
                .kubernetes_one
                .iter()
                .chain(&rb.targets)
                .map(|k| k.name())
                .collect();
            let mut sorted: Vec<&str> = s.order.iter().map(String::as_str).collect();
            sorted.sort();
            let mut want = names.clone();
            want.sort();
            if let Some(unknown) = s.order.iter().find(|n| !names.contains(&n.as_str())) {
                out.push((
                    vec!["stages".into(), i.into(), "order".into()],
                    format!(
                        "no target is called `{unknown}`: the targets are {}",
                        names.join(", ")
                    ),
                ));
            } else if sorted != want {
                out.push((
                    vec!["stages".into(), i.into(), "order".into()],
                    format!(
                        "`order` names every target once, so that the stage moves them all: {}",
                        names.join(", ")
                    ),
                ));
            }
        }
    }
    if let Some(last) = rb.stages.last()
        && last.traffic != 100
    {
        out.push((
            vec!["stages".into(), (rb.stages.len() - 1).into(), "traffic".into()],
            format!(
                "the last stage sends {}% of traffic: end with a stage at 100 so the release can finish",
                last.traffic
            ),
        ));
    }

    // Metrics
    let target_names: Vec<&str> = rb
        .kubernetes_one
        .iter()
        .chain(&rb.targets)
        .map(|k| k.name())
        .collect();
    let no_target = |t: &Option<String>| -> Option<String> {
        let t = t.as_deref()?;
        (!target_names.contains(&t)).then(|| {
            format!(
                "no target is called `{t}`: the targets are {}",
                target_names.join(", ")
            )
        })
    };
    let mut metric_ids = HashSet::new();
    for (i, m) in rb.metrics.iter().enumerate() {
        let here = |k: &str| vec![Seg::from("metrics"), Seg::from(i), Seg::from(k)];
        if let Some(e) = no_target(&m.target) {
            out.push((here("target"), e));
        }
        if !metric_ids.insert(m.id.as_str()) {
            out.push((
                here("id"),
                format!(
                    "duplicate metric id `{}`: give each metric its own id",
                    m.id
                ),
            ));
        }
        if m.query.trim().is_empty() {
            out.push((
                here("query"),
                "the query is empty: write a PromQL expression".into(),
            ));
        } else if let Err(e) = promql_parser::parser::parse(&m.query) {
            out.push((
                here("query"),
                format!(
                    "the query is not valid PromQL ({}): correct it; Prometheus would refuse it the same way",
                    e.trim()
                ),
            ));
        }
        if m.decimals.is_some_and(|d| d > 6) {
            out.push((
                here("decimals"),
                "decimals must be at most 6: more digits than that are noise on a gauge".into(),
            ));
        }
        if let Some(short) = &m.short
            && (short.trim().is_empty()
                || crate::text::width(short) >= crate::text::width(&m.title))
        {
            out.push((
                here("short"),
                format!(
                    "short must be a shorter title than `{}` (it is shown when the whole one does not fit)",
                    crate::text::clean(&m.title)
                ),
            ));
        }
        for (k, v) in [("warn", m.warn), ("critical", m.critical)] {
            if !v.is_finite() {
                out.push((here(k), format!("{k} must be a finite number")));
            }
        }
        let ordered = match m.bad {
            Bad::Above => m.warn <= m.critical,
            Bad::Below => m.warn >= m.critical,
        };
        if !ordered {
            let (rel, dir) = match m.bad {
                Bad::Above => ("at or below", "above"),
                Bad::Below => ("at or above", "below"),
            };
            out.push((
                here("critical"),
                format!(
                    "impossible thresholds: bad is `{dir}`, so warn ({}) must be {rel} critical ({}); swap them or change `bad`",
                    m.warn, m.critical
                ),
            ));
        }
        validate_series(m, &here, &mut out);
        if matches!(m.unit, Unit::Percent) {
            for (k, v) in [("warn", m.warn), ("critical", m.critical)] {
                if !(0.0..=100.0).contains(&v) {
                    out.push((
                        here(k),
                        format!("{k} is a percentage: write a number from 0 to 100 (got {v})"),
                    ));
                }
            }
        }
        if matches!(m.unit, Unit::Ratio) {
            for (k, v) in [("warn", m.warn), ("critical", m.critical)] {
                if !(0.0..=1.0).contains(&v) {
                    out.push((here(k), format!("{k} is a ratio: write a number from 0 to 1 (got {v}); for percentages use unit: percent")));
                }
            }
        }
    }

    validate_prometheus(rb, &mut out);
    validate_notify(rb, &mut out);
    let emergencies: Vec<usize> = (0..rb.phases.len())
        .filter(|&p| rb.phases[p].emergency)
        .collect();
    if let [_, second, ..] = emergencies[..] {
        out.push((
            vec!["phases".into(), second.into(), "emergency".into()],
            "only one phase is the emergency plan: keep `emergency: true` on one".into(),
        ));
    }
    let mut procedures = 0;
    for (p, ph) in rb.phases.iter().enumerate() {
        for (g, gr) in ph.groups.iter().enumerate() {
            if gr.procedure.is_some() {
                procedures += 1;
                if procedures > 1 {
                    out.push((
                        vec!["phases".into(), p.into(), "groups".into(), g.into(), "procedure".into()],
                        "only one group is the rollback procedure: keep `procedure: rollback` on one".into(),
                    ));
                }
            }
            if !gr.opens_on.is_empty() && !ph.emergency {
                out.push((
                    vec!["phases".into(), p.into(), "groups".into(), g.into(), "opens_on".into()],
                    "only the emergency plan's groups open by themselves: add `emergency: true` to this phase or remove opens_on".into(),
                ));
            }
        }
    }

    // Triggers
    let mut trigger_ids = HashSet::new();
    for (i, t) in rb.rollback_triggers.iter().enumerate() {
        if let Some(e) = no_target(&t.target) {
            out.push((
                vec!["rollback_triggers".into(), i.into(), "target".into()],
                e,
            ));
        }
        if t.rolls_back == RollsBack::Target
            && (t.target.is_none() || t.action != Some(TriggerAction::Rollback))
        {
            out.push((
                vec!["rollback_triggers".into(), i.into(), "rolls_back".into()],
                "`rolls_back: target` is for an automatic trigger with `action: rollback` and a `target:` to roll back: add them, or remove it".into(),
            ));
        }
        if !trigger_ids.insert(t.id.as_str()) {
            out.push((
                vec!["rollback_triggers".into(), i.into(), "id".into()],
                format!(
                    "duplicate trigger id `{}`: give each trigger its own id",
                    t.id
                ),
            ));
        }
        if t.kind == TriggerKind::Automatic && t.conditions.is_empty() {
            out.push((
                vec!["rollback_triggers".into(), i.into(), "kind".into()],
                "an automatic trigger needs `conditions:` saying which metric fires it".into(),
            ));
        }
        if t.kind == TriggerKind::Automatic && t.action.is_none() {
            out.push((
                vec!["rollback_triggers".into(), i.into(), "kind".into()],
                "an automatic trigger must say what it does: `action: rollback` (the console rolls back after a countdown the room can cancel) or `action: announce` (it only says so and blocks advancing)".into(),
            ));
        }
        if t.kind != TriggerKind::Automatic && (t.action.is_some() || !t.conditions.is_empty()) {
            out.push((
                vec!["rollback_triggers".into(), i.into(), "kind".into()],
                "only an automatic trigger has `action:` and `conditions:`; a manual or emergency trigger is a kind of rollback the lead chooses with R".into(),
            ));
        }
        if t.countdown.is_some() && t.action != Some(TriggerAction::Rollback) {
            out.push((
                vec!["rollback_triggers".into(), i.into(), "countdown".into()],
                "`countdown:` is for `action: rollback`; remove it or set the action".into(),
            ));
        }
        for (j, d) in t.during.iter().enumerate() {
            if !stage_ids.contains(d.as_str()) {
                out.push((
                    vec![
                        "rollback_triggers".into(),
                        i.into(),
                        "during".into(),
                        j.into(),
                    ],
                    format!(
                        "no stage has id `{d}`: use one of {}",
                        list(rb.stages.iter().map(|s| s.id.as_str()))
                    ),
                ));
            }
        }
        for (j, c) in t.conditions.iter().enumerate() {
            let here = |k: &str| {
                vec![
                    Seg::from("rollback_triggers"),
                    Seg::from(i),
                    Seg::from("conditions"),
                    Seg::from(j),
                    Seg::from(k),
                ]
            };
            if !metric_ids.contains(c.metric.as_str()) {
                out.push((
                    here("metric"),
                    format!(
                        "no metric has id `{}`: use one of {}",
                        c.metric,
                        list(rb.metrics.iter().map(|m| m.id.as_str()))
                    ),
                ));
            }
            for k in c.series.keys() {
                if !is_label_name(k) {
                    out.push((
                        here("series"),
                        format!("`{k}` is not a label name: use letters, digits and _"),
                    ));
                }
            }
            if let Some(m) = rb.metrics.iter().find(|m| m.id == c.metric)
                && let Some(by) = &m.split_by
                && !c.series.contains_key(by)
            {
                out.push((
                    here("metric"),
                    format!(
                        "metric `{}` is split by `{by}`, so it has several series: say which one the condition reads, e.g. `series: {{{by}: canary}}` (a trigger protecting the canary reads the canary's own series)",
                        m.id
                    ),
                ));
            }
            if c.above.is_some() == c.below.is_some() {
                out.push((
                    here("metric"),
                    "give exactly one of `above:` or `below:`".into(),
                ));
            }
            at_most(
                &mut out,
                here("for"),
                "`for`",
                c.for_,
                MAX_FOR,
                "the condition must hold this long before the trigger fires",
                "2m",
            );
        }
    }

    // Phases and items
    let mut item_ids: HashMap<&str, ()> = HashMap::new();
    let mut phase_ids = HashSet::new();
    let stage_list = || list(rb.stages.iter().map(|s| s.id.as_str()));
    for (pi, ph) in rb.phases.iter().enumerate() {
        if !phase_ids.insert(ph.id.as_str()) {
            out.push((
                vec!["phases".into(), pi.into(), "id".into()],
                format!("duplicate phase id `{}`: give each phase its own id", ph.id),
            ));
        }
        if let Some(g) = &ph.gates
            && !stage_ids.contains(g.as_str())
        {
            out.push((
                vec!["phases".into(), pi.into(), "gates".into()],
                format!("no stage has id `{g}`: use one of {}", stage_list()),
            ));
        }
        for (gi, grp) in ph.groups.iter().enumerate() {
            let base = vec![
                Seg::from("phases"),
                Seg::from(pi),
                Seg::from("groups"),
                Seg::from(gi),
            ];
            check_items(
                rb,
                &grp.items,
                base,
                &stage_ids,
                &mut item_ids,
                &stage_list,
                &mut out,
            );
        }
    }
    out
}

/// How a metric's several series are shown: picked, split side by side, or the top N.
/// The release's targets: one form or the other, each target sound, and no two naming
/// the same service or Deployment.
fn validate_targets(rb: &Runbook, out: &mut Found) {
    let targets: Vec<(Vec<Seg>, &KubeTarget)> = match (&rb.kubernetes_one, rb.targets.as_slice()) {
        (Some(_), [_, ..]) => {
            out.push((
                vec!["targets".into()],
                "both `kubernetes:` and `targets:` are set: keep `kubernetes:` for one service, or move it into `targets:`".into(),
            ));
            return;
        }
        (None, []) => {
            out.push((
                vec![],
                "missing field `kubernetes`: add it (the stable and canary Deployments), or `targets:` for several services".into(),
            ));
            return;
        }
        (Some(k), []) => vec![(vec!["kubernetes".into()], k)],
        (None, many) => many
            .iter()
            .enumerate()
            .map(|(i, k)| (vec!["targets".into(), i.into()], k))
            .collect(),
    };
    let mut names = HashSet::new();
    let mut deployments = HashSet::new();
    for (base, k) in &targets {
        let base = base.clone();
        if !names.insert(k.name()) {
            out.push((
                [base.clone(), vec!["name".into()]].concat(),
                format!(
                    "two targets are called `{}`: give each its own `name`",
                    k.name()
                ),
            ));
        }
        for (key, d) in [("stable", &k.stable), ("canary", &k.canary)] {
            if k.stable != k.canary && !deployments.insert(d.as_str()) {
                out.push((
                    [base.clone(), vec![key.into()]].concat(),
                    format!("Deployment {d} belongs to another target already: each Deployment moves with one target"),
                ));
            }
        }
        let first = &targets[0].1.namespace;
        if k.namespace != *first {
            out.push((
                [base.clone(), vec!["namespace".into()]].concat(),
                format!("every target must be in one namespace, `{first}`: the release's Lease, marks and watches live there"),
            ));
        }
        if k.stable == k.canary {
            out.push((
                [base.clone(), vec!["canary".into()]].concat(),
                "the canary Deployment must differ from the stable one: give it its own name"
                    .into(),
            ));
        }
        let t = &k.traffic;
        let at =
            |key: &str| -> Vec<Seg> { [base.clone(), vec!["traffic".into(), key.into()]].concat() };
        match k.split() {
            Split::Replicas(_) => {
                match t.replicas {
                    None => out.push((
                        at("strategy"),
                        "replica-ratio needs `replicas`: the total number of pods shared by stable and canary, e.g. `replicas: 10`".into(),
                    )),
                    Some(0) => out.push((
                        at("replicas"),
                        "replicas must be at least 1: the total number of pods shared by stable and canary"
                            .into(),
                    )),
                    Some(_) => {}
                }
                for key in ["route", "stable_backend", "canary_backend"] {
                    let set = match key {
                        "route" => t.route.is_some(),
                        "stable_backend" => t.stable_backend.is_some(),
                        _ => t.canary_backend.is_some(),
                    };
                    if set {
                        out.push((
                            at(key),
                            format!("`{key}` belongs to a strategy that splits traffic by a route's weights; with replica-ratio the replica counts carry the traffic: remove it, or set `strategy: gateway-api` (or `istio`)"),
                        ));
                    }
                }
            }
            Split::Route {
                kind,
                stable,
                canary,
                ..
            } => {
                if t.replicas.is_some() {
                    out.push((
                        at("replicas"),
                        format!("`replicas` belongs to the replica-ratio strategy; here the {}'s weights carry the traffic: remove it", kind.kind()),
                    ));
                }
                if stable == canary {
                    out.push((
                        at("canary_backend"),
                        format!(
                            "the canary backend must differ from the stable one: name the canary's {}",
                            kind.backend()
                        ),
                    ));
                }
            }
        }
    }
}

fn validate_series(m: &Metric, here: &dyn Fn(&str) -> Vec<Seg>, out: &mut Found) {
    for (k, v) in &m.pick {
        if !is_label_name(k) {
            out.push((
                here("pick"),
                format!("`{k}` is not a label name: use letters, digits and _"),
            ));
        } else if v.is_empty() {
            out.push((
                here("pick"),
                format!("pick `{k}` has an empty value: name the series to keep"),
            ));
        }
    }
    match &m.split_by {
        Some(l) if !is_label_name(l) => out.push((
            here("split_by"),
            format!("`{l}` is not a label name: use letters, digits and _, e.g. track"),
        )),
        Some(l) if m.pick.contains_key(l) => out.push((
            here("split_by"),
            format!("`{l}` is both picked and split by: keep one"),
        )),
        Some(_) => {}
        None => {
            if !m.order.is_empty() {
                out.push((
                    here("order"),
                    "`order:` needs `split_by:` naming the label whose values it orders".into(),
                ));
            }
            if m.top.is_some() {
                out.push((
                    here("top"),
                    "`top:` needs `split_by:` naming the label that tells the series apart".into(),
                ));
            }
        }
    }
    if m.top == Some(0) {
        out.push((
            here("top"),
            "top must be at least 1: how many of the worst series to show".into(),
        ));
    }
    if let Some(w) = m.window {
        if w.0.is_zero() {
            out.push((
                here("window"),
                "window must be more than zero, e.g. 10m".into(),
            ));
        }
        at_most(
            out,
            here("window"),
            "window",
            w,
            MAX_WINDOW,
            "it is how far back the sparkline reaches",
            "10m",
        );
    }
}

fn is_label_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// The `notify:` section: each channel reachable one way, signed only where its
/// platform signs, hearing of something, named once.
fn validate_notify(rb: &Runbook, out: &mut Found) {
    let Some(n) = &rb.notify else { return };
    let mut ids = std::collections::HashSet::new();
    for (i, c) in n.channels.iter().enumerate() {
        let at =
            |k: &str| -> Vec<Seg> { vec!["notify".into(), "channels".into(), i.into(), k.into()] };
        if !ids.insert(c.id.as_str()) {
            out.push((
                at("id"),
                format!(
                    "duplicate channel id `{}`: give each channel its own id",
                    c.id
                ),
            ));
        }
        match (&c.url_env, &c.url_file) {
            (None, None) => out.push((
                at("kind"),
                "name where the webhook URL is: url_env (an environment variable) or url_file; the URL carries the channel's token, so it is never written in the runbook".into(),
            )),
            (Some(_), Some(_)) => out.push((
                at("url_file"),
                "give url_env or url_file, not both".into(),
            )),
            _ => {}
        }
        if c.secret_env.is_some() && c.secret_file.is_some() {
            out.push((
                at("secret_file"),
                "give secret_env or secret_file, not both".into(),
            ));
        }
        if !c.kind.signs() && (c.secret_env.is_some() || c.secret_file.is_some()) {
            out.push((
                at(if c.secret_env.is_some() { "secret_env" } else { "secret_file" }),
                "this platform does not sign its messages (its URL's key is the secret): remove the signing secret".into(),
            ));
        }
        if c.events.is_empty() {
            out.push((
                at("events"),
                "name at least one event this channel hears of, e.g. [rollback, release_complete]"
                    .into(),
            ));
        }
    }
}

/// The `prometheus:` section: a URL that can work, timings that make sense, one way to
/// authenticate, and certificate files in pairs.
fn validate_prometheus(rb: &Runbook, out: &mut Found) {
    let Some(p) = &rb.prometheus else { return };
    let at = |k: &[&str]| {
        let mut v = vec![Seg::from("prometheus")];
        v.extend(k.iter().map(|k| Seg::from(*k)));
        v
    };
    if let Some(u) = &p.url
        && let Err(e) = check_url(u)
    {
        out.push((at(&["url"]), e));
    }
    if p.refresh.0.is_zero() {
        out.push((
            at(&["refresh"]),
            "refresh must be more than zero, e.g. 5s".into(),
        ));
    }
    if p.refresh > MAX_REFRESH {
        out.push((
            at(&["refresh"]),
            format!(
                "refresh must be from 1s to {} (got {}): the gauges are queried this often, and older answers are shown as stale; write e.g. 5s",
                days(MAX_REFRESH),
                p.refresh
            ),
        ));
    }
    if let Some(t) = p.timeout {
        if t.0.is_zero() {
            out.push((
                at(&["timeout"]),
                "timeout must be more than zero, e.g. 5s".into(),
            ));
        }
        at_most(
            out,
            at(&["timeout"]),
            "timeout",
            t,
            MAX_TIMEOUT,
            "a query slower than that holds up its gauge",
            "10s",
        );
    }
    if let Some(w) = p.window {
        if w.0.is_zero() {
            out.push((
                at(&["window"]),
                "window must be more than zero, e.g. 10m".into(),
            ));
        }
        at_most(
            out,
            at(&["window"]),
            "window",
            w,
            MAX_WINDOW,
            "it is how far back the sparklines reach",
            "10m",
        );
    }
    if let Some(a) = &p.auth {
        let ways = [
            a.bearer_token_env.is_some(),
            a.bearer_token_file.is_some(),
            a.basic.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if ways != 1 {
            out.push((
                at(&["auth"]),
                "give exactly one of `bearer_token_env:`, `bearer_token_file:` or `basic:`".into(),
            ));
        }
        if let Some(v) = &a.bearer_token_env
            && v.trim().is_empty()
        {
            out.push((
                at(&["auth", "bearer_token_env"]),
                "name the environment variable that holds the token".into(),
            ));
        }
        if let Some(b) = &a.basic {
            if b.username.is_empty() {
                out.push((
                    at(&["auth", "basic", "username"]),
                    "the user name is empty".into(),
                ));
            }
            if b.password_env.is_some() == b.password_file.is_some() {
                out.push((
                    at(&["auth", "basic"]),
                    "give exactly one of `password_env:` or `password_file:`; never the password itself".into(),
                ));
            }
        }
    }
    for (name, value) in &p.headers {
        if value.chars().any(|c| c.is_control()) {
            out.push((
                at(&["headers", name.as_str()]),
                format!(
                    "the value of header `{name}` has a control character (a line break?): an HTTP header value is one line of text; remove it"
                ),
            ));
        }
    }
    for name in p.headers.keys() {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b))
        {
            out.push((
                at(&["headers"]),
                format!("`{name}` is not an HTTP header name"),
            ));
        } else if name.eq_ignore_ascii_case("authorization") {
            out.push((
                at(&["headers"]),
                "do not write credentials in headers: use `auth:` with a token file or environment variable".into(),
            ));
        }
    }
    if p.client_cert.is_some() != p.client_key.is_some() {
        out.push((
            at(&[if p.client_cert.is_some() {
                "client_cert"
            } else {
                "client_key"
            }]),
            "a client certificate needs its key: give both `client_cert:` and `client_key:`".into(),
        ));
    }
}

/// An http(s) URL without credentials in it (they would end up on screen and in logs).
pub fn check_url(u: &str) -> Result<(), String> {
    let rest = u
        .strip_prefix("http://")
        .or_else(|| u.strip_prefix("https://"))
        .ok_or_else(|| {
            "the Prometheus URL must start with http:// or https://, e.g. http://127.0.0.1:9090"
                .to_string()
        })?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() {
        return Err("the Prometheus URL has no host, e.g. http://127.0.0.1:9090".into());
    }
    if authority.contains('@') {
        return Err(
            "the Prometheus URL carries credentials: remove them and use `auth:` (or the --prometheus-* flags) instead"
                .into(),
        );
    }
    Ok(())
}

fn check_items<'a>(
    rb: &Runbook,
    items: &'a [Item],
    base: Vec<Seg>,
    stage_ids: &HashSet<&str>,
    seen: &mut HashMap<&'a str, ()>,
    stage_list: &dyn Fn() -> String,
    out: &mut Found,
) {
    let key = if matches!(base.last(), Some(Seg::Key(k)) if k == "children") {
        None
    } else {
        Some("items")
    };
    for (ii, it) in items.iter().enumerate() {
        let mut here = base.clone();
        if let Some(k) = key {
            here.push(k.into());
        }
        here.push(ii.into());
        let at = |k: &str| {
            let mut p = here.clone();
            p.push(k.into());
            p
        };
        if it.id.trim().is_empty() {
            out.push((
                at("id"),
                "the id is empty: give the item a short unique id".into(),
            ));
        } else if seen.insert(&it.id, ()).is_some() {
            out.push((
                at("id"),
                format!("duplicate item id `{}`: give each item its own id", it.id),
            ));
        }
        if it.text.trim().is_empty() {
            out.push((
                at("text"),
                "the text is empty: say what is to be checked".into(),
            ));
        }
        if let Some(g) = &it.gates
            && !stage_ids.contains(g.as_str())
        {
            out.push((
                at("gates"),
                format!("no stage has id `{g}`: use one of {}", stage_list()),
            ));
        }
        if let Some(g) = &it.ticked_by
            && !stage_ids.contains(g.as_str())
        {
            out.push((
                at("ticked_by"),
                format!("no stage has id `{g}`: use one of {}", stage_list()),
            ));
        }
        if it.ticked_by.is_some() && !it.kind.tickable() {
            out.push((
                at("ticked_by"),
                "only a check or a step can be ticked by the console".into(),
            ));
        }
        if !it.kind.tickable() && (it.done || it.required == Some(true)) {
            out.push((
                at("kind"),
                "contacts and info items cannot be ticked: remove `done`/`required` or make it a check".into(),
            ));
        }
        if it.computed.is_some()
            && (it.kind != ItemKind::Check || it.ticked_by.is_some() || it.done)
        {
            out.push((
                at("computed"),
                "only a check, not ticked by a stage nor done beforehand, is computed by the console".into(),
            ));
        }
        if it.computed.is_some() && it.gates.is_none() {
            out.push((
                at("computed"),
                "an all_checks item needs the `gates:` whose checks it sums up".into(),
            ));
        }
        if it.fill.is_some() && it.kind != ItemKind::Info {
            out.push((
                at("fill"),
                "only an info item is filled by the console: add `kind: info`".into(),
            ));
        }
        if let Some(v) = &it.verify {
            if it.kind != ItemKind::Check
                || it.done
                || it.ticked_by.is_some()
                || it.computed.is_some()
            {
                out.push((
                    at("verify"),
                    "only a check, not done beforehand nor ticked or computed otherwise, is verified by the console".into(),
                ));
            }
            let vat = |k: &str| {
                let mut p = at("verify");
                if k != "verify" {
                    p.push(k.into());
                }
                p
            };
            verify::validate(v, rb, &vat, out);
        }
        if it.kind == ItemKind::Signoff && it.role.is_none() {
            out.push((at("kind"), "a sign-off needs the `role:` that signs".into()));
        }
        if !it.children.is_empty() {
            check_items(
                rb,
                &it.children,
                at("children"),
                stage_ids,
                seen,
                stage_list,
                out,
            );
        }
    }
}

pub(crate) fn list<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<String> = ids.map(|s| format!("`{s}`")).collect();
    if v.is_empty() {
        "(none defined)".into()
    } else {
        v.join(", ")
    }
}

/// A language the console writes in for the team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    /// What follows a name before what is said of it: `: ` in English, `：` in Chinese.
    pub fn colon(self) -> &'static str {
        match self {
            Lang::En => ": ",
            Lang::Zh => "：",
        }
    }

    /// What separates the names of a list: `, ` in English, `、` in Chinese.
    pub fn list(self) -> &'static str {
        match self {
            Lang::En => ", ",
            Lang::Zh => "、",
        }
    }

    /// What joins the parts of one sentence: `; ` in English, `；` in Chinese.
    pub fn semicolon(self) -> &'static str {
        match self {
            Lang::En => "; ",
            Lang::Zh => "；",
        }
    }
}

/// A checklist item flattened for display and state: its place, depth and effective gate.
#[derive(Debug, Clone)]
pub struct FlatItem {
    pub phase: usize,
    pub group: Option<String>,
    pub depth: usize,
    pub id: String,
    pub text: String,
    pub kind: ItemKind,
    pub role: Option<String>,
    pub required: bool,
    pub gates: Option<String>,
    /// The stage whose start ticks it (see `Item::ticked_by`).
    pub ticked_by: Option<String>,
    pub done: bool,
    /// What the console writes into it (see `Item::fill`).
    pub fill: Option<Fill>,
    /// Settled by the console (see `Item::computed`).
    pub computed: Option<Computed>,
    /// Checked by the console (see `Item::verify`).
    pub verify: Option<Verify>,
    /// In a group of checks made after a rollback (`after: rollback`).
    pub after_rollback: bool,
}

impl Runbook {
    /// The targets stage `i` moves one after another (indices, in its `order`), or every
    /// target at once (empty) when it names no order.
    pub fn stage_order(&self, i: usize) -> Vec<usize> {
        self.stages[i]
            .order
            .iter()
            .filter_map(|n| self.targets.iter().position(|k| k.name() == n))
            .collect()
    }

    /// The namespace every target is in (one, as `check` requires).
    pub fn namespace(&self) -> &str {
        self.targets.first().map_or("", |k| k.namespace.as_str())
    }

    /// Every item in file order, children after their parent.
    pub fn flat_items(&self) -> Vec<FlatItem> {
        let mut out = Vec::new();
        for (pi, ph) in self.phases.iter().enumerate() {
            for g in &ph.groups {
                let from = out.len();
                flatten(
                    &g.items,
                    pi,
                    g.title.as_ref(),
                    0,
                    ph.gates.as_ref(),
                    &mut out,
                );
                for it in &mut out[from..] {
                    it.after_rollback = g.after == Some(After::Rollback);
                }
            }
        }
        out
    }

    /// The language the console writes in for the team: the one chosen (`--lang`), else
    /// the one the runbook is written in: Chinese when its release name or its phases
    /// are, else English.
    pub fn lang(&self) -> Lang {
        if let Some(l) = self.language {
            return l;
        }
        let cjk = |s: &str| {
            s.chars().any(|c| {
                ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3400}'..='\u{4dbf}').contains(&c)
            })
        };
        if cjk(&self.release.name) || self.phases.iter().any(|p| cjk(&p.title)) {
            Lang::Zh
        } else {
            Lang::En
        }
    }

    /// The group the console's own rollback is shown in (`procedure: rollback`): its
    /// phase and title.
    pub fn rollback_procedure(&self) -> Option<(usize, Option<String>)> {
        self.phases.iter().enumerate().find_map(|(p, ph)| {
            ph.groups
                .iter()
                .find(|g| g.procedure == Some(Procedure::Rollback))
                .map(|g| (p, g.title.clone()))
        })
    }

    pub fn stage_index(&self, id: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.id == id)
    }

    pub fn summary(&self) -> String {
        let items = self.flat_items();
        let checks = items.iter().filter(|i| i.kind.tickable()).count();
        format!(
            "{} {}: {} phases, {} items ({} to tick), {} stages, {} metrics, {} rollback triggers",
            self.release.name,
            self.release.version,
            self.phases.len(),
            items.len(),
            checks,
            self.stages.len(),
            self.metrics.len(),
            self.rollback_triggers.len()
        )
    }
}

fn flatten(
    items: &[Item],
    phase: usize,
    group: Option<&String>,
    depth: usize,
    phase_gate: Option<&String>,
    out: &mut Vec<FlatItem>,
) {
    for it in items {
        out.push(FlatItem {
            phase,
            group: group.cloned(),
            depth,
            id: it.id.clone(),
            text: it.text.clone(),
            kind: it.kind,
            role: it.role.clone(),
            required: it
                .required
                .unwrap_or(matches!(it.kind, ItemKind::Check | ItemKind::Signoff)),
            gates: it.gates.clone().or_else(|| {
                if it.kind.tickable() {
                    phase_gate.cloned()
                } else {
                    None
                }
            }),
            ticked_by: it.ticked_by.clone(),
            done: it.done,
            fill: it.fill,
            computed: it.computed,
            verify: it.verify.clone(),
            after_rollback: false,
        });
        flatten(&it.children, phase, group, depth + 1, phase_gate, out);
    }
}
