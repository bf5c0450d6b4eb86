//! `warroom report`: the post-deployment summary (部署后总结) from a journal alone: who
//! drove and when, the stages against the plan, every decision with who and why, the
//! sign-offs, what the console saw go wrong, the gauges per stage from the flight
//! recorder, the notes, and the checklist as it was left. Pure: records in, a document
//! out, written as Markdown or as one self-contained HTML page.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::format::{Zone, fmt_secs};
use crate::journal::{Entry, Level, Mark, Record, Seen};
use crate::runbook::{ItemKind, Lang, Runbook};
use crate::state::State;

/// A part of the report.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Heading(String),
    Para(String),
    /// Label and value.
    Facts(Vec<(String, String)>),
    Table {
        head: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    List(Vec<String>),
}

/// The report: a title and its blocks, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub title: String,
    pub blocks: Vec<Block>,
}

/// The report's words, in the runbook's language.
struct Words {
    title: &'static str,
    overview: &'static str,
    release: &'static str,
    owner: &'static str,
    date: &'static str,
    planned: &'static str,
    elapsed: &'static str,
    deployed: &'static str,
    drivers: &'static str,
    timeline: &'static str,
    time: &'static str,
    stage: &'static str,
    held: &'static str,
    hold: &'static str,
    how_ended: &'static str,
    decisions: &'static str,
    who: &'static str,
    what: &'static str,
    why: &'static str,
    signoffs: &'static str,
    role: &'static str,
    signer: &'static str,
    entered_by: &'static str,
    incidents: &'static str,
    verified: &'static str,
    verdict: &'static str,
    evidence: &'static str,
    gauges: &'static str,
    gauge: &'static str,
    lowest: &'static str,
    highest: &'static str,
    last: &'static str,
    notes: &'static str,
    checklist: &'static str,
    phase: &'static str,
    done: &'static str,
    total: &'static str,
    skipped: &'static str,
    failed: &'static str,
    open: &'static str,
    unsigned: &'static str,
    none: &'static str,
    not_started: &'static str,
}

const EN: Words = Words {
    title: "Post-deployment report",
    overview: "Overview",
    release: "Release",
    owner: "Owner",
    date: "Planned date",
    planned: "Planned duration",
    elapsed: "Elapsed",
    deployed: "Deployment time",
    drivers: "Consoles",
    timeline: "Timeline",
    time: "Time",
    stage: "Stage",
    held: "Held",
    hold: "Planned hold",
    how_ended: "Ended by",
    decisions: "Decisions",
    who: "Who",
    what: "What",
    why: "Why",
    signoffs: "Sign-offs",
    role: "Role",
    signer: "Signer",
    entered_by: "Entered by",
    incidents: "Triggers, countdowns, data lost, drift and driver changes",
    verified: "Verified by the console",
    verdict: "Verdict",
    evidence: "Evidence",
    gauges: "Gauges per stage (flight recorder)",
    gauge: "Gauge",
    lowest: "Lowest",
    highest: "Highest",
    last: "Last",
    notes: "Notes",
    checklist: "Checklist",
    phase: "Phase",
    done: "Done",
    total: "Total",
    skipped: "Skipped",
    failed: "Failed",
    open: "Open and required",
    unsigned: "not signed",
    none: "none",
    not_started: "no stage was started",
};

const ZH: Words = Words {
    title: "部署后总结",
    overview: "概览",
    release: "发布",
    owner: "负责人",
    date: "计划日期",
    planned: "计划时长",
    elapsed: "实际用时",
    deployed: "部署时间",
    drivers: "控制台",
    timeline: "时间线",
    time: "时间",
    stage: "阶段",
    held: "持续",
    hold: "计划观察时长",
    how_ended: "结束方式",
    decisions: "决策",
    who: "人员",
    what: "内容",
    why: "原因",
    signoffs: "签字确认",
    role: "角色",
    signer: "签字人",
    entered_by: "录入人",
    incidents: "触发、倒计时、数据丢失、偏差与驾驶者变更",
    verified: "控制台核验",
    verdict: "结论",
    evidence: "依据",
    gauges: "各阶段指标（飞行记录）",
    gauge: "指标",
    lowest: "最低",
    highest: "最高",
    last: "最后",
    notes: "备注",
    checklist: "检查清单",
    phase: "阶段",
    done: "完成",
    total: "总数",
    skipped: "跳过",
    failed: "失败",
    open: "未完成的必需项",
    unsigned: "未签字",
    none: "无",
    not_started: "未开始任何阶段",
};

/// A stage as it happened: from its action's confirmation to the next stage, a
/// rollback, or the journal's end.
struct Span {
    title: String,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
    hold: Option<i64>,
    ended: String,
}

/// Build the report of `records` (a journal) for the runbook `rb`.
pub fn build(rb: Arc<Runbook>, records: &[Record], zone: Zone) -> Doc {
    let w = match rb.lang() {
        Lang::Zh => &ZH,
        Lang::En => &EN,
    };
    let start = records.first().map_or_else(Utc::now, |r| r.at);
    let end = records.last().map_or(start, |r| r.at);
    let mut state = State::new(rb.clone(), "report", start);
    state.zone = zone;
    for r in records {
        state.apply(r);
    }
    let at = |t: DateTime<Utc>| zone.date_time(t);
    let mut blocks = Vec::new();

    // Overview.
    // Every console that started on the journal, and every change of who drove.
    let sessions: Vec<String> = records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Session { .. } => Some(format!("{} {}", r.who, at(r.at))),
            Entry::System { text, .. } if crate::update::drives(text) => {
                Some(format!("{} {text}", at(r.at)))
            }
            _ => None,
        })
        .collect();
    blocks.push(Block::Heading(w.overview.into()));
    blocks.push(Block::Facts(vec![
        (
            w.release.into(),
            format!("{} {}", rb.release.name, rb.release.version),
        ),
        (w.owner.into(), rb.release.owner.clone()),
        (w.date.into(), rb.release.date.clone()),
        (w.planned.into(), rb.release.planned_duration.to_string()),
        (
            w.elapsed.into(),
            fmt_secs((end - state.stages.release_started.unwrap_or(start)).num_seconds()),
        ),
        (
            w.deployed.into(),
            state
                .stages
                .first_stage
                .map_or_else(|| w.not_started.to_string(), at),
        ),
        (w.drivers.into(), sessions.join("; ")),
    ]));

    // Timeline of stages.
    let spans = spans(&rb, records);
    blocks.push(Block::Heading(w.timeline.into()));
    if spans.is_empty() {
        blocks.push(Block::Para(w.not_started.into()));
    } else {
        blocks.push(Block::Table {
            head: vec![
                w.time.into(),
                w.stage.into(),
                w.held.into(),
                w.hold.into(),
                w.how_ended.into(),
            ],
            rows: spans
                .iter()
                .map(|s| {
                    vec![
                        at(s.from),
                        s.title.clone(),
                        fmt_secs((s.to.unwrap_or(end) - s.from).num_seconds()),
                        s.hold.map(fmt_secs).unwrap_or_default(),
                        s.ended.clone(),
                    ]
                })
                .collect(),
        });
    }

    // Decisions, with who and why.
    let outcome: BTreeMap<u64, (bool, String)> = records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Outcome { of, ok, message } => Some((*of, (*ok, message.clone()))),
            _ => None,
        })
        .collect();
    let answer = |seq: u64| match outcome.get(&seq) {
        Some((true, m)) => format!(" → {m}"),
        Some((false, m)) => format!(" → FAILED: {m}"),
        None => " → (no answer recorded)".into(),
    };
    let mut decisions = Vec::new();
    for r in records {
        let (what, why) = match &r.entry {
            Entry::Advance {
                plan,
                overridden,
                override_reason,
                ..
            } => (
                format!("{plan}{}", answer(r.seq)),
                match override_reason {
                    Some(why) => format!("OVERRIDE ({}): {why}", overridden.join("; ")),
                    None => String::new(),
                },
            ),
            Entry::Rollback {
                target: _,
                plan,
                reason,
                trigger,
            } => (
                format!(
                    "ROLLBACK [{}] {plan}{}",
                    trigger.as_deref().unwrap_or("manual"),
                    answer(r.seq)
                ),
                reason.clone(),
            ),
            Entry::Pause { plan, .. } | Entry::Step { plan, .. } => {
                (format!("{plan}{}", answer(r.seq)), String::new())
            }
            Entry::Cancel { trigger, reason } => (
                format!("cancelled the automatic rollback {trigger}"),
                reason.clone(),
            ),
            _ => continue,
        };
        decisions.push(vec![at(r.at), r.who.clone(), what, why]);
    }
    blocks.push(Block::Heading(w.decisions.into()));
    push_table(
        &mut blocks,
        w,
        vec![w.time.into(), w.who.into(), w.what.into(), w.why.into()],
        decisions,
    );

    // Sign-offs.
    let c = &state.checklist;
    let signoffs: Vec<Vec<String>> = c
        .items
        .iter()
        .zip(&c.marks)
        .filter(|(it, _)| it.kind == ItemKind::Signoff)
        .map(|(it, m)| {
            let done = m.mark == Mark::Done;
            vec![
                it.role.clone().unwrap_or_default(),
                if done {
                    m.signer.clone().unwrap_or_else(|| "?".into())
                } else {
                    format!("({})", w.unsigned)
                },
                if done {
                    m.by.clone().unwrap_or_default()
                } else {
                    String::new()
                },
                if done {
                    m.at.map(at).unwrap_or_default()
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    blocks.push(Block::Heading(w.signoffs.into()));
    push_table(
        &mut blocks,
        w,
        vec![
            w.role.into(),
            w.signer.into(),
            w.entered_by.into(),
            w.time.into(),
        ],
        signoffs,
    );

    // What the console saw go wrong, in its words.
    let incidents: Vec<String> = records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::System { level, text } if *level != Level::Info => {
                Some(format!("{} {}: {text}", at(r.at), r.who))
            }
            _ => None,
        })
        .collect();
    blocks.push(Block::Heading(w.incidents.into()));
    push_list(&mut blocks, w, incidents);

    // What the console verified itself, and on what evidence: each change of verdict.
    let verified: Vec<Vec<String>> = records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Verified {
                item,
                verdict,
                evidence,
            } => {
                let text = state
                    .checklist
                    .index_of(item)
                    .map(|i| state.checklist.items[i].text.clone())
                    .unwrap_or_else(|| item.clone());
                let v = match verdict {
                    crate::journal::Verdict::Pass => "PASS",
                    crate::journal::Verdict::Fail => "FAIL",
                    crate::journal::Verdict::Unknown => "UNKNOWN",
                };
                Some(vec![at(r.at), text, v.into(), evidence.clone()])
            }
            _ => None,
        })
        .collect();
    blocks.push(Block::Heading(w.verified.into()));
    push_table(
        &mut blocks,
        w,
        vec![
            w.time.into(),
            w.what.into(),
            w.verdict.into(),
            w.evidence.into(),
        ],
        verified,
    );

    // The gauges per stage, from the flight recorder.
    blocks.push(Block::Heading(w.gauges.into()));
    let mut any = false;
    for s in &spans {
        let seen: Vec<&Vec<Seen>> = records
            .iter()
            .filter(|r| r.at >= s.from && s.to.is_none_or(|to| r.at <= to))
            .filter_map(|r| match &r.entry {
                Entry::Gauges { gauges } => Some(gauges),
                _ => None,
            })
            .collect();
        if seen.is_empty() {
            continue;
        }
        any = true;
        blocks.push(Block::Para(format!("{} ({})", s.title, at(s.from))));
        let rows = rb
            .metrics
            .iter()
            .map(|m| {
                let values: Vec<(f64, &str)> = seen
                    .iter()
                    .filter_map(|g| g.iter().find(|x| x.gauge == m.id))
                    .filter_map(|x| x.value.map(|v| (v, x.level.as_str())))
                    .collect();
                let show = |v: Option<f64>| {
                    v.map(|v| crate::format::format_value(m, Some(v)))
                        .unwrap_or_else(|| "—".into())
                };
                let lo = values.iter().map(|v| v.0).reduce(f64::min);
                let hi = values.iter().map(|v| v.0).reduce(f64::max);
                let last = values
                    .last()
                    .map(|(v, l)| format!("{} {l}", show(Some(*v))))
                    .unwrap_or_else(|| "—".into());
                vec![m.title.clone(), show(lo), show(hi), last]
            })
            .collect();
        blocks.push(Block::Table {
            head: vec![
                w.gauge.into(),
                w.lowest.into(),
                w.highest.into(),
                w.last.into(),
            ],
            rows,
        });
    }
    if !any {
        blocks.push(Block::Para(w.none.into()));
    }

    // Notes.
    let notes: Vec<String> = records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Note { text } => Some(format!("{} {}: {text}", at(r.at), r.who)),
            _ => None,
        })
        .collect();
    blocks.push(Block::Heading(w.notes.into()));
    push_list(&mut blocks, w, notes);

    // The checklist as it was left.
    blocks.push(Block::Heading(w.checklist.into()));
    let progress = c.progress();
    let mut rows = Vec::new();
    let mut left = Vec::new();
    for (p, phase) in rb.phases.iter().enumerate() {
        let (done, total) = progress[p];
        let count = |mark: Mark| {
            c.items
                .iter()
                .zip(&c.marks)
                .filter(|(it, m)| it.phase == p && it.kind.tickable() && m.mark == mark)
                .count()
        };
        let open: Vec<usize> = (0..c.items.len())
            .filter(|&i| {
                c.items[i].phase == p
                    && c.items[i].kind.tickable()
                    && c.items[i].required
                    && !c.settled(i)
            })
            .collect();
        rows.push(vec![
            phase.title.clone(),
            done.to_string(),
            total.to_string(),
            count(Mark::Skipped).to_string(),
            count(Mark::Failed).to_string(),
            open.len().to_string(),
        ]);
        for (i, (it, m)) in c.items.iter().zip(&c.marks).enumerate() {
            if it.phase != p || !it.kind.tickable() {
                continue;
            }
            let tag = match m.mark {
                Mark::Skipped => w.skipped,
                Mark::Failed => w.failed,
                _ if open.contains(&i) => w.open,
                _ => continue,
            };
            left.push(format!("[{tag}] {} — {}", phase.title, it.text));
        }
    }
    blocks.push(Block::Table {
        head: vec![
            w.phase.into(),
            w.done.into(),
            w.total.into(),
            w.skipped.into(),
            w.failed.into(),
            w.open.into(),
        ],
        rows,
    });
    if !left.is_empty() {
        blocks.push(Block::List(left));
    }

    Doc {
        title: format!("{}: {} {}", w.title, rb.release.name, rb.release.version),
        blocks,
    }
}

fn push_table(blocks: &mut Vec<Block>, w: &Words, head: Vec<String>, rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        blocks.push(Block::Para(w.none.into()));
    } else {
        blocks.push(Block::Table { head, rows });
    }
}

fn push_list(blocks: &mut Vec<Block>, w: &Words, items: Vec<String>) {
    if items.is_empty() {
        blocks.push(Block::Para(w.none.into()));
    } else {
        blocks.push(Block::List(items));
    }
}

/// The stages as they happened: each began when its action was confirmed.
fn spans(rb: &Runbook, records: &[Record]) -> Vec<Span> {
    let intents: BTreeMap<u64, &Entry> = records.iter().map(|r| (r.seq, &r.entry)).collect();
    let mut out: Vec<Span> = Vec::new();
    for r in records {
        let Entry::Outcome { of, ok: true, .. } = &r.entry else {
            continue;
        };
        let (title, hold) = match intents.get(of) {
            Some(Entry::Advance { to, .. }) => match rb.stage_index(to) {
                Some(i) => (
                    format!("{} ({}%)", rb.stages[i].title, rb.stages[i].traffic),
                    Some(rb.stages[i].hold.secs() as i64),
                ),
                None => (to.clone(), None),
            },
            Some(Entry::Rollback { trigger, .. }) => (
                format!("ROLLBACK [{}]", trigger.as_deref().unwrap_or("manual")),
                None,
            ),
            _ => continue,
        };
        if let Some(last) = out.last_mut()
            && last.to.is_none()
        {
            last.to = Some(r.at);
            last.ended = title.clone();
        }
        out.push(Span {
            title,
            from: r.at,
            to: None,
            hold,
            ended: String::new(),
        });
    }
    out
}

impl Doc {
    pub fn markdown(&self) -> String {
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let mut out = format!("# {}\n", self.title);
        for b in &self.blocks {
            out.push('\n');
            match b {
                Block::Heading(h) => out.push_str(&format!("## {h}\n")),
                Block::Para(p) => out.push_str(&format!("{p}\n")),
                Block::Facts(f) => {
                    for (k, v) in f {
                        out.push_str(&format!("- **{k}**: {}\n", cell(v)));
                    }
                }
                Block::Table { head, rows } => {
                    out.push_str(&format!(
                        "| {} |\n",
                        head.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | ")
                    ));
                    out.push_str(&format!("|{}\n", "---|".repeat(head.len())));
                    for r in rows {
                        out.push_str(&format!(
                            "| {} |\n",
                            r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
                        ));
                    }
                }
                Block::List(items) => {
                    for i in items {
                        out.push_str(&format!("- {}\n", cell(i)));
                    }
                }
            }
        }
        out
    }

    /// One page that needs nothing else: styles inline, no scripts, no links out.
    pub fn html(&self) -> String {
        let e = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        let mut out = String::from("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n");
        out.push_str(&format!("<title>{}</title>\n", e(&self.title)));
        out.push_str(
            "<style>body{font-family:sans-serif;max-width:72em;margin:2em auto;padding:0 1em}\
             table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #999;padding:.2em .5em;text-align:left;vertical-align:top}\
             th{background:#eee}</style>\n</head><body>\n",
        );
        out.push_str(&format!("<h1>{}</h1>\n", e(&self.title)));
        for b in &self.blocks {
            match b {
                Block::Heading(h) => out.push_str(&format!("<h2>{}</h2>\n", e(h))),
                Block::Para(p) => out.push_str(&format!("<p>{}</p>\n", e(p))),
                Block::Facts(f) => {
                    out.push_str("<ul>\n");
                    for (k, v) in f {
                        out.push_str(&format!("<li><b>{}</b>: {}</li>\n", e(k), e(v)));
                    }
                    out.push_str("</ul>\n");
                }
                Block::Table { head, rows } => {
                    out.push_str("<table>\n<tr>");
                    for h in head {
                        out.push_str(&format!("<th>{}</th>", e(h)));
                    }
                    out.push_str("</tr>\n");
                    for r in rows {
                        out.push_str("<tr>");
                        for c in r {
                            out.push_str(&format!("<td>{}</td>", e(c)));
                        }
                        out.push_str("</tr>\n");
                    }
                    out.push_str("</table>\n");
                }
                Block::List(items) => {
                    out.push_str("<ul>\n");
                    for i in items {
                        out.push_str(&format!("<li>{}</li>\n", e(i)));
                    }
                    out.push_str("</ul>\n");
                }
            }
        }
        out.push_str("</body></html>\n");
        out
    }
}
