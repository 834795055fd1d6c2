//! `acejudge serve`: loads the configuration, opens the store and the judge,
//! starts the worker slots and the HTTP API, and stops cleanly on SIGTERM or
//! SIGINT — no new work, running submissions get `queue.shutdown_grace_secs`
//! to finish, the rest are re-queued for the next start.
//!
//! Once listening it prints one line on stdout, `acejudge: listening on
//! http://ADDRESS`, with the real port when the configured one is 0. The same
//! API is also served on the local socket `DATA_DIR/run/api.sock`
//! ([`crate::api::local_socket`]), which `acejudge run` uses.

use crate::api::{self, ApiOptions, AppState};
use crate::config::{self, Config};
use crate::judge::{Judge, JudgeConfig, JudgeService};
use crate::queue::{Metrics, Queue, QueueOptions};
use crate::store::Store;
use anyhow::{bail, Context};
use clap::Args;
use std::future::IntoFuture;
use std::io::Write;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The global `--data-dir` default: when the flag still has it, the configuration's value wins.
const CLI_DEFAULT_DATA_DIR: &str = "data";

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The configuration file. Default: config/acejudge.toml when it exists, else the built-in defaults.
    #[arg(long, env = "ACEJUDGE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on (overrides server.listen and ACEJUDGE_LISTEN).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Worker slots (overrides queue.slots).
    #[arg(long)]
    pub slots: Option<usize>,
}

/// The configuration, with the global `--data-dir` applied when it was given.
pub fn load_config(path: Option<&Path>, data_dir: &Path) -> anyhow::Result<Config> {
    let mut config = Config::load(path)?;
    if data_dir != Path::new(CLI_DEFAULT_DATA_DIR) {
        config.server.data_dir = data_dir.to_path_buf();
    }
    Ok(config)
}

pub fn run(args: ServeArgs, data_dir: &Path, plugins: &super::runners::PluginArgs) -> anyhow::Result<u8> {
    let mut config = load_config(args.config.as_deref(), data_dir)?;
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    if let Some(slots) = args.slots {
        config.queue.slots = slots;
    }
    if let Some(dir) = &plugins.runners_dir {
        config.server.runners_dir = Some(dir.clone());
    }
    config.check()?;
    let data_dir = std::path::absolute(&config.server.data_dir)
        .with_context(|| format!("data dir {}", config.server.data_dir.display()))?;
    std::fs::create_dir_all(&data_dir).with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
    let _lock = lock_data_dir(&data_dir)?;
    let store = Store::open(&config::database_path(&data_dir))?;
    let runners_dir = match &config.server.runners_dir {
        Some(dir) => dir.clone(),
        None => {
            let exe = std::env::current_exe().context("cannot find the acejudge executable")?;
            exe.parent().map(Path::to_path_buf).context("the executable has no directory")?
        }
    };
    let slots = config.queue.effective_slots();
    let judge = Judge::open(&JudgeConfig {
        challenges_dir: std::path::absolute(&config.server.challenges_dir)
            .with_context(|| format!("challenges dir {}", config.server.challenges_dir.display()))?,
        runners_dir,
        data_dir: data_dir.clone(),
        slots,
        uid_base: config.sandbox.uid_base,
        artifact_cache_bytes: config.server.artifact_cache_bytes,
        warm_starts: config.sandbox.warm_starts,
    })
    .context("cannot start the judge")?;
    let judge: Arc<dyn JudgeService> = Arc::new(judge);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .thread_name("acejudge-http")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(serve(config, &data_dir, store, judge, slots));
    runtime.shutdown_timeout(Duration::from_secs(1));
    result.map(|()| 0)
}

async fn serve(
    config: Config,
    data_dir: &Path,
    store: Arc<Store>,
    judge: Arc<dyn JudgeService>,
    slots: usize,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    // The local socket is a convenience for the host's CLI: serving goes on without it.
    let local_socket = match api::local_socket::bind(data_dir) {
        Ok(bound) => Some(bound),
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "no local socket: `acejudge run` will not go through this daemon");
            None
        }
    };
    let local = listener.local_addr().context("no local address")?;
    if config.tokens_required() && store.list_tokens()?.iter().all(|t| t.revoked_at.is_some()) {
        tracing::warn!(
            "bearer tokens are required but none is active: create one with `acejudge token create --name NAME`"
        );
    }
    let metrics = Arc::new(Metrics::default());
    let queue = Arc::new(Queue::start(store, judge, metrics, QueueOptions { slots, backlog: config.queue.backlog })?);
    let state = AppState::new(
        Arc::clone(&queue),
        ApiOptions {
            limits: config.limits.clone(),
            tokens_required: config.tokens_required(),
            rate_limit: config.auth.rate_limit,
            rate_window: Duration::from_secs(config.auth.rate_window_secs),
            wait_timeout: Duration::from_secs(config.queue.wait_timeout_secs),
        },
    );
    let app = api::router(state.clone());
    let server = tokio::spawn(axum::serve(listener, app).with_graceful_shutdown(state.shutting_down()).into_future());
    let (local_server, _socket_file) = match local_socket {
        Some((listener, file)) => {
            let served = axum::serve(listener, api::local_router(state.clone()))
                .with_graceful_shutdown(state.shutting_down())
                .into_future();
            (Some(tokio::spawn(served)), Some(file))
        }
        None => (None, None),
    };
    // Signal handlers first: a SIGTERM right after "ready" must already stop cleanly.
    let signals = Signals::install()?;
    println!("acejudge: listening on http://{local}");
    let _ = std::io::stdout().flush();
    tracing::info!(%local, slots, tokens_required = config.tokens_required(), "serving");
    let mut service = crate::service::ready(&format!("listening on http://{local}, {slots} worker slots"));

    let signal = signals.wait().await;
    tracing::info!(signal, "stopping: no new work; running submissions may finish");
    service.stopping("draining: running submissions may finish");
    state.begin_shutdown();
    let deadline = Instant::now() + Duration::from_secs(config.queue.shutdown_grace_secs);
    let waiting = Arc::clone(&queue);
    let idle = tokio::task::spawn_blocking(move || waiting.wait_for_slots(deadline)).await.unwrap_or(false);
    let requeued = queue.finish_shutdown()?;
    if !idle || requeued > 0 {
        tracing::warn!(requeued, "the grace period ended: unfinished submissions were re-queued for the next start");
    }
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => tracing::warn!(%error, "the HTTP server stopped with an error"),
        Ok(Err(error)) => tracing::warn!(%error, "the HTTP server task failed"),
        Err(_) => tracing::warn!("open connections did not close in time"),
    }
    if let Some(local_server) = local_server {
        if let Ok(Ok(Err(error))) = tokio::time::timeout(Duration::from_secs(1), local_server).await {
            tracing::warn!(%error, "the local socket's server stopped with an error");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM and SIGINT, handled from the moment they are installed.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
        })
    }

    async fn wait(mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

/// One daemon per data dir: an exclusive `flock` on `DATA_DIR/acejudge.lock`, held while serving.
fn lock_data_dir(dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = dir.join("acejudge.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    // SAFETY: flock only reads the descriptor, which `file` owns and keeps open for the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        bail!("{} is in use by another acejudge serve (lock {})", dir.display(), path.display());
    }
    Ok(file)
}
