//! Runbook parsing: the shipped runbooks load, the seed is carried over whole, and every
//! kind of bad file is refused with its position and how to fix it.

use std::path::Path;

use warroom::runbook::{ItemKind, Problems, load, parse_runbook};

fn seed_checks() -> Vec<String> {
    let seed = std::fs::read_to_string("tests/fixtures/erp-production-checklist.zh.md").unwrap();
    seed.lines()
        .filter_map(|l| {
            let t = l.trim_start();
            t.strip_prefix("- [ ] ")
                .or_else(|| t.strip_prefix("- [x] "))
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn the_chinese_runbook_carries_every_seed_item_in_order() {
    let rb = load(Path::new("assets/runbooks/erp-v1.0.0.zh.yaml")).unwrap();
    let checks: Vec<String> = rb
        .flat_items()
        .into_iter()
        .filter(|i| i.kind == ItemKind::Check)
        .map(|i| i.text)
        .collect();
    let seed = seed_checks();
    assert_eq!(seed.len(), 143);
    assert_eq!(checks, seed);
    // the seed's `[x]` items arrive done
    let done: Vec<_> = rb
        .flat_items()
        .into_iter()
        .filter(|i| i.done)
        .map(|i| i.text)
        .collect();
    assert_eq!(
        done,
        [
            "功能测试通过",
            "性能测试通过",
            "安全测试通过",
            "兼容性测试通过",
            "用户验收测试通过"
        ]
    );
    // the sections that are not checkboxes are there too
    let titles: Vec<&str> = rb.phases.iter().map(|p| p.title.as_str()).collect();
    for t in [
        "回滚计划",
        "部署后检查",
        "应急预案",
        "联系人和沟通",
        "最终确认",
    ] {
        assert!(titles.contains(&t), "missing phase {t}: {titles:?}");
    }
    let items = rb.flat_items();
    let kind_count = |k| items.iter().filter(|i| i.kind == k).count();
    assert_eq!(kind_count(ItemKind::Signoff), 3);
    assert_eq!(kind_count(ItemKind::Contact), 4);
    assert_eq!(
        kind_count(ItemKind::Step),
        16,
        "4 rollback steps and 12 emergency steps"
    );
    assert_eq!(rb.release.planned_duration.secs(), 7200);
    let m = |id: &str| rb.metrics.iter().find(|m| m.id == id).unwrap().clone();
    assert_eq!(
        (
            m("cpu").critical,
            m("memory").critical,
            m("error-rate").warn,
            m("p95-latency").critical,
            m("disk").critical
        ),
        (80.0, 90.0, 1.0, 3.0, 85.0)
    );
}

#[test]
fn the_english_runbook_mirrors_the_chinese_one() {
    let zh = load(Path::new("assets/runbooks/erp-v1.0.0.zh.yaml")).unwrap();
    let en = load(Path::new("assets/runbooks/erp-v1.0.0.en.yaml")).unwrap();
    let ids = |rb: &warroom::runbook::Runbook| {
        rb.flat_items()
            .into_iter()
            .map(|i| (i.id, i.kind, i.gates, i.done))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&zh), ids(&en));
    assert!(en.flat_items().iter().all(|i| {
        !i.text
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }));
}

#[test]
fn the_demo_runbook_loads() {
    let rb = load(Path::new("assets/runbooks/demo.yaml")).unwrap();
    assert_eq!(
        rb.stages.iter().map(|s| s.traffic).collect::<Vec<_>>(),
        [10, 100]
    );
    assert_eq!(
        warroom::builtin::DEMO_RUNBOOK,
        std::fs::read_to_string("assets/runbooks/demo.yaml").unwrap()
    );
}

const GOOD: &str = "\
release:
  name: Shop
  version: v2
  date: 2026-01-02
  owner: Ops
  planned_duration: 1h
kubernetes:
  namespace: shop
  stable: web
  canary: web-canary
  traffic:
    strategy: replica-ratio
    replicas: 4
stages:
  - id: c10
    title: Canary
    traffic: 25
    hold: 1m
  - id: full
    title: Full
    traffic: 100
    hold: 1m
metrics:
  - id: err
    title: Errors
    query: sum(rate(x[1m]))
    unit: percent
    warn: 1
    critical: 5
    bad: above
rollback_triggers:
  - id: auto
    kind: automatic
    action: announce
    text: errors
    conditions:
      - metric: err
        above: 5
        for: 1m
phases:
  - id: prep
    title: Prep
    gates: c10
    groups:
      - title: Backups
        items:
          - id: backup
            text: Back up the database
          - id: config
            text: Back up config
";

fn bad(edit: impl Fn(&str) -> String) -> Problems {
    let src = edit(GOOD);
    parse_runbook(Path::new("bad.yaml"), &src).expect_err("the edited runbook must be refused")
}

fn one(p: &Problems) -> (usize, usize, String) {
    assert_eq!(p.0.len(), 1, "{p}");
    let x = &p.0[0];
    assert_eq!(x.file, Path::new("bad.yaml"));
    (x.line, x.column, x.message.clone())
}

#[test]
fn a_good_runbook_parses() {
    let rb = parse_runbook(Path::new("good.yaml"), GOOD).unwrap();
    assert_eq!(
        rb.summary(),
        "Shop v2: 1 phases, 2 items (2 to tick), 2 stages, 1 metrics, 1 rollback triggers"
    );
}

#[test]
fn unknown_keys_are_refused_where_they_are() {
    let (l, c, m) = one(&bad(|s| {
        s.replace("    title: Prep\n", "    titel: Prep\n")
    }));
    assert_eq!((l, c), (42, 5));
    assert!(
        m.starts_with("unknown field `titel`, expected one of"),
        "{m}"
    );
    assert!(m.ends_with("remove it or correct its spelling"), "{m}");
}

/// At the top level the message keeps its verb, and points at the key itself.
#[test]
fn top_level_key_problems_say_what_is_wrong_and_where() {
    let (l, c, m) = one(&bad(|s| format!("surprise: 1\n{s}")));
    assert_eq!((l, c), (1, 1));
    assert!(
        m.starts_with("unknown field `surprise`, expected one of `release`"),
        "{m}"
    );
    assert!(m.ends_with("remove it or correct its spelling"), "{m}");
    let (l, c, m) = one(&bad(|_| String::new()));
    assert_eq!((l, c), (1, 1));
    assert_eq!(m, "missing field `release`: add it");
    let (l, c, m) = one(&bad(|s| {
        let release = s.find("release:").unwrap();
        let block: String = s[release..].lines().take(3).collect::<Vec<_>>().join("\n");
        format!("{s}{block}\n")
    }));
    assert_eq!(m, "duplicate field `release`: keep only one");
    assert_eq!(c, 1);
    assert_eq!(l, GOOD.lines().count() + 1, "at the second `release:`");
}

/// `check` parses every query as Prometheus would, and says where the bad one is.
#[test]
fn a_query_that_is_not_promql_is_refused_where_it_is() {
    let (l, c, m) = one(&bad(|s| s.replace("sum(rate(x[1m]))", "sum(rate(x[1m])")));
    assert_eq!((l, c), (pos(GOOD, "sum(rate(x[1m]))").0, 12));
    assert_eq!(
        m,
        "the query is not valid PromQL (unclosed left parenthesis): correct it; Prometheus would refuse it the same way"
    );
    let (_, _, m) = one(&bad(|s| s.replace("sum(rate(x[1m]))", "sum(rate(x[1q]))")));
    assert!(m.starts_with("the query is not valid PromQL ("), "{m}");
}

/// A short title must be shorter; decimals stay readable.
#[test]
fn short_titles_and_decimals_are_checked() {
    let ok = GOOD.replace(
        "    title: Errors\n",
        "    title: Errors\n    short: Err\n    decimals: 2\n",
    );
    let rb = parse_runbook(Path::new("ok.yaml"), &ok).unwrap();
    assert_eq!(rb.metrics[0].short.as_deref(), Some("Err"));
    assert_eq!(rb.metrics[0].decimals, Some(2));
    let (l, _, m) = one(&bad(|s| {
        s.replace(
            "    title: Errors\n",
            "    title: Errors\n    short: Error rate\n",
        )
    }));
    assert_eq!(l, pos(GOOD, "title: Errors").0 + 1, "at the short title");
    assert_eq!(
        m,
        "short must be a shorter title than `Errors` (it is shown when the whole one does not fit)"
    );
    let (_, _, m) = one(&bad(|s| {
        s.replace(
            "    title: Errors\n",
            "    title: Errors\n    decimals: 9\n",
        )
    }));
    assert!(m.starts_with("decimals must be at most 6"), "{m}");
}

#[test]
fn wrong_types_are_refused() {
    let (l, c, m) = one(&bad(|s| s.replace("replicas: 4", "replicas: four")));
    assert_eq!((l, c), (13, 15));
    assert!(
        m.contains("invalid type") && m.contains("expected u32"),
        "{m}"
    );
    let (l, _, m) = one(&bad(|s| {
        s.replace("hold: 1m\n  - id: full", "hold: soon\n  - id: full")
    }));
    assert_eq!(l, 18);
    assert!(m.contains("`soon` is not a duration"), "{m}");
    let (_, _, m) = one(&bad(|s| s.replace("replica-ratio", "dns-weights")));
    assert!(
        m.contains("unknown variant `dns-weights`") && m.contains("use one of"),
        "{m}"
    );
}

#[test]
fn duplicate_ids_are_refused_at_the_second_one() {
    let (l, c, m) = one(&bad(|s| s.replace("id: config", "id: backup")));
    assert_eq!((l, c), (49, 17));
    assert_eq!(m, "duplicate item id `backup`: give each item its own id");
}

#[test]
fn references_to_missing_ids_are_refused() {
    let (l, c, m) = one(&bad(|s| s.replace("gates: c10", "gates: c20")));
    assert_eq!((l, c), (43, 12));
    assert_eq!(m, "no stage has id `c20`: use one of `c10`, `full`");
    let (l, c, m) = one(&bad(|s| s.replace("metric: err", "metric: errors")));
    assert_eq!((l, c), (37, 17));
    assert_eq!(m, "no metric has id `errors`: use one of `err`");
}

#[test]
fn impossible_thresholds_are_refused() {
    let (l, c, m) = one(&bad(|s| s.replace("critical: 5", "critical: 0.5")));
    assert_eq!((l, c), (29, 15));
    assert!(
        m.starts_with(
            "impossible thresholds: bad is `above`, so warn (1) must be at or below critical (0.5)"
        ),
        "{m}"
    );
    let p = bad(|s| {
        s.replace("warn: 1", "warn: 140")
            .replace("critical: 5", "critical: 150")
    });
    assert_eq!(p.0.len(), 2, "{p}");
    assert!(
        p.0.iter().all(|x| x
            .message
            .contains("is a percentage: write a number from 0 to 100")),
        "{p}"
    );
    let (l, _, m) = one(&bad(|s| s.replace("traffic: 25", "traffic: 0")));
    assert_eq!(l, 17);
    assert!(m.contains("from 1 to 100"), "{m}");
}

#[test]
fn several_problems_are_all_reported() {
    let p = bad(|s| {
        s.replace("id: config", "id: backup")
            .replace("gates: c10", "gates: nope")
    });
    assert_eq!(p.0.len(), 2, "{p}");
    let text = p.to_string();
    assert!(text.lines().all(|l| l.starts_with("bad.yaml:")), "{text}");
}

#[test]
fn each_traffic_strategy_takes_only_its_own_settings() {
    // gateway-api with its defaults: the route and the backends take the Deployments' names
    let src = GOOD.replace(
        "    strategy: replica-ratio\n    replicas: 4\n",
        "    strategy: gateway-api\n",
    );
    let rb = parse_runbook(Path::new("gw.yaml"), &src).unwrap();
    assert_eq!(
        rb.targets[0].split(),
        warroom::runbook::Split::Route {
            kind: warroom::cluster::RouteKind::HttpRoute,
            route: "web",
            stable: "web",
            canary: "web-canary"
        }
    );
    // replicas belong to replica-ratio
    let (l, c, m) = one(&bad(|s| {
        s.replace("strategy: replica-ratio", "strategy: gateway-api")
    }));
    assert_eq!((l, c), (13, 15));
    assert!(
        m.starts_with("`replicas` belongs to the replica-ratio strategy"),
        "{m}"
    );
    // a route belongs to the strategies that split by a route's weights
    let (l, c, m) = one(&bad(|s| {
        s.replace("    replicas: 4\n", "    replicas: 4\n    route: web\n")
    }));
    assert_eq!((l, c), (14, 12));
    assert!(
        m.starts_with("`route` belongs to a strategy that splits traffic by a route's weights")
            && m.contains("`strategy: gateway-api`"),
        "{m}"
    );
    // replica-ratio without replicas says what to add
    let (l, _, m) = one(&bad(|s| s.replace("    replicas: 4\n", "")));
    assert_eq!(l, 12);
    assert!(m.contains("needs `replicas`"), "{m}");
    // the same Service on both sides cannot split anything
    let (_, _, m) = one(&bad(|s| {
        s.replace(
            "    strategy: replica-ratio\n    replicas: 4\n",
            "    strategy: gateway-api\n    canary_backend: web\n",
        )
    }));
    assert!(m.starts_with("the canary backend must differ"), "{m}");
}

/// Where `needle` starts in `src`, 1-based, the way problems are located.
fn pos(src: &str, needle: &str) -> (usize, usize) {
    let at = src
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in the runbook"));
    let line = src[..at].matches('\n').count() + 1;
    let col = src[..at].rsplit('\n').next().unwrap().chars().count() + 1;
    (line, col)
}

#[test]
fn durations_that_cannot_work_are_refused_with_their_bounds() {
    fn prom(section: &'static str) -> impl Fn(&str) -> String {
        move |s: &str| s.replace("metrics:\n", &format!("prometheus:\n{section}metrics:\n"))
    }
    type Edit = Box<dyn Fn(&str) -> String>;
    let cases: Vec<(Edit, &str, &str)> = vec![
        (
            Box::new(prom("  refresh: 1h\n")),
            "refresh: 1h",
            "refresh must be from 1s to 10m (got 1h): the gauges are queried this often",
        ),
        (
            Box::new(prom("  refresh: 5s\n  timeout: 2m\n")),
            "timeout: 2m",
            "timeout must be at most 1m (got 2m): ",
        ),
        (
            Box::new(prom("  window: 30d\n")),
            "window: 30d",
            "window must be at most 7d (got 720h): it is how far back the sparklines reach",
        ),
        (
            Box::new(|s: &str| s.replace("    bad: above\n", "    bad: above\n    window: 8d\n")),
            "window: 8d",
            "window must be at most 7d (got 192h)",
        ),
        (
            Box::new(|s: &str| s.replacen("    hold: 1m\n", "    hold: 10d\n", 1)),
            "hold: 10d",
            "hold must be at most 7d (got 240h): a stage is watched this long",
        ),
        (
            Box::new(|s: &str| s.replace("        for: 1m\n", "        for: 2d\n")),
            "for: 2d",
            "`for` must be at most 1d (got 48h): the condition must hold this long",
        ),
        (
            Box::new(|s: &str| s.replace("planned_duration: 1h", "planned_duration: 30d")),
            "planned_duration: 30d",
            "planned_duration must be at most 7d (got 720h)",
        ),
        // A value so large it once wrapped to a negative number of seconds.
        (
            Box::new(|s: &str| s.replacen("    hold: 1m\n", "    hold: 9999999999999999999s\n", 1)),
            "hold: 9999999999999999999s",
            "hold must be at most 7d",
        ),
    ];
    for (edit, at, msg) in cases {
        let src = edit(GOOD);
        assert_ne!(src, GOOD, "{at}: the edit did not apply");
        let p = parse_runbook(Path::new("bad.yaml"), &src)
            .expect_err("the edited runbook must be refused");
        let (l, c, m) = one(&p);
        // at the value itself
        let (line, col) = pos(&src, at);
        assert_eq!(
            (l, c),
            (line, col + at.find(": ").unwrap() + 2),
            "{at}: {m}"
        );
        assert!(m.starts_with(msg), "{at}: {m}");
        assert!(m.contains("write e.g. "), "{at}: the fix is missing: {m}");
        // and the whole sentence as `check` prints it, with file, line and column
        assert!(
            p.to_string().starts_with(&format!("bad.yaml:{l}:{c}: ")),
            "{p}"
        );
    }
    // The bounds themselves are accepted.
    let src = prom("  refresh: 10m\n  timeout: 60s\n  window: 7d\n")(GOOD)
        .replace("planned_duration: 1h", "planned_duration: 7d")
        .replace("        for: 1m\n", "        for: 1d\n");
    parse_runbook(Path::new("ok.yaml"), &src).unwrap_or_else(|e| panic!("{e}"));
}

/// The classic "billion laughs": nine levels of nine aliases each would expand into
/// 9^9 strings. It is refused at its first alias, before anything is expanded.
#[test]
fn yaml_aliases_are_refused_at_the_first_one() {
    let mut doc = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let refs = vec![format!("*{}", w[0]); 9].join(",");
        doc.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
    }
    let p = parse_runbook(Path::new("laughs.yaml"), &doc).expect_err("refused");
    assert_eq!(
        p.to_string(),
        "laughs.yaml:2:8: aliases (`*name`) are not allowed in a runbook, layout or scenario: write the value out (or quote it if the `*` is text)"
    );
    // Inside a real runbook, after text that has stars in it, and in a layout.
    let src = GOOD
        .replace(
            "text: Back up the database",
            "text: '*' marks a must; 2 * 3 checks",
        )
        .replace(
            "    hold: 1m\n  - id: full",
            "    hold: &h 1m\n  - id: full",
        )
        .replacen("    hold: 1m\n", "    hold: *h\n", 1);
    let p = parse_runbook(Path::new("bad.yaml"), &src).expect_err("refused");
    let (l, c, m) = one(&p);
    assert_eq!((l, c), pos(&src, "*h"), "{m}");
    let p =
        warroom::layout::parse(Path::new("l.yaml"), "name: &n x\nroot: *n\n").expect_err("refused");
    assert!(p.to_string().starts_with("l.yaml:2:7: aliases"), "{p}");
}

#[test]
fn shipped_runbooks_have_no_aliases_and_stars_in_text_are_fine() {
    for f in [
        "assets/runbooks/demo.yaml",
        "assets/runbooks/demo-gateway.yaml",
        "assets/runbooks/demo-istio.yaml",
        "assets/runbooks/demo-release.yaml",
        "assets/runbooks/erp-v1.0.0.zh.yaml",
        "assets/runbooks/erp-v1.0.0.en.yaml",
    ] {
        load(Path::new(f)).unwrap_or_else(|e| panic!("{e}"));
    }
    let src = GOOD.replace(
        "text: Back up the database",
        "text: |\n              *Back up* the database\n              * every schema",
    );
    assert_ne!(src, GOOD);
    parse_runbook(Path::new("ok.yaml"), &src).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_header_value_with_a_line_break_is_refused_where_it_is() {
    let p = bad(|s: &str| {
        s.replace(
            "metrics:\n",
            "prometheus:\n  headers: {X-Scope-OrgID: \"erp\\r\\nX-Evil: 1\"}\nmetrics:\n",
        )
    });
    let (l, c, m) = one(&p);
    let src = GOOD.replace(
        "metrics:\n",
        "prometheus:\n  headers: {X-Scope-OrgID: \"erp\\r\\nX-Evil: 1\"}\nmetrics:\n",
    );
    let line = src[..src.find("X-Scope-OrgID").unwrap()]
        .matches('\n')
        .count()
        + 1;
    assert_eq!(l, line, "{m}");
    assert!(c > 1);
    assert!(
        m.starts_with("the value of header `X-Scope-OrgID` has a control character"),
        "{m}"
    );
}

#[test]
fn huge_values_keep_the_unit_in_the_gauges_column() {
    let rb = parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK).unwrap();
    for m in &rb.metrics {
        let text = warroom::format::format_value(m, Some(3.2e18));
        assert!(text.chars().count() <= 12, "{}: {text}", m.id);
    }
    let err = rb.metrics.iter().find(|m| m.id == "error-rate").unwrap();
    assert_eq!(
        warroom::format::format_value(err, Some(3.2e18)),
        "3.20e18 %"
    );
}

#[test]
fn ticked_by_must_name_a_stage() {
    let (l, _, m) = one(&bad(|s| {
        s.replace(
            "          - id: config\n",
            "          - id: config\n            ticked_by: c20\n",
        )
    }));
    assert_eq!(l, pos(GOOD, "id: config").0 + 1);
    assert!(m.starts_with("no stage has id `c20`: use one of"), "{m}");
}

#[test]
fn notify_channels_keep_their_secrets_out_of_the_runbook_and_sign_only_where_they_can() {
    fn with(channels: &'static str) -> impl Fn(&str) -> String {
        move |s: &str| format!("{s}notify:\n  channels:\n{channels}")
    }
    // A URL written inline is refused: it carries the channel's token.
    let (l, _, m) = one(&bad(with(
        "    - {id: ops, kind: feishu, url: 'https://open.feishu.cn/open-apis/bot/v2/hook/abc', events: [rollback]}\n",
    )));
    assert_eq!(l, GOOD.lines().count() + 3);
    assert!(m.starts_with("unknown field `url`"), "{m}");
    // Where the URL is must be said.
    let (_, _, m) = one(&bad(with(
        "    - {id: ops, kind: slack, events: [rollback]}\n",
    )));
    assert!(
        m.contains("url_env (an environment variable) or url_file"),
        "{m}"
    );
    // Slack and WeCom do not sign: a secret there is a mistake.
    let (_, _, m) = one(&bad(with(
        "    - {id: ops, kind: wecom, url_env: WECOM, secret_env: S, events: [rollback]}\n",
    )));
    assert!(m.contains("does not sign its messages"), "{m}");
    // A channel hears of something, and each is named once.
    let (_, _, m) = one(&bad(with(
        "    - {id: ops, kind: slack, url_env: SLACK, events: []}\n",
    )));
    assert!(m.starts_with("name at least one event"), "{m}");
    let (_, _, m) = one(&bad(with(
        "    - {id: ops, kind: slack, url_env: A, events: [rollback]}\n    - {id: ops, kind: slack, url_env: B, events: [rollback]}\n",
    )));
    assert!(m.starts_with("duplicate channel id `ops`"), "{m}");
    // An event nobody knows is refused with the list.
    let (_, _, m) = one(&bad(with(
        "    - {id: ops, kind: slack, url_env: A, events: [deployed]}\n",
    )));
    assert!(m.contains("unknown variant `deployed`"), "{m}");
    // And a good section parses.
    let good = with(
        "    - {id: ops, kind: dingtalk, url_env: DING, secret_file: /etc/ding.secret, events: [rollback, trigger_met]}\n",
    )(GOOD);
    parse_runbook(Path::new("good.yaml"), &good).unwrap();
}

/// `verify:` is checked as `warroom check` would: each problem where it is, in words.
#[test]
fn verify_blocks_are_checked_where_they_are() {
    fn with(v: &str) -> impl Fn(&str) -> String + '_ {
        move |s: &str| {
            s.replace(
                "          - id: config\n            text: Back up config\n",
                &format!("          - id: config\n            text: Back up config\n            verify:\n{v}"),
            )
        }
    }
    // Good ones of every kind parse.
    for v in [
        "              gauge: err\n              below: 1%\n",
        "              promql: 'sum(up{job=\"x\"})'\n              above: 0\n",
        "              kube: pods_ready\n              deployment: canary\n",
        "              kube: {exists: {kind: Secret, name: tls}}\n",
        "              kube: {version: \"1.25\"}\n",
        "              kube: {nodes: {cpu: 8, memory: 16Gi}}\n",
        "              http: {url: \"https://shop.example/health\", status: 200, within: 500ms, contains: ok, headers: [Strict-Transport-Security], cert_days: 30}\n",
    ] {
        let src = with(v)(GOOD);
        parse_runbook(Path::new("good.yaml"), &src).unwrap_or_else(|e| panic!("{v}: {e}"));
    }
    let cases: &[(&str, &str)] = &[
        (
            "              gauge: nope\n              below: 1\n",
            "no gauge has id `nope`: use one of `err`",
        ),
        (
            "              gauge: err\n              below: 2s\n",
            "`2s` is a time, but the gauge is in percent: write a number in its unit",
        ),
        (
            "              gauge: err\n",
            "give exactly one of `above:` or `below:`: the value the check compares with",
        ),
        (
            "              promql: 'sum(rate(x[1m])'\n              below: 1\n",
            "the expression is not valid PromQL (unclosed left parenthesis): correct it; Prometheus would refuse it the same way",
        ),
        (
            "              gauge: err\n              http: {url: \"http://x\"}\n              below: 1\n",
            "say what to verify with exactly one of `gauge:`, `promql:`, `kube:` or `http:`",
        ),
        (
            "              kube: {version: 1.30}\n",
            "write the version in quotes, `version: \"1.3\"`: as a number, 1.30 would read as 1.3",
        ),
        (
            "              kube: {nodes: {memory: 16GB}}\n",
            "`16GB` is not an amount of memory: write e.g. 16Gi or 512Mi",
        ),
        (
            "              http: {url: \"ftp://shop.example\"}\n",
            "`ftp://shop.example` is not an http:// or https:// URL: write e.g. https://erp.example.com/health",
        ),
        (
            "              http: {url: \"https://user:pw@shop.example/\"}\n",
            "`https://user:pw@shop.example/` carries credentials: a probe's URL is shown in the log, so it must not hold any",
        ),
        (
            "              http: {url: \"http://shop.example\", cert_days: 30}\n",
            "`cert_days:` and `ca_file:` need an https:// URL",
        ),
        (
            "              kube: pods_ready\n              below: 3\n",
            "`below:` goes with `gauge:` or `promql:`; for http use `within:`",
        ),
    ];
    for (v, want) in cases {
        let p = bad(with(v));
        let (l, _, m) = one(&p);
        assert_eq!(&m, want, "{v}");
        let config = pos(GOOD, "id: config").0;
        assert!(
            l > config && l <= config + 5,
            "{v}: line {l}, near the item"
        );
    }
    // An unknown check or key is refused by name.
    let (_, _, m) = one(&bad(with("              kube: ready\n")));
    assert!(
        m.starts_with("unknown variant `ready`, expected one of `available`"),
        "{m}"
    );
    let (_, _, m) = one(&bad(with(
        "              kube: {exist: {kind: Secret, name: x}}\n",
    )));
    assert!(
        m.starts_with("unknown field `exist`, expected one of `exists`"),
        "{m}"
    );
    let (_, _, m) = one(&bad(with(
        "              kube: {exists: {kind: Pod, name: x}}\n",
    )));
    assert!(
        m.starts_with("unknown variant `Pod`, expected one of `ConfigMap`"),
        "{m}"
    );
    // Only a plain check is verified.
    let (_, _, m) = one(&bad(|s| {
        with("              kube: pods_ready\n")(s).replace(
            "            text: Back up config\n",
            "            text: Back up config\n            done: true\n",
        )
    }));
    assert_eq!(
        m,
        "only a check, not done beforehand nor ticked or computed otherwise, is verified by the console"
    );
}
