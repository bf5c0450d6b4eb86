use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use warroom::cli::{Cli, ClusterArgs, Command, ConsoleArgs};
use warroom::runbook::{self, Problems, Runbook};
use warroom::text::escape;
use warroom::{app, builtin, journal, layout};

fn main() -> ExitCode {
    let cli = Cli::parse();
    warroom::install_crypto();
    // The console's own diagnostics go to its log view (shown with L), never to stdout
    // while the screen is up.
    warroom::logger::init(log::LevelFilter::Info);
    // A console on a real cluster waits on its sources almost all the time: one thread
    // does it all, and each answer wakes that thread alone (no worker hands work to
    // another). The demo and the simulator serve a cluster too: two workers.
    let rt = match &cli.command {
        Command::Run { .. } | Command::Watch { .. } => {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        _ => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("warroom: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match cli.command {
        Command::Check { files } => check(&files),
        cmd => match rt.block_on(start(cmd)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                // Errors carry text from files and servers: never raw escapes. (And a
                // terminal gone with its session is no reason to panic on the way out.)
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "warroom: {}", escape(&format!("{e:#}")));
                ExitCode::from(if e.downcast_ref::<Problems>().is_some() {
                    2
                } else {
                    1
                })
            }
        },
    }
}

fn check(files: &[PathBuf]) -> ExitCode {
    let mut bad = false;
    for f in files {
        let src = match runbook::read(f) {
            Ok(s) => s,
            Err(p) => {
                eprintln!("{}", escape(&p.to_string()));
                bad = true;
                continue;
            }
        };
        // A file with a top-level `root:` is a layout; anything else is a runbook.
        let is_layout = src.lines().any(|l| l.starts_with("root:"));
        let result = if is_layout {
            layout::parse(f, &src).map(|l| {
                format!(
                    "layout {}: minimum {}x{}",
                    l.name, l.min_width, l.min_height
                )
            })
        } else {
            runbook::parse_runbook(f, &src).map(|rb| rb.summary())
        };
        match result {
            Ok(summary) => println!("{}", escape(&format!("{}: ok: {summary}", f.display()))),
            Err(p) => {
                eprintln!("{}", escape(&p.to_string()));
                bad = true;
            }
        }
    }
    if bad {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn journal_for(rb: &Runbook, args: &ConsoleArgs, demo: bool) -> PathBuf {
    match &args.journal {
        Some(p) => p.clone(),
        None if demo => std::env::temp_dir().join(format!(
            "warroom-demo-{}.jsonl",
            chrono::Utc::now().format("%Y%m%dT%H%M%S")
        )),
        None => journal::default_path(&rb.release.name, &rb.release.version),
    }
}

async fn start(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Run {
            runbook,
            prometheus,
            cluster,
            console,
        } => {
            let mut rb = runbook::load(&runbook)?;
            let layout = layout::load(&console.view.layout)?;
            let client = connect(&cluster, &mut rb).await?;
            let journal = journal_for(&rb, &console, false);
            let path = app::run(app::Launch {
                runbook_label: label_of(&runbook),
                runbook: rb,
                journal,
                operator: console.view.operator(),
                layout,
                kube: client,
                prometheus: prometheus.overrides(),
                read_only: console.read_only,
                follow: false,
                zone: console.view.zone(),
                plain: console.view.plain(),
                lang: console.view.lang,
                simulated: false,
            })
            .await?;
            say_journal(&path);
            Ok(())
        }
        Command::Demo {
            scenario,
            runbook,
            traffic,
            gateway,
            release,
            kubeconfig_out,
            console,
        } => {
            let (rb, label) = match &runbook {
                Some(p) => (runbook::load(p)?, label_of(p)),
                None => {
                    let strategy = match (traffic, gateway) {
                        (Some(s), _) => s,
                        (None, true) => runbook::TrafficStrategy::GatewayApi,
                        (None, false) => runbook::TrafficStrategy::ReplicaRatio,
                    };
                    let label = if release {
                        builtin::DEMO_RELEASE_LABEL
                    } else {
                        builtin::demo(strategy).0
                    };
                    let (file, text) = builtin::runbook(label).expect("a built-in runbook");
                    (
                        runbook::parse_runbook(Path::new(file), text)?,
                        label.to_string(),
                    )
                }
            };
            // The simulated cluster splits traffic the way the runbook does.
            let sc = match &scenario {
                Some(p) => runbook::load_scenario(p)?,
                // A release of several services runs on the simulated cluster of three.
                None if rb.targets.len() > 1 => runbook::parse_scenario(builtin::RELEASE_SCENARIO)
                    .map_err(anyhow::Error::msg)?,
                None => runbook::parse_scenario(builtin::demo(rb.targets[0].traffic.strategy).1)
                    .map_err(anyhow::Error::msg)?,
            };
            let layout = layout::load(&console.view.layout)?;
            let sim = warroom::sim::start(sc, 0, 0).await?;
            // A kubeconfig the console made up for itself is its own to remove on the way
            // out; one the user asked for (--kubeconfig-out) stays.
            let temporary = kubeconfig_out.is_none();
            let kc = kubeconfig_out.unwrap_or_else(|| {
                std::env::temp_dir().join(format!("warroom-demo-{}.kubeconfig", std::process::id()))
            });
            sim.write_kubeconfig(&kc)?;
            eprintln!(
                "simulated cluster: Kubernetes API {} · Prometheus API {}",
                sim.kube_url, sim.prom_url
            );
            eprintln!(
                "kubeconfig: {}   (try: kubectl --kubeconfig {} get pods -w)",
                kc.display(),
                kc.display()
            );
            let journal = journal_for(&rb, &console, true);
            eprintln!(
                "follow it from another terminal: warroom watch {} --kubeconfig {} --prometheus {}",
                journal.display(),
                kc.display(),
                sim.prom_url
            );
            let client = warroom::kube::connect(Some(&kc), None).await?;
            let result = app::run(app::Launch {
                runbook: rb,
                runbook_label: label,
                journal,
                operator: console.view.operator(),
                layout,
                kube: client,
                prometheus: warroom::prom::Overrides {
                    url: Some(sim.prom_url.clone()),
                    ..Default::default()
                },
                read_only: console.read_only,
                follow: false,
                zone: console.view.zone(),
                plain: console.view.plain(),
                lang: console.view.lang,
                simulated: true,
            })
            .await;
            sim.shutdown().await;
            if temporary {
                let _ = std::fs::remove_file(&kc);
            }
            let path = result?;
            say_journal(&path);
            Ok(())
        }
        Command::Watch {
            journal,
            runbook,
            prometheus,
            cluster,
            view,
        } => {
            let (mut rb, label) = runbook_for(runbook.as_deref(), &journal)?;
            let layout = layout::load(&view.layout)?;
            let client = connect(&cluster, &mut rb).await?;
            app::run(app::Launch {
                runbook_label: label,
                runbook: rb,
                journal,
                operator: view.operator(),
                layout,
                kube: client,
                prometheus: prometheus.overrides(),
                read_only: true,
                follow: true,
                zone: view.zone(),
                plain: view.plain(),
                lang: view.lang,
                simulated: false,
            })
            .await?;
            Ok(())
        }
        Command::Replay {
            journal,
            runbook,
            speed,
            view,
        } => {
            let (rb, _) = runbook_for(runbook.as_deref(), &journal)?;
            if !(speed.is_finite() && speed > 0.0) {
                anyhow::bail!(
                    "--speed {speed}: give journal seconds per real second, above 0 (e.g. 10)"
                );
            }
            let layout = layout::load(&view.layout)?;
            app::replay(
                rb,
                &journal,
                &view.operator(),
                layout,
                view.zone(),
                (view.plain(), view.lang),
                speed,
            )
            .await
        }
        Command::Report {
            journal,
            runbook,
            output,
            html,
            utc,
        } => {
            let (rb, _) = runbook_for(runbook.as_deref(), &journal)?;
            let records = journal::read(&journal)?;
            let zone = if utc {
                warroom::format::Zone::Utc
            } else {
                warroom::format::Zone::Local
            };
            let doc = warroom::report::build(std::sync::Arc::new(rb), &records, zone);
            let text = if html { doc.html() } else { doc.markdown() };
            match &output {
                Some(p) => std::fs::write(p, text).map_err(|e| {
                    anyhow::anyhow!("{}: cannot write the report: {e}", p.display())
                })?,
                None => {
                    use std::io::Write;
                    std::io::stdout().write_all(text.as_bytes())?;
                }
            }
            Ok(())
        }
        Command::Sim {
            scenario,
            kube_port,
            prom_port,
            kubeconfig_out,
            rbac,
        } => {
            let sc = match &scenario {
                Some(p) => runbook::load_scenario(p)?,
                None => runbook::parse_scenario(builtin::DEFAULT_SCENARIO)
                    .map_err(anyhow::Error::msg)?,
            };
            let rules = match &rbac {
                Some(p) => {
                    let text = std::fs::read_to_string(p)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
                    let rules = runbook::scenario::parse_role_rules(&text)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
                    let cluster = runbook::scenario::parse_cluster_role_rules(&text)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
                    (Some(rules), cluster)
                }
                None => (None, None),
            };
            let (rules, cluster_rules) = rules;
            // The handlers are in place before the simulator answers anyone: a SIGTERM
            // sent as soon as it is up stops it cleanly, never by the default action.
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate())?;
            let mut int = signal(SignalKind::interrupt())?;
            let sim = warroom::sim::start_with(
                sc,
                warroom::sim::Options {
                    kube_port,
                    prom_port,
                    rbac: rules,
                    cluster_rbac: cluster_rules,
                },
            )
            .await?;
            // A kubeconfig the console made up for itself is its own to remove on the way
            // out; one the user asked for (--kubeconfig-out) stays.
            let temporary = kubeconfig_out.is_none();
            let kc = kubeconfig_out.unwrap_or_else(|| {
                std::env::temp_dir().join(format!("warroom-sim-{}.kubeconfig", std::process::id()))
            });
            sim.write_kubeconfig(&kc)?;
            println!("Kubernetes API: {}", sim.kube_url);
            println!("Prometheus API: {}  (/metrics for scraping)", sim.prom_url);
            if let Some(p) = &rbac {
                println!("RBAC: enforcing the Role in {}", p.display());
            }
            println!("kubeconfig: {}", kc.display());
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            sim.shutdown().await;
            if temporary {
                let _ = std::fs::remove_file(&kc);
            }
            println!("simulator stopped");
            Ok(())
        }
        Command::Check { .. } => unreachable!("handled before the runtime starts"),
    }
}

/// How the journal's session names a runbook file: by its whole path, so a console
/// following the journal from another directory finds the same file.
fn label_of(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// The cluster the flags name, with the runbook's namespace overridden by `--namespace`.
async fn connect(c: &ClusterArgs, rb: &mut Runbook) -> anyhow::Result<kube::Client> {
    if let Some(ns) = &c.namespace {
        for k in &mut rb.targets {
            k.namespace = ns.clone();
        }
    }
    warroom::kube::connect(c.kubeconfig.as_deref(), c.context.as_deref()).await
}

/// The runbook `--runbook` names, or else the one the journal's session names.
fn runbook_for(flag: Option<&Path>, journal: &Path) -> anyhow::Result<(Runbook, String)> {
    match flag {
        Some(p) => Ok((runbook::load(p)?, label_of(p))),
        None => runbook_of(journal),
    }
}

/// The runbook the journal's last session names, for a console that follows it.
fn runbook_of(journal: &Path) -> anyhow::Result<(Runbook, String)> {
    let records = journal::read(journal)?;
    let Some(label) = records.iter().rev().find_map(|r| match &r.entry {
        journal::Entry::Session { runbook, .. } => Some(runbook.clone()),
        _ => None,
    }) else {
        anyhow::bail!(
            "{}: no console has started on this journal yet: start the driving console first, or name the runbook with --runbook FILE",
            journal.display()
        );
    };
    if let Some((file, text)) = builtin::runbook(&label) {
        return Ok((runbook::parse_runbook(Path::new(file), text)?, label));
    }
    let rb = runbook::load(Path::new(&label)).map_err(|e| {
        anyhow::anyhow!(
            "{e}\n(the journal's session names this runbook; pass --runbook FILE if it is elsewhere on this host)"
        )
    })?;
    Ok((rb, label))
}

/// Where the journal is, said on the way out. The terminal may be gone (a dropped SSH
/// session): then there is no one to tell, and that is no reason to fail.
fn say_journal(path: &Path) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stdout(),
        "journal: {}",
        escape(&path.display().to_string())
    );
}
