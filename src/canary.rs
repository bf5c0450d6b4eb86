//! The canary mechanics: how a stage's share of traffic reaches a target's objects in the
//! cluster, by the target's strategy, and what the cluster should look like then. This is
//! the one place that matches on the strategy (`Split`); everything here is pure, on the
//! cluster as last seen.

use crate::cluster::{Cluster, RolloutStatus, RouteKind, rollout_status};
use crate::effect::KubeOp;
use crate::i18n::{tr, trf};
use crate::runbook::{KubeTarget, Lang, Split};

/// What a stage (or a rollback) does on a target: a title, the plan's lines, the operation,
/// and what in the cluster stands in its way.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub title: String,
    pub plan: Vec<String>,
    pub op: KubeOp,
    pub blockers: Vec<String>,
}

/// The objects of the release's targets that the console watches and marks as driven by
/// it: their Deployments, and the routes whose weights split their traffic where their
/// strategy uses one.
pub fn objects(targets: &[KubeTarget]) -> (Vec<String>, Vec<(RouteKind, String)>) {
    let mut deployments = Vec::new();
    let mut routes = Vec::new();
    for k in targets {
        deployments.extend([k.stable.clone(), k.canary.clone()]);
        match k.split() {
            Split::Route { kind, route, .. } => routes.push((kind, route.to_string())),
            Split::Replicas(_) => {}
        }
    }
    (deployments, routes)
}

/// One step made of each target's, in the order given: one title, each target's plan in
/// turn, one operation that makes each target's change in that order. A release of one
/// target reads exactly as that target's step.
fn together(lang: Lang, verb: &str, mut steps: Vec<(&KubeTarget, Step)>) -> Step {
    if steps.len() == 1 {
        return steps.remove(0).1;
    }
    let names: Vec<&str> = steps.iter().map(|(k, _)| k.name()).collect();
    let mut plan = Vec::new();
    let mut ops = Vec::new();
    let mut blockers = Vec::new();
    for (n, (k, step)) in steps.into_iter().enumerate() {
        plan.push(format!("{}. {}: {}", n + 1, k.name(), step.title));
        plan.extend(step.plan.into_iter().map(|l| format!("   {l}")));
        blockers.extend(
            step.blockers
                .into_iter()
                .map(|b| format!("{}: {b}", k.name())),
        );
        ops.push(step.op);
    }
    Step {
        title: trf(
            lang,
            "{} on {} services: {}",
            &[&verb, &names.len(), &names.join(" → ")],
        ),
        plan,
        op: KubeOp::Steps(ops),
        blockers,
    }
}

/// Advance every target but those `out` to `traffic` percent: in `order` (indices), one
/// after another, when it names one (the operation is then the first target's alone: the
/// console makes each next one once the cluster shows the one before it done); else all
/// at once, in the runbook's order.
pub fn stage_all(
    targets: &[KubeTarget],
    (order, out): (&[usize], &[usize]),
    cluster: &Cluster,
    traffic: u32,
    cause: &str,
    lang: Lang,
) -> Step {
    let verb = if traffic >= 100 {
        tr(lang, "Promote to 100%").to_string()
    } else {
        trf(lang, "Shift traffic to {}%", &[&traffic])
    };
    // A target rolled back alone (`out`) stays where it is.
    let order: Vec<usize> = order.iter().copied().filter(|t| !out.contains(t)).collect();
    if order.len() < 2 {
        let steps = targets
            .iter()
            .enumerate()
            .filter(|(t, _)| !out.contains(t))
            .map(|(_, k)| (k, stage(k, cluster, traffic, cause.to_string(), lang)))
            .collect();
        return together(lang, &verb, steps);
    }
    let steps: Vec<(&KubeTarget, Step)> = order
        .iter()
        .map(|&i| &targets[i])
        .map(|k| (k, stage(k, cluster, traffic, cause.to_string(), lang)))
        .collect();
    let first = steps[0].1.op.clone();
    let names: Vec<&str> = steps.iter().map(|(k, _)| k.name()).collect();
    let title = trf(
        lang,
        "{} on {} services, one after another: {}",
        &[&verb, &names.len(), &names.join(" → ")],
    );
    let mut step = together(lang, &verb, steps);
    step.title = title;
    step.op = first;
    step.plan.push(
        tr(lang, "Each target moves once the cluster shows the one before it done (rolled out, every pod ready, its traffic as the stage means); the hold starts when the last has moved. R rolls back whatever has moved.")
            .into(),
    );
    step
}

/// Whether the cluster shows the target's step for `traffic` percent done: its shape as
/// the stage means, both Deployments rolled out with every pod ready.
pub fn step_done(k: &KubeTarget, cluster: &Cluster, traffic: u32, promoted: bool) -> bool {
    drift(k, cluster, traffic, promoted, "", Lang::En).is_none()
        && [&k.stable, &k.canary].into_iter().all(|n| {
            cluster.deployment(n).is_some_and(|d| {
                rollout_status(d) == RolloutStatus::Complete && d.ready >= d.desired
            })
        })
}

/// Roll back every target that has something to roll back, in the reverse of the
/// runbook's order (the last moved is the first back). `moved(i)`: whether target `i`
/// was promoted, and whether it was started (see `rollback`). An error only when none
/// has anything to roll back.
pub fn rollback_all(
    targets: &[KubeTarget],
    cluster: &Cluster,
    moved: impl Fn(usize) -> (bool, bool),
    lang: Lang,
) -> Result<Step, String> {
    let mut steps = Vec::new();
    let mut nothing = Vec::new();
    for (i, k) in targets.iter().enumerate().rev() {
        let (promoted, started) = moved(i);
        match rollback(k, cluster, promoted, started, lang) {
            Ok(step) => steps.push((k, step)),
            Err(e) => nothing.push(e),
        }
    }
    if steps.is_empty() {
        return Err(nothing.join("; "));
    }
    let mut step = together(lang, tr(lang, "Roll back"), steps);
    if targets.len() > 1 {
        step.plan
            .extend(nothing.into_iter().map(|e| format!("({e})")));
    }
    Ok(step)
}

/// The canaries no longer needed after a promotion by replicas (see `retire`), all at
/// once: the plan's line and the operation.
pub fn retire_all(
    targets: &[KubeTarget],
    cluster: &Cluster,
    lang: Lang,
) -> Option<(String, KubeOp)> {
    let mut ready: Vec<(String, KubeOp)> = targets
        .iter()
        .filter_map(|k| retire(k, cluster, lang))
        .collect();
    match ready.len() {
        0 => None,
        1 => ready.pop(),
        _ => {
            let (plans, ops): (Vec<String>, Vec<KubeOp>) = ready.into_iter().unzip();
            Some((plans.join(lang.semicolon()), KubeOp::Steps(ops)))
        }
    }
}

/// The rollback as the console carries it out on every target, in the order it goes
/// (the reverse of the runbook's); each step names its target when there are several.
pub fn rollback_steps_all(
    targets: &[KubeTarget],
    cluster: &Cluster,
    undo: impl Fn(usize) -> bool,
    version: &str,
    lang: Lang,
) -> Vec<LiveStep> {
    let many = targets.len() > 1;
    targets
        .iter()
        .enumerate()
        .rev()
        .flat_map(|(i, k)| {
            rollback_steps(k, cluster, undo(i), version, lang)
                .into_iter()
                .map(move |mut st| {
                    if many {
                        st.text = format!("{}: {}", k.name(), st.text);
                    }
                    st
                })
        })
        .collect()
}

/// The replica split for a stage: (canary, stable, a note when rounding was needed).
pub fn split(total: u32, traffic: u32, lang: Lang) -> (u32, u32, Option<String>) {
    let exact = total as f64 * traffic as f64 / 100.0;
    let canary = (exact.round() as u32).clamp(1, total);
    let note = (exact.fract() != 0.0 || canary as f64 != exact).then(|| {
        trf(
            lang,
            "{}% of {} replicas is {}; rounded to {} canary, so the canary takes {}% of pods",
            &[
                &traffic,
                &total,
                &format!("{exact:.1}"),
                &canary,
                &format!("{:.0}", 100.0 * canary as f64 / total as f64),
            ],
        )
    });
    (canary, total - canary, note)
}

/// Advance the target to `traffic` percent; `cause` is the change-cause a promotion
/// records.
pub fn stage(k: &KubeTarget, cluster: &Cluster, traffic: u32, cause: String, lang: Lang) -> Step {
    match k.split() {
        Split::Route {
            kind,
            route,
            stable,
            canary,
        } => {
            let mut step = weights(k, cluster, (kind, route), (stable, canary), traffic, lang);
            step.blockers = route_blockers(k, cluster, kind, route, traffic, lang);
            step
        }
        Split::Replicas(total) if traffic >= 100 => {
            let image = cluster
                .deployment(&k.canary)
                .map(|d| d.image.clone())
                .unwrap_or_else(|| "?".into());
            Step {
                title: trf(
                    lang,
                    "Promote to 100%: roll {} to {} at {} replicas; {} to 0 once that rollout is complete",
                    &[&k.stable, &image, &total, &k.canary],
                ),
                plan: vec![
                    trf(
                        lang,
                        "{}'s pod template becomes {}'s (image {}): a rolling update, new revision",
                        &[&k.stable, &k.canary, &image],
                    ),
                    trf(
                        lang,
                        "Capacity is kept: {} first grows by as many pods as {}'s rollout may take down at once (its maxUnavailable), and {} changes only once they are ready.",
                        &[&k.canary, &k.stable, &k.stable],
                    ),
                    format!("kubernetes.io/change-cause: \"{cause}\""),
                ],
                op: KubeOp::Promote {
                    stable: k.stable.clone(),
                    canary: k.canary.clone(),
                    replicas: total,
                    cause,
                },
                blockers: Vec::new(),
            }
        }
        Split::Replicas(total) => {
            let (c, st, note) = split(total, traffic, lang);
            Step {
                title: trf(
                    lang,
                    "Shift traffic to {}%: scale {} to {} and {} to {}",
                    &[&traffic, &k.canary, &c, &k.stable, &st],
                ),
                plan: note.into_iter().collect(),
                op: KubeOp::Scale {
                    targets: vec![(k.canary.clone(), c), (k.stable.clone(), st)],
                },
                blockers: Vec::new(),
            }
        }
    }
}

/// Roll the target back to its stable version. `promoted`: the 100% stage was reached (the
/// stable Deployment runs the new version); `started`: a stage was started or an action
/// is in flight, so there is something to undo even if the cluster does not show it yet.
pub fn rollback(
    k: &KubeTarget,
    cluster: &Cluster,
    promoted: bool,
    started: bool,
    lang: Lang,
) -> Result<Step, String> {
    match k.split() {
        Split::Route {
            kind,
            route,
            stable,
            canary,
        } => {
            let weight = cluster.route(kind, route).and_then(|r| r.weight(canary));
            if !started && weight == Some(0) {
                return Err(trf(
                    lang,
                    "nothing to roll back: {} {} sends nothing to {}",
                    &[&kind.kind(), &route, &canary],
                ));
            }
            let mut step = weights(k, cluster, (kind, route), (stable, canary), 0, lang);
            step.plan.insert(
                0,
                trf(
                    lang,
                    "All traffic returns to {} at once; {}'s pods stay up for inspection.",
                    &[&stable, &canary],
                ),
            );
            step.title = trf(
                lang,
                "Roll back: {} {} sends all traffic to {} ({}=100, {}=0)",
                &[&kind.kind(), &route, &stable, &stable, &canary],
            );
            Ok(step)
        }
        Split::Replicas(_) if promoted => {
            let prev = previous_revision(cluster, &k.stable);
            let target = match &prev {
                Some((rev, image)) => trf(lang, "revision {} ({})", &[rev, image]),
                None => tr(lang, "its previous revision").into(),
            };
            // A promotion not yet finished leaves the canary up, serving the new version
            // beside the stable pods: it stops first (speed before capacity), then the undo.
            let canary_left = cluster
                .deployment(&k.canary)
                .map_or(0, |d| d.desired.max(d.replicas));
            let undo = KubeOp::Undo {
                deployment: k.stable.clone(),
            };
            let mut plan = vec![
                tr(lang, "All traffic stays on one Deployment; its pods roll back to the previous template.")
                    .to_string(),
                tr(lang, "The Deployment ends exactly as kubectl rollout undo leaves it (its change-cause is the restored revision's); an Event on it records who and why.")
                    .into(),
            ];
            let op = if canary_left > 0 {
                plan.insert(
                    0,
                    trf(
                        lang,
                        "{} still runs {} pods of the new version (the promotion had not retired it yet): it goes to 0 first.",
                        &[&k.canary, &canary_left],
                    ),
                );
                KubeOp::Steps(vec![
                    KubeOp::Scale {
                        targets: vec![(k.canary.clone(), 0)],
                    },
                    undo,
                ])
            } else {
                undo
            };
            Ok(Step {
                title: trf(
                    lang,
                    "Roll back {} to {}, as kubectl rollout undo does",
                    &[&k.stable, &target],
                ),
                plan,
                op,
                blockers: prev
                    .is_none()
                    .then(|| {
                        trf(
                            lang,
                            "no earlier revision of {} is visible in the cluster",
                            &[&k.stable],
                        )
                    })
                    .into_iter()
                    .collect(),
            })
        }
        Split::Replicas(total) => {
            let canary_up = cluster.deployment(&k.canary).is_some_and(|d| d.desired > 0);
            if !started && !canary_up {
                return Err(trf(
                    lang,
                    "nothing to roll back: {} has no replicas",
                    &[&k.canary],
                ));
            }
            let stable_ready = cluster.deployment(&k.stable).map(|d| d.ready).unwrap_or(0);
            let mut plan = vec![tr(lang, "All traffic returns to the stable version.").to_string()];
            if stable_ready < total {
                plan.push(trf(
                    lang,
                    "The canary stops at once: until {}'s {} new pods are ready, {} of {} pods serve (speed before capacity).",
                    &[&k.stable, &(total - stable_ready), &stable_ready, &total],
                ));
            }
            Ok(Step {
                title: trf(
                    lang,
                    "Roll back: scale {} to 0 and {} to {}",
                    &[&k.canary, &k.stable, &total],
                ),
                plan,
                op: KubeOp::Scale {
                    targets: vec![(k.stable.clone(), total), (k.canary.clone(), 0)],
                },
                blockers: Vec::new(),
            })
        }
    }
}

/// After a promotion by replicas, once the stable Deployment's rollout of the new version
/// is complete, the canary's pods are no longer needed: the plan's line and the operation
/// that retires them. None for other strategies (a route keeps the canary's pods for
/// inspection) and while the rollout is under way.
pub fn retire(k: &KubeTarget, cluster: &Cluster, lang: Lang) -> Option<(String, KubeOp)> {
    match k.split() {
        Split::Route { .. } => None,
        Split::Replicas(_) => {
            let stable = cluster.deployment(&k.stable)?;
            let canary = cluster.deployment(&k.canary)?;
            if canary.desired == 0
                || stable.image != canary.image
                || rollout_status(stable) != RolloutStatus::Complete
                || stable.ready < stable.desired
            {
                return None;
            }
            Some((
                trf(
                    lang,
                    "Retire the canary: scale {} to 0 ({}'s rollout of {} is complete, {} of {} ready)",
                    &[
                        &k.canary,
                        &k.stable,
                        &stable.image,
                        &stable.ready,
                        &stable.desired,
                    ],
                ),
                KubeOp::Scale {
                    targets: vec![(k.canary.clone(), 0)],
                },
            ))
        }
    }
}

/// How the cluster differs from the shape that `traffic` percent (stage `name`) means
/// for the target, in words; None when they agree or the cluster cannot tell yet.
pub fn drift(
    k: &KubeTarget,
    cluster: &Cluster,
    traffic: u32,
    promoted: bool,
    name: &str,
    lang: Lang,
) -> Option<String> {
    match k.split() {
        Split::Replicas(total) => {
            // Promoted, the canary keeps its pods until the stable rollout is done.
            if promoted
                && cluster.deployment(&k.stable).is_some_and(|d| {
                    rollout_status(d) != RolloutStatus::Complete || d.ready < d.desired
                })
            {
                return None;
            }
            let (canary, stable) = if promoted || traffic == 0 || traffic >= 100 {
                (0, total)
            } else {
                let (c, st, _) = split(total, traffic, lang);
                (c, st)
            };
            let c = cluster.deployment(&k.canary)?.desired;
            let st = cluster.deployment(&k.stable)?.desired;
            (c != canary || st != stable).then(|| {
                trf(
                    lang,
                    "the cluster runs {} at {} and {} at {} replicas; {} means {} and {}",
                    &[&k.canary, &c, &k.stable, &st, &name, &canary, &stable],
                )
            })
        }
        Split::Route {
            kind,
            route,
            canary,
            ..
        } => {
            let r = cluster.route(kind, route)?;
            let share = r.percent(canary)?;
            (share.round() as u32 != traffic).then(|| {
                trf(
                    lang,
                    "{} {} sends {}% to {}; {} means {}%",
                    &[
                        &kind.kind(),
                        &route,
                        &format!("{share:.0}"),
                        &canary,
                        &name,
                        &traffic,
                    ],
                )
            })
        }
    }
}

/// The canary takes no traffic now, as the cluster shows it.
pub fn canary_idle(k: &KubeTarget, cluster: &Cluster) -> bool {
    match k.split() {
        Split::Replicas(_) => cluster
            .deployment(&k.canary)
            .is_some_and(|d| d.desired == 0 && d.ready == 0),
        Split::Route {
            kind,
            route,
            canary,
            ..
        } => cluster.route(kind, route).and_then(|r| r.weight(canary)) == Some(0),
    }
}

/// The revision `kubectl rollout undo` would go back to, and its image, as the cluster
/// shows them now: the second-highest revision among the Deployment's ReplicaSets.
pub fn previous_revision(cluster: &Cluster, deploy: &str) -> Option<(i64, String)> {
    let mut revs: Vec<(i64, String)> = cluster
        .snap
        .replicasets
        .iter()
        .filter(|r| r.owner == deploy)
        .filter_map(|r| r.revision.parse().ok().map(|n| (n, r.image.clone())))
        .collect();
    revs.sort();
    revs.iter().rev().nth(1).cloned()
}

/// The route's weights for `traffic` percent to the canary, and the canary scaled up
/// first when it has fewer pods than its share needs.
fn weights(
    k: &KubeTarget,
    cluster: &Cluster,
    (kind, route): (RouteKind, &str),
    (stable, canary): (&str, &str),
    traffic: u32,
    lang: Lang,
) -> Step {
    let weights = vec![
        (stable.to_string(), 100 - traffic),
        (canary.to_string(), traffic),
    ];
    let title = if traffic >= 100 {
        trf(
            lang,
            "Send all traffic to the canary: {} {} weights {}=0, {}=100",
            &[&kind.kind(), &route, &stable, &canary],
        )
    } else {
        trf(
            lang,
            "Shift traffic to {}%: {} {} weights {}={}, {}={}",
            &[
                &traffic,
                &kind.kind(),
                &route,
                &stable,
                &(100 - traffic),
                &canary,
                &traffic,
            ],
        )
    };
    let mut plan = Vec::new();
    // As many canary pods as its share of the stable's pods, so each pod's load stays.
    let stable_pods = cluster
        .deployment(&k.stable)
        .map(|d| d.desired)
        .unwrap_or(0);
    let need = ((stable_pods as u64 * traffic as u64).div_ceil(100) as u32).max(1);
    let canary_view = cluster.deployment(&k.canary);
    let have = canary_view.map(|d| d.desired).unwrap_or(0);
    let canary_replicas = (traffic > 0 && have < need).then_some(need);
    if let Some(n) = canary_replicas {
        let ready = canary_view.map(|d| d.ready).unwrap_or(0);
        plan.push(trf(
            lang,
            "First scale {} from {} to {} pods for its share; until they are ready its {} ready pods take it.",
            &[&k.canary, &have, &n, &ready],
        ));
    }
    if let Some(r) = cluster.route(kind, route) {
        plan.push(trf(lang, "Now: {}", &[&r.describe()]));
    }
    plan.push(trf(
        lang,
        "{} takes the new weights when it next reconciles the route; no Deployment's template changes.",
        &[&kind.applier()],
    ));
    Step {
        title,
        plan,
        op: KubeOp::Weights {
            kind,
            route: route.to_string(),
            weights,
            canary: k.canary.clone(),
            canary_replicas,
            deployments: vec![k.canary.clone(), k.stable.clone()],
        },
        blockers: Vec::new(),
    }
}

fn route_blockers(
    k: &KubeTarget,
    cluster: &Cluster,
    kind: RouteKind,
    route: &str,
    traffic: u32,
    lang: Lang,
) -> Vec<String> {
    let mut b = Vec::new();
    if cluster.route(kind, route).is_none() {
        b.push(trf(
            lang,
            "{} {} has not been seen in the cluster",
            &[&kind.kind(), &route],
        ));
    }
    if traffic > 0 && cluster.deployment(&k.canary).is_some_and(|d| d.ready == 0) {
        b.push(trf(
            lang,
            "{} has no ready pods: {}% of requests would fail; scale it up and wait for ready pods",
            &[&k.canary, &traffic],
        ));
    }
    b
}

/// One step of a rollback as the console carries it out, and whether the cluster shows it
/// done: what `kubectl` would be asked, said in the cluster's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveStep {
    pub text: String,
    /// What the cluster shows now toward it.
    pub seen: String,
    pub done: bool,
}

/// The rollback the console performs on a target, step by step, checked against the
/// cluster as last seen. `undo`: the rollback after promotion (the stable Deployment
/// back to its previous revision); else the canary stage's (traffic back to stable).
/// `version`: the release's version, which an undone Deployment no longer runs.
pub fn rollback_steps(
    k: &KubeTarget,
    cluster: &Cluster,
    undo: bool,
    version: &str,
    lang: Lang,
) -> Vec<LiveStep> {
    let stable = cluster.deployment(&k.stable);
    let canary = cluster.deployment(&k.canary);
    // Rolled out, at `want` replicas when the rollback sets them.
    let rolled_out = |name: &str, want: Option<u32>| -> LiveStep {
        let d = cluster.deployment(name);
        let (done, seen) = match d.map(rollout_status) {
            Some(RolloutStatus::Complete) => {
                let d = d.expect("seen");
                (
                    d.available >= d.desired && want.is_none_or(|w| d.desired == w),
                    trf(
                        lang,
                        "{}/{} available",
                        &[&d.available, &want.unwrap_or(d.desired)],
                    ),
                )
            }
            Some(RolloutStatus::Waiting(w)) | Some(RolloutStatus::Failed(w)) => (false, w),
            None => (false, trf(lang, "{} not seen", &[&name])),
        };
        LiveStep {
            text: format!("kubectl rollout status deployment/{name}: successfully rolled out"),
            seen,
            done,
        }
    };
    // (ready, all) pods of the Deployment.
    let pods_of = |name: &str| -> (usize, usize) {
        let pods: Vec<_> = cluster.pods_of(name, None).collect();
        (pods.iter().filter(|p| p.ready()).count(), pods.len())
    };
    if undo && matches!(k.split(), Split::Replicas(_)) {
        let image = stable.map(|d| d.image.clone()).unwrap_or_default();
        let back = stable.is_some_and(|d| crate::runbook::Scenario::tag(&d.image) != version);
        let (ready, all) = pods_of(&k.stable);
        let desired = stable.map_or(0, |d| d.desired as usize);
        return vec![
            LiveStep {
                text: trf(
                    lang,
                    "kubectl rollout undo deployment/{} (resumed first if paused)",
                    &[&k.stable],
                ),
                seen: if back {
                    trf(lang, "{} runs {} again", &[&k.stable, &image])
                } else {
                    trf(lang, "{} still runs {}", &[&k.stable, &image])
                },
                done: back && stable.is_some_and(|d| !d.paused),
            },
            rolled_out(&k.stable, None),
            LiveStep {
                text: trf(lang, "kubectl get pods: every {} pod ready", &[&k.stable]),
                seen: trf(lang, "{}/{} ready ({} pods)", &[&ready, &desired, &all]),
                done: back && ready == desired && all == desired && desired > 0,
            },
            {
                let (_, left) = pods_of(&k.canary);
                LiveStep {
                    text: trf(lang, "kubectl get pods: no {} pod left", &[&k.canary]),
                    seen: trf(lang, "{} {} pods", &[&left, &k.canary]),
                    done: canary.is_none_or(|d| d.desired == 0) && left == 0,
                }
            },
        ];
    }
    match k.split() {
        Split::Route {
            kind,
            route,
            stable: sb,
            canary: cb,
        } => {
            let w = cluster.route(kind, route);
            let cw = w.and_then(|r| r.weight(cb));
            vec![
                LiveStep {
                    text: format!("{} {route}: {sb}=100, {cb}=0", kind.kind()),
                    seen: w.map_or(tr(lang, "the route not seen").into(), |r| r.describe()),
                    done: cw == Some(0),
                },
                rolled_out(&k.stable, None),
            ]
        }
        Split::Replicas(total) => {
            let (_, canary_pods) = pods_of(&k.canary);
            vec![
                LiveStep {
                    text: format!(
                        "kubectl scale deployment/{} --replicas=0; deployment/{} --replicas={total}",
                        k.canary, k.stable
                    ),
                    seen: trf(
                        lang,
                        "{} wants {}, {} wants {}",
                        &[
                            &k.canary,
                            &canary.map_or(0, |d| d.desired),
                            &k.stable,
                            &stable.map_or(0, |d| d.desired),
                        ],
                    ),
                    done: canary.is_some_and(|d| d.desired == 0)
                        && stable.is_some_and(|d| d.desired == total),
                },
                rolled_out(&k.stable, Some(total)),
                LiveStep {
                    text: trf(lang, "kubectl get pods: no {} pod left", &[&k.canary]),
                    seen: trf(lang, "{} {} pods", &[&canary_pods, &k.canary]),
                    done: canary.is_some_and(|d| d.desired == 0) && canary_pods == 0,
                },
            ]
        }
    }
}

/// The pods as the rollout pane lists them, target by target: each target's canary pods
/// first (they are the ones being judged), then its stable's, then any other pod; each
/// with its group (`2 * target` for a canary's, `2 * target + 1` for a stable's,
/// `2 * targets.len()` for neither). A canary's name may extend its stable's
/// (`erp-backend-canary-…` starts with `erp-backend-`), so it is tried first.
pub fn pods_in_order<'a>(
    targets: &[KubeTarget],
    cluster: &'a Cluster,
) -> Vec<(usize, &'a crate::cluster::PodView)> {
    let prefixes: Vec<String> = targets
        .iter()
        .flat_map(|k| [format!("{}-", k.canary), format!("{}-", k.stable)])
        .collect();
    // The longest matching name wins: a stable named like another target's prefix.
    let group = |owner: &str| {
        prefixes
            .iter()
            .enumerate()
            .filter(|(_, pre)| owner.starts_with(pre.as_str()))
            .max_by_key(|(_, pre)| pre.len())
            .map_or(prefixes.len(), |(g, _)| g)
    };
    let mut rows: Vec<(usize, &crate::cluster::PodView)> = cluster
        .snap
        .pods
        .iter()
        .map(|p| (group(&p.owner), p))
        .collect();
    rows.sort_by_key(|(g, _)| *g);
    rows
}
