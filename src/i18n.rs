//! The console's own words in the languages it speaks: one table, English to Chinese.
//! The code writes English; `tr` gives the team's language. A test reads the sources and
//! fails on any word given to `tr`, or any key's words, that the table lacks.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::runbook::Lang;

/// (English, Chinese).
pub const WORDS: &[(&str, &str)] = &[
    // The keys: in the key bar (short) and in help.
    ("pane", "切换窗格"),
    ("focus the next pane", "切换到下一个窗格"),
    ("back", "上一窗格"),
    ("focus the previous pane", "切换到上一个窗格"),
    ("up", "上移"),
    ("move up", "上移"),
    ("down", "下移"),
    ("move down", "下移"),
    ("page up", "上翻页"),
    ("move a page up", "向上翻一页"),
    ("page down", "下翻页"),
    ("move a page down", "向下翻一页"),
    ("collapse", "折叠"),
    ("collapse the phase", "折叠该阶段"),
    ("expand", "展开"),
    ("expand the phase", "展开该阶段"),
    ("tick", "勾选"),
    (
        "tick or untick the selected item (sign off a role)",
        "勾选或取消所选项（角色签字）",
    ),
    ("tick group", "勾选整组"),
    (
        "tick the open items of this group or phase (asks first)",
        "勾选本组或本阶段的未完成项（先确认）",
    ),
    ("skip", "跳过"),
    ("mark the selected item skipped", "将所选项标为跳过"),
    ("failed", "失败"),
    ("mark the selected item failed", "将所选项标为失败"),
    ("verify", "验证"),
    (
        "verify again: this item, or every check that applies now",
        "重新验证：本项，或当前适用的所有检查",
    ),
    ("pod log", "Pod 日志"),
    (
        "the selected pod's last log lines (rollout pane)",
        "所选 Pod 的最近日志（发布窗格）",
    ),
    ("note", "备注"),
    ("write a note into the comms log", "在沟通记录中写一条备注"),
    ("advance", "推进"),
    (
        "advance to the next canary stage (asks first)",
        "推进到下一个灰度阶段（先确认）",
    ),
    ("ROLLBACK", "回滚"),
    (
        "roll back: all traffic to stable (asks first)",
        "回滚：全部流量切回稳定版（先确认）",
    ),
    ("pause", "暂停"),
    (
        "pause or resume the rollout (asks first)",
        "暂停或恢复发布（先确认）",
    ),
    ("CANCEL auto-rollback", "取消自动回滚"),
    (
        "cancel the automatic rollback counting down (asks why)",
        "取消正在倒计时的自动回滚（需说明原因）",
    ),
    ("TAKE OVER", "接管"),
    (
        "drive this release when nobody does (asks first)",
        "无人主导时接管本次发布（先确认）",
    ),
    ("EMERGENCY", "应急"),
    ("the emergency plan and who to call", "应急预案与联系人"),
    ("console log", "控制台日志"),
    (
        "show the console's diagnostic log, or the comms log again",
        "显示控制台诊断日志，或切回沟通记录",
    ),
    ("help", "帮助"),
    ("show or hide this help", "显示或隐藏本帮助"),
    ("quit", "退出"),
    (
        "quit (asks first while a stage is in progress)",
        "退出（阶段进行中时先确认）",
    ),
    ("confirm", "确认"),
    ("do it", "执行"),
    ("cancel", "取消"),
    ("do nothing", "不执行"),
    ("override unknown", "忽略未知"),
    (
        "advance although health is unknown (asks why)",
        "健康状况未知时仍推进（需说明原因）",
    ),
    ("do it, with the reason typed", "按输入的原因执行"),
    ("kind", "类型"),
    ("choose the kind of rollback", "选择回滚方式"),
    ("log it", "记录"),
    ("add the note to the comms log", "将备注写入沟通记录"),
    ("discard the note", "放弃该备注"),
    ("sign off", "签字"),
    (
        "record the sign-off by the name typed",
        "以输入的姓名记录签字",
    ),
    ("record nothing", "不记录"),
    ("close", "关闭"),
    ("close the log", "关闭日志"),
    ("situation", "情形"),
    ("the plan for another situation", "另一种情形的预案"),
    ("close the emergency plan", "关闭应急预案"),
    ("replay: pause or go on", "回放：暂停或继续"),
    ("step", "单步"),
    (
        "replay: show the next record and pause there",
        "回放：显示下一条记录并停在那里",
    ),
    ("faster", "加速"),
    ("replay: twice as fast", "回放：两倍速度"),
    ("slower", "减速"),
    ("replay: half as fast", "回放：一半速度"),
    // Help.
    (" Help · Any key closes this help ", " 帮助 · 按任意键关闭 "),
    (
        "In a confirmation: y or Enter confirms, n or Esc cancels, o overrides unknown health (asks why).",
        "确认框中：y 或 Enter 确认，n 或 Esc 取消，o 忽略未知健康状况（需说明原因）。",
    ),
    // Confirmations.
    ("Confirm", "确认"),
    (
        "CHANGED since it was first shown: this is the plan as things stand now. Read it again.",
        "已变化：这是当前形势下的计划，请重新阅读。",
    ),
    (
        "BLOCKED — this cannot be done until:",
        "受阻——满足以下条件前无法执行：",
    ),
    ("Kind of rollback (↑/↓):", "回滚方式（↑/↓）："),
    (
        "UNKNOWN — no fresh data, so this cannot be judged:",
        "未知——没有新数据，无法判断：",
    ),
    (
        "Why advance with health unknown? ",
        "健康状况未知，为何仍要推进？",
    ),
    ("Reason: ", "原因："),
    ("override, with a reason", "说明原因后忽略"),
    (
        "… {} more lines (a larger terminal shows them)",
        "…… 另有 {} 行（更大的终端可显示）",
    ),
    // What a stage does.
    (
        "already at the last stage: nothing to advance to",
        "已是最后一个阶段：无可推进",
    ),
    (
        "{} stays on its stable version: rolled back alone at {}",
        "{} 保持稳定版：已于 {} 单独回滚",
    ),
    ("Stage: {} (hold {})", "阶段：{}（保持 {}）"),
    (
        "The release was rolled back at {}: this starts the canary again.",
        "本次发布已于 {} 回滚：此操作将重新开始灰度。",
    ),
    // What blocks a stage, and what cannot be judged.
    ("verification failed: {}: {}", "验证失败：{}：{}"),
    ("{}: not verified yet", "{}：尚未验证"),
    (
        "{}: not verified yet: the check is under way",
        "{}：尚未验证：检查进行中",
    ),
    ("not done: {}", "未完成：{}"),
    ("… and {} more required items", "……另有 {} 个必需项"),
    (
        "the rollout is paused: press p to resume first",
        "发布已暂停：请先按 p 恢复",
    ),
    ("{} holds for {}: {} left", "{} 需保持 {}：还剩 {}"),
    (
        "Deployment {} has not been seen in the cluster",
        "集群中尚未见到 Deployment {}",
    ),
    (
        "rollback trigger met: {} ({}{})",
        "已满足回滚条件：{}（{}{}）",
    ),
    ("{}{} is CRITICAL at {}", "{}{} 处于严重（CRITICAL）：{}"),
    // The stage, as the header names it.
    ("→ {} (waiting for the API)", "→ {}（等待 API）"),
    ("rolling back (waiting for the API)", "回滚中（等待 API）"),
    ("pausing (waiting for the API)", "暂停中（等待 API）"),
    (
        "{} · retiring the canary (waiting for the API)",
        "{} · 正在下线灰度版（等待 API）",
    ),
    ("resuming (waiting for the API)", "恢复中（等待 API）"),
    ("ROLLED BACK", "已回滚"),
    ("preparation", "准备阶段"),
    ("{} complete", "{} 已完成"),
    ("{} held · post-deployment checks", "{} 已保持 · 部署后检查"),
    ("{} PAUSED", "{} 已暂停"),
    // The checklist.
    ("gates {}", "把关 {}"),
    ("collapse/expand", "折叠/展开"),
    // The header.
    ("{} of {} targets moved", "{}/{} 个目标已推进"),
    ("held {} ✔", "已保持 {} ✔"),
    ("held {}, not ready", "已保持 {}，未就绪"),
    ("hold {}/{}", "保持 {}/{}"),
    ("STALE: {} gauges, oldest {}", "过期：{} 个指标，最旧 {}"),
    ("{} gauges failing", "{} 个指标查询失败"),
    ("waiting for {} gauges", "等待 {} 个指标"),
    ("LIVE", "实时"),
    ("DISCONNECTED since {}", "自 {} 起断开"),
    ("connecting…", "连接中……"),
    ("owner", "负责人"),
    // The panes.
    ("Checklist", "检查清单"),
    ("Gauges", "监控指标"),
    ("Rollout", "发布状态"),
    ("Comms log", "沟通记录"),
    ("Tab: next pane", "Tab：下一窗格"),
    ("STAGE", "阶段"),
    ("ELAPSED", "已用时"),
    ("HEALTH", "健康"),
    ("DATA", "数据"),
    // What a stage or a rollback does to each target (src/canary.rs): the
    // confirmation's title and plan, what stands in its way, and the rollback's steps.
    ("{} on {} services: {}", "{}（{} 个服务）：{}"),
    ("Promote to 100%", "全量发布至 100%"),
    ("Shift traffic to {}%", "切流至 {}%"),
    (
        "{} on {} services, one after another: {}",
        "{}（{} 个服务，依次进行）：{}",
    ),
    (
        "Each target moves once the cluster shows the one before it done (rolled out, every pod ready, its traffic as the stage means); the hold starts when the last has moved. R rolls back whatever has moved.",
        "集群显示前一个目标已完成（滚动完成、Pod 全部就绪、流量符合本阶段）后，下一个目标才推进；最后一个推进后开始观察期。按 R 回滚所有已推进的目标。",
    ),
    ("Roll back", "回滚"),
    (
        "{}% of {} replicas is {}; rounded to {} canary, so the canary takes {}% of pods",
        "{}% × {} 个副本 = {}；取整为 {} 个灰度副本，灰度版占 Pod 的 {}%",
    ),
    (
        "Promote to 100%: roll {} to {} at {} replicas; {} to 0 once that rollout is complete",
        "全量发布至 100%：将 {} 滚动更新为 {}，共 {} 个副本；滚动完成后将 {} 缩至 0",
    ),
    (
        "{}'s pod template becomes {}'s (image {}): a rolling update, new revision",
        "{} 的 Pod 模板改为 {} 的（镜像 {}）：滚动更新，产生新的修订版本",
    ),
    (
        "Capacity is kept: {} first grows by as many pods as {}'s rollout may take down at once (its maxUnavailable), and {} changes only once they are ready.",
        "容量不降：{} 先增加若干 Pod，数量等于 {} 滚动时最多可同时下线的数量（maxUnavailable）；这些 Pod 就绪后 {} 才开始变更。",
    ),
    (
        "Shift traffic to {}%: scale {} to {} and {} to {}",
        "切流至 {}%：将 {} 扩缩至 {}，{} 扩缩至 {}",
    ),
    (
        "nothing to roll back: {} {} sends nothing to {}",
        "无需回滚：{} {} 未向 {} 分配流量",
    ),
    (
        "All traffic returns to {} at once; {}'s pods stay up for inspection.",
        "全部流量立即切回 {}；{} 的 Pod 保留以便排查。",
    ),
    (
        "Roll back: {} {} sends all traffic to {} ({}=100, {}=0)",
        "回滚：{} {} 将全部流量发往 {}（{}=100，{}=0）",
    ),
    ("revision {} ({})", "修订版本 {}（{}）"),
    ("its previous revision", "其上一个修订版本"),
    (
        "All traffic stays on one Deployment; its pods roll back to the previous template.",
        "全部流量仍在同一个 Deployment 上；其 Pod 回滚到上一个模板。",
    ),
    (
        "The Deployment ends exactly as kubectl rollout undo leaves it (its change-cause is the restored revision's); an Event on it records who and why.",
        "该 Deployment 的最终状态与 kubectl rollout undo 完全一致（change-cause 为所恢复版本的）；其上的一条 Event 记录操作人和原因。",
    ),
    (
        "{} still runs {} pods of the new version (the promotion had not retired it yet): it goes to 0 first.",
        "{} 仍运行 {} 个新版本 Pod（全量发布尚未将其下线）：先将其缩至 0。",
    ),
    (
        "Roll back {} to {}, as kubectl rollout undo does",
        "将 {} 回滚到 {}，与 kubectl rollout undo 相同",
    ),
    (
        "no earlier revision of {} is visible in the cluster",
        "集群中看不到 {} 的更早修订版本",
    ),
    (
        "nothing to roll back: {} has no replicas",
        "无需回滚：{} 没有副本",
    ),
    (
        "All traffic returns to the stable version.",
        "全部流量切回稳定版。",
    ),
    (
        "The canary stops at once: until {}'s {} new pods are ready, {} of {} pods serve (speed before capacity).",
        "灰度版立即停止：在 {} 的 {} 个新 Pod 就绪前，{}/{} 个 Pod 提供服务（先求速度，再补容量）。",
    ),
    (
        "Roll back: scale {} to 0 and {} to {}",
        "回滚：将 {} 缩至 0，{} 扩至 {}",
    ),
    (
        "Retire the canary: scale {} to 0 ({}'s rollout of {} is complete, {} of {} ready)",
        "下线灰度版：将 {} 缩至 0（{} 已完成 {} 的滚动，{}/{} 就绪）",
    ),
    (
        "the cluster runs {} at {} and {} at {} replicas; {} means {} and {}",
        "集群中 {} 为 {} 个副本、{} 为 {} 个副本；{}应为 {} 和 {}",
    ),
    (
        "{} {} sends {}% to {}; {} means {}%",
        "{} {} 将 {}% 的流量发往 {}；{}应为 {}%",
    ),
    (
        "Send all traffic to the canary: {} {} weights {}=0, {}=100",
        "全部流量发往灰度版：{} {} 权重 {}=0，{}=100",
    ),
    (
        "Shift traffic to {}%: {} {} weights {}={}, {}={}",
        "切流至 {}%：{} {} 权重 {}={}，{}={}",
    ),
    (
        "First scale {} from {} to {} pods for its share; until they are ready its {} ready pods take it.",
        "先将 {} 从 {} 个 Pod 扩至 {} 个以承担其份额；新 Pod 就绪前由已就绪的 {} 个 Pod 承担。",
    ),
    ("Now: {}", "当前：{}"),
    (
        "{} takes the new weights when it next reconciles the route; no Deployment's template changes.",
        "{} 下次协调该路由时应用新权重；不改动任何 Deployment 的模板。",
    ),
    (
        "{} {} has not been seen in the cluster",
        "集群中尚未看到 {} {}",
    ),
    (
        "{} has no ready pods: {}% of requests would fail; scale it up and wait for ready pods",
        "{} 没有就绪的 Pod：{}% 的请求将失败；请先扩容并等待 Pod 就绪",
    ),
    ("{}/{} available", "{}/{} 可用"),
    ("{} not seen", "未看到 {}"),
    (
        "kubectl rollout undo deployment/{} (resumed first if paused)",
        "kubectl rollout undo deployment/{}（若已暂停则先恢复）",
    ),
    ("{} runs {} again", "{} 已重新运行 {}"),
    ("{} still runs {}", "{} 仍在运行 {}"),
    (
        "kubectl get pods: every {} pod ready",
        "kubectl get pods：{} 的 Pod 全部就绪",
    ),
    ("{}/{} ready ({} pods)", "{}/{} 就绪（共 {} 个 Pod）"),
    (
        "kubectl get pods: no {} pod left",
        "kubectl get pods：{} 的 Pod 已全部退出",
    ),
    ("{} {} pods", "{} 个 {} 的 Pod"),
    ("the route not seen", "未看到该路由"),
    ("{} wants {}, {} wants {}", "{} 期望 {}，{} 期望 {}"),
    ("before the first stage", "第一阶段之前"),
];

static ZH: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| WORDS.iter().copied().collect());

/// `en` in `lang`. A word the table lacks stays English (the completeness test keeps
/// that from happening).
pub fn tr(lang: Lang, en: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Zh => ZH.get(en).copied().unwrap_or(en),
    }
}

/// `en` in `lang`, each `{}` filled with the next of `args`.
pub fn trf(lang: Lang, en: &'static str, args: &[&dyn std::fmt::Display]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut parts = tr(lang, en).split("{}").peekable();
    while let Some(p) = parts.next() {
        out.push_str(p);
        if parts.peek().is_some() {
            match args.next() {
                Some(a) => out.push_str(&a.to_string()),
                None => out.push_str("{}"),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_written_once_in_both_languages() {
        let mut seen = std::collections::HashSet::new();
        for (en, zh) in WORDS {
            assert!(seen.insert(*en), "`{en}` is in the table twice");
            assert!(
                !en.trim().is_empty() && !zh.trim().is_empty(),
                "`{en}`: empty"
            );
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "`{en}` has no Chinese: `{zh}`"
            );
        }
    }

    #[test]
    fn every_key_and_every_word_the_code_asks_for_is_in_the_table() {
        use crate::action::*;
        let mut missing = Vec::new();
        for table in [
            NORMAL, CONFIRM, REASON, NOTE, SIGNER, POD_LOG, EMERGENCY, REPLAY,
        ] {
            for b in table {
                for w in [b.short, b.help] {
                    if !ZH.contains_key(w) {
                        missing.push(w.to_string());
                    }
                }
            }
        }
        // Every literal the sources give to `tr(…, "…")`.
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut files = vec![std::path::PathBuf::from(src)];
        while let Some(p) = files.pop() {
            if p.is_dir() {
                files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            if p.ends_with("i18n.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let calls = text
                .match_indices("tr(")
                .map(|(i, _)| (i, 3))
                .chain(text.match_indices("trf(").map(|(i, _)| (i, 4)));
            for (i, len) in calls {
                // `tr` itself, not `attr(` or `from_str(`.
                if text[..i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
                {
                    continue;
                }
                let rest = &text[i + len..];
                let Some(q) = rest.find('"') else { continue };
                // The literal is the call's second argument: `tr(lang, "…")`.
                if !rest[..q].trim_end().ends_with(',') || rest[..q].contains(')') {
                    continue;
                }
                let lit = &rest[q + 1..];
                let end = lit.find('"').unwrap();
                if !ZH.contains_key(&lit[..end]) {
                    missing.push(format!("{}: {}", p.display(), &lit[..end]));
                }
            }
        }
        assert!(missing.is_empty(), "not in the table: {missing:#?}");
    }

    #[test]
    fn templates_are_filled_in_order() {
        assert_eq!(
            trf(Lang::Zh, "hold {}/{}", &[&"1m29s", &"5m00s"]),
            "保持 1m29s/5m00s"
        );
        assert_eq!(
            trf(Lang::En, "hold {}/{}", &[&"1m29s", &"5m00s"]),
            "hold 1m29s/5m00s"
        );
        // Every template has as many `{}` in Chinese as in English.
        for (en, zh) in WORDS {
            assert_eq!(en.matches("{}").count(), zh.matches("{}").count(), "{en}");
        }
    }

    #[test]
    fn english_stays_english() {
        assert_eq!(tr(Lang::En, "Checklist"), "Checklist");
        assert_eq!(tr(Lang::Zh, "Checklist"), "检查清单");
    }
}
