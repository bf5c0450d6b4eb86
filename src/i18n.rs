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
    // The console's own log lines, flashes and confirmations (src/update.rs).
    (
        "a note holds at most {} characters: Enter logs it",
        "一条备注最多 {} 个字符：按 Enter 记录",
    ),
    (
        "the paste was cut to fit a note's {} characters ({} left out)",
        "粘贴内容已截断以符合备注的 {} 个字符上限（略去 {} 个）",
    ),
    (
        "{} held for {}: ready to advance",
        "{} 已观察 {}，可进入下一阶段",
    ),
    (
        "{} held for {}: the release is complete once its {} remaining required checks (those that gate no stage: the full rollout's and the post-deployment checks) are done",
        "{} 已观察 {}：剩余 {} 项必需检查（不把关任何阶段的检查：全量发布与部署后检查）完成后，本次发布即告完成",
    ),
    (
        "Kubernetes API reachable again (lost since {})",
        "Kubernetes API 已恢复连接（自 {} 起中断）",
    ),
    (
        "Kubernetes API unreachable: {}. The rollout pane keeps its last data, marked stale; the console retries with backoff.",
        "Kubernetes API 无法访问：{}。发布窗格保留最后的数据并标为过期；控制台按退避间隔重试。",
    ),
    (
        "Kubernetes API unreachable: {}. Nothing is known of the cluster yet; the console retries with backoff.",
        "Kubernetes API 无法访问：{}。尚不了解集群的任何情况；控制台按退避间隔重试。",
    ),
    (
        "the driving console counts down to an automatic rollback at {} ({}: {})",
        "操作控制台正在倒计时，将于 {} 自动回滚（{}：{}）",
    ),
    (
        "{}'s console drives the release: it holds the Lease {}",
        "{} 的控制台主导本次发布：持有 Lease {}",
    ),
    (
        "read-only: {}. Action keys do nothing here.",
        "只读：{}。此处操作键无效。",
    ),
    (
        "claiming the release's Lease from the cluster",
        "正在向集群申领本次发布的 Lease",
    ),
    ("{}: press T to take over driving it", "{}：按 T 接管"),
    (
        "the console ended on {} at {} (the terminal or session went away); {}",
        "控制台已结束：收到 {}，当时处于{}（终端或会话已断开）；{}",
    ),
    ("the simulated cluster ends with it", "模拟集群随之结束"),
    ("the cluster stays as it is", "集群保持原样"),
    (
        "the journal cannot be mirrored into the cluster ({}): consoles on other hosts do not see this release's decisions until it can; the console keeps trying",
        "日志无法同步到集群（{}）：在恢复之前，其他主机上的控制台看不到本次发布的决定；控制台会持续重试",
    ),
    (
        "the journal is mirrored into the cluster again: consoles on other hosts are up to date",
        "日志已重新同步到集群：其他主机上的控制台已是最新",
    ),
    (
        "{} takes over driving the release, on the journal it followed",
        "{} 接管本次发布，沿用其所跟随的日志",
    ),
    ("cannot take over: {}", "无法接管：{}"),
    (
        "{} ({}% of traffic to the new version), driven by {}",
        "{}（新版本承接 {}% 流量），操作人 {}",
    ),
    (
        "{} held for {}, every required post-deployment check done",
        "{} 已观察 {}，部署后必需检查全部完成",
    ),
    (
        "no verification applies now: each runs while the stage it gates is the next one (post-deployment checks at the last stage, post-rollback checks after a rollback)",
        "当前没有适用的验证：每项验证在其把关的阶段为下一阶段时运行（部署后检查在最后阶段，回滚后检查在回滚之后）",
    ),
    (
        "verifying “{}” now, though it does not apply yet: its verdict ticks nothing until it does",
        "正在验证“{}”，但它尚不适用：在适用之前其结果不会勾选任何项",
    ),
    (
        "verifying “{}”: the console ticks it when the check passes",
        "正在验证“{}”：检查通过后控制台会将其勾选",
    ),
    (
        "verifying the one check that applies now",
        "正在验证当前适用的 1 项检查",
    ),
    (
        "verifying the {} checks that apply now",
        "正在验证当前适用的 {} 项检查",
    ),
    (
        "the rollback is done in the cluster: every step confirmed; the post-rollback checks apply now",
        "集群中的回滚已完成：每一步均已确认；回滚后检查现在适用",
    ),
    (
        "the rollback is done in the cluster: every step confirmed",
        "集群中的回滚已完成：每一步均已确认",
    ),
    (
        "type the name of whoever signs off, then Enter",
        "输入签字人的姓名，然后按 Enter",
    ),
    ("sign-off", "签字"),
    (
        "{} signed off as {} (entered by {})",
        "{} 以{}身份签字确认（由 {} 录入）",
    ),
    (
        "not signed off: nothing was recorded",
        "未签字：未记录任何内容",
    ),
    ("cancelled: nothing was done", "已取消：未执行任何操作"),
    ("{}: nothing was done", "{}：未执行任何操作"),
    (
        "the situation changed since this was shown: read it again; nothing was done",
        "显示之后情况已有变化：请重新阅读；未执行任何操作",
    ),
    (
        "blocked: see the confirmation for why",
        "受阻：原因见确认框",
    ),
    (
        "health is unknown: press o to override with a reason, or wait for fresh data",
        "健康状况未知：按 o 并说明原因以忽略，或等待新数据",
    ),
    (
        "type a reason first: it goes to the journal, the log and the cluster's Events",
        "请先输入原因：它会写入日志、沟通记录和集群的 Events",
    ),
    (
        "select a pod in the rollout pane first (Tab to it, ↑/↓ to pick one)",
        "请先在发布窗格中选择一个 Pod（Tab 切换过去，↑/↓ 选择）",
    ),
    ("the driving console", "操作控制台"),
    (
        "read-only: this console follows {}'s journal and nobody drives now: press T to take over; nothing was done",
        "只读：本控制台跟随 {} 的日志，目前无人主导：按 T 接管；未执行任何操作",
    ),
    (
        "read-only: this console follows {}'s journal: decisions are taken at the driving console; nothing was done",
        "只读：本控制台跟随 {} 的日志：决定由操作控制台作出；未执行任何操作",
    ),
    ("Quit while {} is in progress?", "{}进行中，确定退出？"),
    (
        "This is the demo: the simulated cluster ends with the console, and only the journal is kept.",
        "这是演示：模拟集群随控制台一起结束，只保留日志。",
    ),
    (
        "Run `warroom demo` again for a fresh cluster.",
        "再次运行 `warroom demo` 可获得一个新集群。",
    ),
    (
        "The cluster stays exactly as it is; nothing is rolled back.",
        "集群保持原样；不会回滚任何内容。",
    ),
    (
        "Start the console again with the same journal to carry on.",
        "使用同一日志再次启动控制台即可继续。",
    ),
    ("closed the console at {}", "控制台已关闭，当时处于{}"),
    (
        "select an item in the checklist first (Tab to the checklist)",
        "请先在检查清单中选择一项（Tab 切换到检查清单）",
    ),
    (
        "the console performs this step of the rollback: it is ticked when the cluster shows it done",
        "回滚的这一步由控制台执行：集群显示完成后自动勾选",
    ),
    ("“{}” is for reading, not ticking", "“{}”仅供阅读，无需勾选"),
    (
        "“{}” follows its sub-items ({} still open): tick those",
        "“{}”随其子项而定（仍有 {} 项未完成）：请勾选子项",
    ),
    (
        "“{}” is the console's to settle: it is done when every other required check gating {} is ({} open)",
        "“{}”由控制台判定：把关 {} 的其他必需检查全部完成时即完成（{} 项未完成）",
    ),
    ("its stage", "其阶段"),
    ("a sign-off cannot be skipped", "签字项不能跳过"),
    (
        "{} advanced to {} over unknown health ({}): {}",
        "{} 在健康状况未知时推进到 {}（{}）：{}",
    ),
    ("manual rollback", "手动回滚"),
    (
        "{} stopped the automatic rollback ({}): {}",
        "{} 取消了自动回滚（{}）：{}",
    ),
    ("{} takes over driving the release", "{} 接管本次发布"),
    (
        "select a group in the checklist first (Tab to the checklist)",
        "请先在检查清单中选择一组（Tab 切换到检查清单）",
    ),
    (
        "the console performs the rollback: its steps are ticked as the cluster shows them done",
        "回滚由控制台执行：集群显示各步完成后自动勾选",
    ),
    ("nothing selected", "未选择任何项"),
    ("nothing open to tick in {}", "{} 中没有未完成、可勾选的项"),
    (
        "({} sign-offs left out: each asks whose it is; tick them one by one)",
        "（未含 {} 个签字项：每项需填写签字人；请逐项勾选）",
    ),
    (
        "({} left to the console: it settles them from the other checks)",
        "（{} 项由控制台根据其他检查判定）",
    ),
    (
        "({} left to the console: it verifies them and ticks them with the evidence)",
        "（{} 项由控制台验证，并附证据勾选）",
    ),
    ("Tick 1 item of {}?", "勾选 {} 中的 1 项？"),
    ("Tick {} items of {}?", "勾选 {} 项（{}）？"),
    ("nothing to take over: {}", "无可接管：{}"),
    (
        "this console already drives the release",
        "本控制台已在主导本次发布",
    ),
    (
        "This console first takes the journal it follows ({}) for its own, as the driving console held it; that fails while a console on this host still has it open.",
        "本控制台先将其跟随的日志（{}）据为己有，与原操作控制台持有时一样；若本机仍有控制台打开该日志则会失败。",
    ),
    (
        "This console claims the release's Lease. If another console claims it first, this one stays read-only and says who drives.",
        "本控制台申领本次发布的 Lease。若其他控制台抢先申领，本控制台保持只读并显示由谁主导。",
    ),
    (
        "The journal here says the release is at {}; the rollout pane shows the cluster as it is. Check both before acting.",
        "此处日志显示本次发布处于{}；发布窗格显示集群的实际状态。操作前请核对两者。",
    ),
    ("Take over driving this release?", "接管本次发布？"),
    (
        "reconciled after a restart: the cluster shows action #{} done",
        "重启后核对：集群显示操作 #{} 已完成",
    ),
    (
        "reconciled after a restart: the cluster does not show action #{} done; the stage stays as it was",
        "重启后核对：集群未显示操作 #{} 已完成；阶段保持不变",
    ),
    (
        "{}: {} ({}'s is done in the cluster)",
        "{}：{}（集群中 {} 的已完成）",
    ),
    (
        "the last action (#{}) has no answer from the API yet",
        "上一个操作（#{}）尚未得到 API 的应答",
    ),
    (
        "{}: last verified at {} ({}), not since: checking again now",
        "{}：最后一次验证于 {}（{} 前），此后未再验证：正在重新检查",
    ),
    (
        "{}: last verified at {} ({}), not since",
        "{}：最后一次验证于 {}（{} 前），此后未再验证",
    ),
    (
        "verification failed: {}: {}{}, and it cannot be checked now: {}",
        "验证失败：{}：{}{}，且目前无法检查：{}",
    ),
    (" (at {})", "（于 {}）"),
    (
        "the stage stopped before it moved every target ({}): roll back (R)",
        "该阶段在推进所有目标之前已停止（{}）：请回滚（R）",
    ),
    (
        "{} still to move at this stage, one after another; its hold starts when the last has",
        "{} 在本阶段尚待依次推进；最后一个推进后开始观察期",
    ),
    (", data lost since {}", "，数据自 {} 起丢失"),
    ("{}: cannot be verified: {}", "{}：无法验证：{}"),
    (
        "{} checks ({}): cannot be verified: {}",
        "{} 项检查（{}）：无法验证：{}",
    ),
    (", no fresh value since {}", "，自 {} 起没有新数据"),
    ("{}: the query fails{}: {}", "{}：查询失败{}：{}"),
    (
        "{} gauges ({}): the query fails{}: {}",
        "{} 个指标（{}）：查询失败{}：{}",
    ),
    (" since {}", "（自 {} 起）"),
    ("not evaluated yet", "尚未评估"),
    ("no fresh evaluation", "没有最新的评估"),
    (
        "trigger {}: whether {} holds is unknown{}: {}",
        "触发条件 {}：无法判断 {} 是否成立{}：{}",
    ),
    (
        "no fresh value since {} (last {})",
        "自 {} 起没有新数据（最后值 {}）",
    ),
    ("{}; the query fails: {}", "{}；查询失败：{}"),
    ("the query fails: {}", "查询失败：{}"),
    (
        "no data: the query matched no series",
        "无数据：查询未匹配任何序列",
    ),
    ("no answer from Prometheus yet", "Prometheus 尚未应答"),
    ("no target is called {}", "没有名为 {} 的目标"),
    (
        "Only {} goes back; the other targets stay at the stage in force and go on without it.",
        "只有 {} 回滚；其他目标保持当前阶段，并在没有它的情况下继续。",
    ),
    (" and ", " 和 "),
    ("Manual rollback", "手动回滚"),
    (
        "no automatic rollback is counting down",
        "没有正在倒计时的自动回滚",
    ),
    (
        "Cancel the automatic rollback due at {}?",
        "取消定于 {} 执行的自动回滚？",
    ),
    ("Trigger: {} ({})", "触发条件：{}（{}）"),
    (
        "The canary keeps serving. The trigger stays met and keeps blocking advancing; R still rolls back. Your reason goes to the journal and the log.",
        "灰度版继续提供服务。触发条件仍然成立，并继续阻止推进；R 仍可回滚。你的原因会写入日志和沟通记录。",
    ),
    (
        "Pause the rollout: set spec.paused=true on {}",
        "暂停发布：将 {} 的 spec.paused 设为 true",
    ),
    (
        "Resume the rollout: set spec.paused=false on {}",
        "恢复发布：将 {} 的 spec.paused 设为 false",
    ),
    (
        "Rolling updates stop where they are; the stage's hold clock stops.",
        "滚动更新停在当前位置；该阶段的观察计时暂停。",
    ),
    (
        "Rolling updates continue; the stage's hold clock runs again.",
        "滚动更新继续；该阶段的观察计时恢复。",
    ),
    (
        "{} is paused: the rollback resumes it first, so it completes and nothing stays paused.",
        "{} 已暂停：回滚会先将其恢复，以便回滚完成且不留下暂停状态。",
    ),
    (
        "{} are paused: the rollback resumes them first, so it completes and nothing stays paused.",
        "{} 已暂停：回滚会先将其恢复，以便回滚完成且不留下暂停状态。",
    ),
    ("the cluster matches the stage again", "集群与阶段重新一致"),
    (
        "the cluster does not match this console's stage: {}. The rollout pane shows the cluster as it is; check who changed it before acting.",
        "集群与本控制台的阶段不一致：{}。发布窗格显示集群的实际状态；操作前请查明是谁改动了它。",
    ),
    (
        "Its countdown ended at {}: the driving console rolls back now.",
        "其倒计时已于 {} 结束：操作控制台立即回滚。",
    ),
    (
        "The console rolls back at {} unless the lead cancels (c).",
        "除非负责人取消（c），控制台将于 {} 回滚。",
    ),
    ("Press R to roll back.", "按 R 回滚。"),
    (
        "ROLLBACK TRIGGER MET: {} ({}). {}",
        "回滚触发条件成立：{}（{}）。{}",
    ),
    (
        "{}: the driving console rolls back at {} unless the lead cancels",
        "{}：除非负责人取消，操作控制台将于 {} 自动回滚",
    ),
    (
        "rollback trigger no longer holds (fresh data shows it clear): {}",
        "回滚触发条件不再成立（最新数据显示已恢复）：{}",
    ),
    (
        "rollback trigger still counts as met, but its data is lost since {}: {}",
        "回滚触发条件仍视为成立，但其数据自 {} 起丢失：{}",
    ),
    ("{} {} {} {} for {}", "{} {} {} {}，持续 {}"),
    ("{} {} {} for {}", "{} {} {}，持续 {}"),
    (
        "The countdown of {} ran out, but this console cannot roll back now: {}. It rolls back as soon as it can; R rolls back by hand.",
        "{} 的倒计时已结束，但本控制台目前无法回滚：{}。一旦可以便立即回滚；也可按 R 手动回滚。",
    ),
    (
        "The countdown of {} ran out, but the rollback cannot be sent: {}.",
        "{} 的倒计时已结束，但无法发出回滚：{}。",
    ),
    (
        "{} ({}); the {} countdown ran out with no cancel",
        "{}（{}）；{} 的倒计时结束且无人取消",
    ),
    ("critical", "严重"),
    ("warn", "警告"),
    ("above", "高于"),
    ("below", "低于"),
    (
        "{} is {} at {}: {} its {} threshold {}",
        "{} 处于 {}，当前 {}：{}{}阈值 {}",
    ),
    (" ({} idle)", "（{} 空闲）"),
    ("{} is back to OK at {}{}", "{} 已恢复 OK，当前 {}{}"),
    ("query failed: {}", "查询失败：{}"),
    (
        "{}: no data (the query matched no series)",
        "{}：无数据（查询未匹配任何序列）",
    ),
    (
        "{}: no fresh value for {}s; showing the last one as stale",
        "{}：已 {} 秒没有新数据；显示的最后值已过期",
    ),
    // The log's lines for each journal entry (src/state/mod.rs).
    (
        "journal names item `{}`, which this runbook does not have",
        "日志中提到的条目 `{}` 在本运行手册中不存在",
    ),
    ("✍ {} signed off as {} ({})", "✍ {} 以{}身份签字确认（{}）"),
    ("signed off", "已签字"),
    ("☐ unticked", "☐ 已取消勾选"),
    ("skipped", "已跳过"),
    ("✘ FAILED", "✘ 失败"),
    (
        "✔ {} (all its sub-items are done)",
        "✔ {}（其子项已全部完成）",
    ),
    (
        "✔ 1 item of {} in one confirmation",
        "✔ 一次确认勾选了 {} 中的 1 项",
    ),
    (
        "✔ {} items of {} in one confirmation",
        "✔ 一次确认勾选了 {} 项（{}）",
    ),
    (
        "RELEASE COMPLETE: every stage held, every required post-deployment check done",
        "发布完成：每个阶段均已观察完毕，部署后必需检查全部完成",
    ),
    (
        "“{}…” ({} more characters in the journal)",
        "“{}…”（日志中另有 {} 个字符）",
    ),
    ("ROLLBACK ({}): ", "回滚（{}）："),
    (
        "OVERRIDE of unknown health ({}), because “{}”: ",
        "在健康状况未知时强制执行（{}），原因“{}”：",
    ),
    ("{}{} — sent", "{}{} —— 已发送"),
    ("{}'s step failed: {}", "{} 的步骤失败：{}"),
    ("done", "完成"),
    ("FAILED", "失败"),
    (" (answered in {} s)", "（{} 秒后应答）"),
    (
        "cancelled the automatic rollback ({}): “{}”",
        "取消了自动回滚（{}）：“{}”",
    ),
    ("told {} of {}", "已通知 {}：{}"),
    (
        "notice #{} NOT delivered to {} after {} attempts: {}",
        "通知 #{} 未能送达 {}（已尝试 {} 次）：{}",
    ),
    ("✔ verified", "✔ 已验证"),
    ("✘ verification FAILED", "✘ 验证失败"),
    ("? no longer verified", "? 不再处于已验证状态"),
    ("✔ verified {} checks: {}", "✔ 已验证 {} 项检查：{}"),
    (
        "still claiming the release's Lease from the cluster; actions wait until it is held",
        "仍在向集群申领本次发布的 Lease；持有之前操作会等待",
    ),
    ("read-only: {}", "只读：{}"),
    ("read-only: {}; press T to take over", "只读：{}；按 T 接管"),
    (
        "this console's Lease ran out at {} and has not been renewed (is the API reachable?): another console may drive now",
        "本控制台的 Lease 已于 {} 到期且未能续约（API 是否可达？）：其他控制台现在可能已在主导",
    ),
    ("console started on {} {} ({})", "控制台启动：{} {}（{}）"),
    (
        "a new attempt starts its stage checks fresh: {} checks of the rolled-back attempt were cleared (they stay above, as the earlier attempt)",
        "新一轮尝试的阶段检查从头开始：已清除回滚前那一轮的 {} 项检查（它们仍保留在上方，属于前一轮）",
    ),
    // Who drives, as the Lease says (src/kube/lease.rs).
    (
        "cannot mark the release's Deployments as driven by this console: {} (the console needs patch on deployments)",
        "无法将本次发布的 Deployment 标记为由本控制台主导：{}（控制台需要 deployments 的 patch 权限）",
    ),
    (
        "cannot claim the release's Lease {}: {} (the console needs get, create and update on leases)",
        "无法申领本次发布的 Lease {}：{}（控制台需要 leases 的 get、create 和 update 权限）",
    ),
    ("{} took over the Lease {}", "{} 接管了 Lease {}"),
    (
        "started with --read-only; {} drives this release",
        "以 --read-only 启动；{} 正在主导本次发布",
    ),
    (
        "started with --read-only; no console drives this release now",
        "以 --read-only 启动；目前没有控制台主导本次发布",
    ),
    ("{} drives this release", "{} 正在主导本次发布"),
    (
        "the Lease of {} ran out: no console drives this release",
        "{} 的 Lease 已到期：没有控制台主导本次发布",
    ),
    (
        "no console drives this release now",
        "目前没有控制台主导本次发布",
    ),
    // What the console's verifications found (src/state/verify.rs).
    ("the runbook has no gauge `{}`", "运行手册中没有指标 `{}`"),
    ("no bound to compare with", "没有可比较的界限"),
    (
        "its bound is not in the gauge's unit",
        "其界限与指标的单位不符",
    ),
    (": no fresh value since {}", "：自 {} 起没有新数据"),
    (": no value yet", "：尚无数值"),
    (
        "{}: no series {} in its last answer",
        "{}：最近一次应答中没有序列 {}",
    ),
    ("{}: the query matched no series", "{}：查询未匹配任何序列"),
    ("{}: the query fails: {}", "{}：查询失败：{}"),
    ("{}: no value yet", "{}：尚无数值"),
    (
        "{}: the query returned NaN (no traffic?)",
        "{}：查询返回 NaN（没有流量？）",
    ),
    (
        "no answer from the Kubernetes API yet",
        "Kubernetes API 尚未应答",
    ),
    (
        "the Kubernetes API is unreachable since {}: {}",
        "Kubernetes API 自 {} 起无法访问：{}",
    ),
    (
        "no canary serves yet: every target waits its turn",
        "尚无灰度版提供服务：每个目标都在等待轮到自己",
    ),
    (
        "Deployment {} is not in the cluster",
        "集群中没有 Deployment {}",
    ),
    (
        "{} has 0 replicas: nothing serves",
        "{} 的副本数为 0：没有任何服务",
    ),
    ("{} {}/{} available", "{} {}/{} 可用"),
    ("{}: {}/{} available", "{}：{}/{} 可用"),
    ("{}: rolling out: {}", "{}：滚动更新中：{}"),
    ("{} {}/{} pods ready", "{} {}/{} 个 Pod 就绪"),
    (
        "{} {}/{} pods ready; not ready: {}",
        "{} {}/{} 个 Pod 就绪；未就绪：{}",
    ),
    ("{} restarted {}×", "{} 重启了 {} 次"),
    (
        "{}: no restarts{} ({} pods)",
        "{}：{}无重启（共 {} 个 Pod）",
    ),
    ("{} runs {}", "{} 运行 {}"),
    (
        "{} runs {}, not the release's {}",
        "{} 运行 {}，而非本次发布的 {}",
    ),
    ("not a watched check", "不是一项监视类检查"),
    // The gauges' and the rollout's words (src/ui/gauges.rs, src/ui/rollout.rs).
    (
        "{}: warn {} {}, critical {} {}",
        "{}：警告 {} {}，严重 {} {}",
    ),
    ("sampled {} ({} ago)", "采样于 {}（{} 前）"),
    ("fresh: sampled within {}", "最新：{} 内采样"),
    ("no data", "无数据"),
    ("{} idle", "{} 空闲"),
    ("idle", "空闲"),
    ("waiting", "等待中"),
    ("ERROR", "错误"),
    ("NO DATA", "无数据"),
    ("ERR {}", "错{}"),
    ("{} old", "{}前"),
    (
        "the journal holds decisions and gauges, not the cluster's objects: the log says what each action did",
        "日志记录的是决定和指标，而非集群中的对象：沟通记录说明了每个操作做了什么",
    ),
    (
        "no answer from the Kubernetes API yet: {}",
        "Kubernetes API 尚未应答：{}",
    ),
    (
        "waiting for the Kubernetes API's first answer…",
        "正在等待 Kubernetes API 的首次应答……",
    ),
    ("TRAFFIC by {}", "流量（按{}）"),
    ("ready pods", "就绪 Pod"),
    ("no {}", "无 {}"),
    ("other", "其他"),
    ("{} pods ({})", "{} 的 Pod（{}）"),
    ("complete", "完成"),
    ("desired", "期望"),
    ("updated", "已更新"),
    ("ready", "就绪"),
    ("available", "可用"),
    // The checklist's detail (src/ui/checklist.rs).
    (
        "— (set when the first stage starts)",
        "—（首个阶段开始时填写）",
    ),
    ("todo", "未完成"),
    (
        "signed by {}, entered by {} at {}",
        "由 {} 签字，{} 于 {} 录入",
    ),
    ("by {} at {}", "{} 于 {}"),
    ("role {}", "角色 {}"),
    ("gates {} (required)", "把关 {}（必需）"),
    ("not verified yet", "尚未验证"),
    (" · checking…", " · 检查中……"),
    (
        "verified by the console: {} (v: again)",
        "由控制台验证：{}（v：重新验证）",
    ),
    (
        "the console's rollback, in place of the runbook's steps · the cluster shows: {}",
        "控制台执行的回滚，代替运行手册的步骤 · 集群显示：{}",
    ),
    // The emergency plan and a pod's log (src/ui/overlay.rs), the rollback's steps.
    ("←/→ also: {}", "←/→ 另有：{}"),
    (
        "this runbook has no emergency plan (a phase with emergency: true)",
        "本运行手册没有应急预案（带 emergency: true 的阶段）",
    ),
    (
        "no contacts in this runbook (a contacts: section)",
        "本运行手册没有联系人（contacts: 一节）",
    ),
    ("(to fill)", "（待填写）"),
    (" ←/→ situation · Esc closes ", " ←/→ 情形 · Esc 关闭 "),
    (" Esc closes ", " Esc 关闭 "),
    (" Log of {} · Esc closes ", " {} 的日志 · Esc 关闭 "),
    (
        "✔ rollback step {}/{} confirmed by the cluster: {} ({})",
        "✔ 回滚第 {}/{} 步已由集群确认：{}（{}）",
    ),
    ("reading the log…", "正在读取日志……"),
    ("the log cannot be read: {}", "无法读取日志：{}"),
    ("(the log is empty)", "（日志为空）"),
    // The header's alarms and badges (src/ui/header.rs), and the frames around them.
    (" ≠ CLUSTER ", " ≠ 集群 "),
    ("c cancels", "c 取消"),
    ("the driving console acts", "由操作控制台执行"),
    (" AUTO ROLLBACK IN {} ", " 自动回滚倒计时 {} "),
    (" AUTO ROLLBACK NOW ", " 立即自动回滚 "),
    (" ROLLBACK TRIGGER MET ", " 回滚触发条件成立 "),
    (" NOBODY DRIVES ", " 无人主导 "),
    (" T takes over", " T 接管"),
    (" FOLLOWING ", " 跟随中 "),
    ("nobody yet", "尚无人"),
    ("the driver", "操作者"),
    (" · waiting for its records", " · 等待其记录"),
    (" · closed at {}", " · 已于 {} 关闭"),
    (" · live", " · 实时"),
    (" READ-ONLY ", " 只读 "),
    (" driven by {}", " 由 {} 主导"),
    (
        "terminal too small (need {}x{})",
        "终端太小（至少需要 {}x{}）",
    ),
    (
        " Who signs off as {}? (Enter signs, Esc cancels) ",
        " 谁以{}身份签字？（Enter 签字，Esc 取消） ",
    ),
    (
        "no fresh data for {} of {} gauges ({})",
        "{}/{} 个指标没有最新数据（{}）",
    ),
    ("{}, by {}: {} ({})", "{}，操作人 {}：{}（{}）"),
    // What an action did, or why it failed (src/kube/mod.rs).
    (
        "refused by the API server: another console has taken over this release ({} is marked {}={}, not this console's {}); nothing was changed",
        "被 API 服务器拒绝：另一个控制台已接管此次发布（{} 的标记为 {}={}，而非本控制台的 {}）；未做任何更改",
    ),
    (
        "refused by the API server: {} no longer carries this console's mark ({}={}), so it was replaced or relabelled after this console took the Lease; nothing was changed; restart the console to drive it again",
        "被 API 服务器拒绝：{} 已不带本控制台的标记（{}={}），它在本控制台取得 Lease 之后被替换或改了标签；未做任何更改；请重启控制台以再次主导发布",
    ),
    ("scale {} to {}", "将 {} 扩缩至 {}"),
    ("{} scaled to {}", "{} 已扩缩至 {}"),
    ("read {}", "读取 {}"),
    ("update {}", "更新 {}"),
    (
        "{} now rolls out {}; {} holds {} pods until that rollout is complete",
        "{} 正在发布 {}；在该发布完成之前 {} 保持 {} 个 Pod",
    ),
    ("read {} {}", "读取 {} {}"),
    ("set the weights of {} {}", "设置 {} {} 的权重"),
    ("now {}", "现为 {}"),
    ("pause {}", "暂停 {}"),
    ("resume {}", "恢复 {}"),
    ("{} paused", "{} 已暂停"),
    ("{} resumed", "{} 已恢复"),
    (
        "{} is paused: resume it before rolling back (kubectl refuses too)",
        "{} 已暂停：回滚之前请先恢复它（kubectl 同样拒绝）",
    ),
    ("list ReplicaSets of {}", "列出 {} 的 ReplicaSet"),
    (
        "no rollout history found for {}: there is no earlier revision to go back to",
        "未找到 {} 的发布历史：没有可以回退到的更早版本",
    ),
    ("revision {} has no pod template", "版本 {} 没有 Pod 模板"),
    (
        "skipped rollback: {} already runs revision {}'s template",
        "已跳过回滚：{} 已在运行版本 {} 的模板",
    ),
    ("roll back {}", "回滚 {}"),
    (
        "{} rolled back to revision {} ({})",
        "{} 已回滚到版本 {}（{}）",
    ),
    // How near a trigger is to being met (src/ui/header.rs).
    ("▲ {} {} {} {} for {} of {}", "▲ {} {} {} {} 已持续 {}/{}"),
    // What a verification checks, in words (src/state/verify.rs).
    (" above {}", " 高于 {}"),
    (" below {}", " 低于 {}"),
    ("gauge {}{}{}", "指标 {}{}{}"),
    ("status {}", "状态 {}"),
    ("within {}", "{} 之内"),
    ("contains “{}”", "包含“{}”"),
    ("header {}", "响应头 {}"),
    ("certificate ≥ {} days", "证书 ≥ {} 天"),
    ("Deployment available{}", "Deployment 可用{}"),
    ("all pods ready{}", "所有 Pod 就绪{}"),
    (
        "no restarts since the stage began{}",
        "本阶段开始以来无重启{}",
    ),
    ("image is the release's version{}", "镜像为本次发布的版本{}"),
    ("Kubernetes at least {}", "Kubernetes 不低于 {}"),
    ("{} {} exists", "{} {} 存在"),
    ("{} cores", "{} 核"),
    ("nodes allocatable ≥ {}", "节点可分配 ≥ {}"),
    // What the probes find (src/probe.rs).
    (
        "the Kubernetes API did not answer within {}s",
        "Kubernetes API 在 {} 秒内未应答",
    ),
    ("nothing the console can probe", "控制台无可探测之处"),
    (
        "no Prometheus is configured (prometheus.url or --prometheus)",
        "未配置 Prometheus（prometheus.url 或 --prometheus）",
    ),
    ("the bound is not a number", "界限不是数字"),
    (
        "the query matched no series: no data is not a pass",
        "查询未匹配任何序列：没有数据不算通过",
    ),
    (
        "the query returned NaN: no value to compare",
        "查询返回 NaN：没有可比较的值",
    ),
    (" and {} more series", "，另有 {} 个序列"),
    (
        "no Kubernetes client is configured",
        "未配置 Kubernetes 客户端",
    ),
    ("`{}` is not a version", "`{}` 不是版本号"),
    (
        "cannot read the server's version: {}",
        "无法读取服务器版本：{}",
    ),
    (
        "the API server runs {} (at least {})",
        "API 服务器运行 {}（不低于 {}）",
    ),
    (
        "the API server runs {}, older than {}",
        "API 服务器运行 {}，低于 {}",
    ),
    (
        "the server's version `{}` cannot be read",
        "无法识别服务器版本 `{}`",
    ),
    (
        "settled from the watches, not probed",
        "由监视数据判定，不做探测",
    ),
    ("{} exists", "{} 存在"),
    ("{} does not exist", "{} 不存在"),
    ("cannot read {}: {}", "无法读取 {}：{}"),
    ("cannot list the nodes: {}", "无法列出节点：{}"),
    (
        "{} Ready nodes of {}: {} cores, {} GiB allocatable",
        "{} 个就绪节点（共 {} 个）：可分配 {} 核、{} GiB",
    ),
    ("CPU {} < {} cores", "CPU {} < {} 核"),
    ("memory {} GiB < {}", "内存 {} GiB < {}"),
    ("cannot read the CA file {}: {}", "无法读取 CA 文件 {}：{}"),
    ("{} holds no PEM certificate", "{} 中没有 PEM 证书"),
    (
        "cannot build the HTTP client: {}",
        "无法创建 HTTP 客户端：{}",
    ),
    (
        "{} is not set: export it where the console runs (the service's address), and nothing is probed until it is",
        "{} 未设置：请在控制台运行之处导出它（服务的地址），设置之前不做任何探测",
    ),
    ("no answer within {}", "{} 内无应答"),
    ("cannot connect: {}", "无法连接：{}"),
    (
        "GET {}: {}, but the body did not arrive: {}",
        "GET {}：{}，但响应体未到达：{}",
    ),
    ("GET {}: {} in {}", "GET {}：{}，用时 {}"),
    ("status {}, not {}", "状态 {}，而非 {}"),
    ("status {}, not 2xx", "状态 {}，而非 2xx"),
    ("answered in {}, slower than {}", "应答用时 {}，慢于 {}"),
    ("body contains “{}”", "响应体包含“{}”"),
    ("the body does not contain “{}”", "响应体不包含“{}”"),
    ("(not text)", "（非文本）"),
    ("no {} header", "没有 {} 响应头"),
    ("no server certificate was seen", "未见到服务器证书"),
    (
        "the server's certificate cannot be read",
        "无法读取服务器证书",
    ),
    (
        "certificate valid until {} ({} days)",
        "证书有效期至 {}（{} 天）",
    ),
    (
        "the certificate expires {}, in {} days (fewer than {})",
        "证书于 {} 到期，还剩 {} 天（少于 {} 天）",
    ),
    // What a console finds in the journal it opens (src/app.rs).
    (
        "the previous session ended without closing: its last record was at {}",
        "上一次会话未正常关闭：其最后一条记录在 {}",
    ),
    (
        "line {} of the journal, its last, was cut short (a crash mid-write?): its bytes were moved to {} and everything before it was restored",
        "日志的第 {} 行（最后一行）不完整（写入时崩溃？）：其内容已移至 {}，之前的所有记录均已恢复",
    ),
    (
        "action #{} was sent at {} but its result was never recorded: it is checked against the cluster as soon as the cluster is seen",
        "操作 #{} 已于 {} 发出，但其结果未被记录：一旦看到集群即与之核对",
    ),
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
    fn the_report_finds_who_drove_in_either_language() {
        use crate::update::drives;
        for lang in [Lang::En, Lang::Zh] {
            let lines = [
                trf(
                    lang,
                    "{}'s console drives the release: it holds the Lease {}",
                    &[&"lin", &"erp/warroom-erp"],
                ),
                trf(lang, "{} takes over driving the release", &[&"wang"]),
                trf(
                    lang,
                    "{} takes over driving the release, on the journal it followed",
                    &[&"wang"],
                ),
            ];
            for l in &lines {
                assert!(drives(l), "{l}");
            }
            assert!(!drives(&trf(
                lang,
                "{}: press T to take over driving it",
                &[&"x"]
            )));
        }
    }

    #[test]
    fn a_session_that_ended_is_known_in_either_language() {
        use crate::journal::{Entry, Level};
        use crate::state::closes;
        for lang in [Lang::En, Lang::Zh] {
            for text in [
                trf(lang, "closed the console at {}", &[&"canary-10"]),
                trf(
                    lang,
                    "the console ended on {} at {} (the terminal or session went away); {}",
                    &[
                        &"SIGHUP",
                        &"canary-10",
                        &tr(lang, "the cluster stays as it is"),
                    ],
                ),
            ] {
                assert!(
                    closes(&Entry::System {
                        level: Level::Info,
                        text: text.clone()
                    }),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn english_stays_english() {
        assert_eq!(tr(Lang::En, "Checklist"), "Checklist");
        assert_eq!(tr(Lang::Zh, "Checklist"), "检查清单");
    }
}
