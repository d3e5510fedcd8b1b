//! The public entry points: [`SandboxConfig`], [`start`] and the [`RunningSandbox`] handle.
//!
//! The server runs its own accept loop over hyper rather than `axum::serve`, so that an
//! injected "dropped connection" really closes the TCP connection without a byte of answer,
//! the way a client sees a network failure.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt as _;

use crate::cloud::credential::{Credential, SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_SECRET};
use crate::sandbox::fault::Faults;
use crate::sandbox::fleet::{Fleet, FleetError};
use crate::sandbox::gateway::ConnControl;
use crate::sandbox::router::router;
use crate::sandbox::state::{Limits, Sandbox, Settings, Stats, Timing};
use crate::sandbox::task;

/// How to start a sandbox. `Default` gives the default fleet on a free loopback port with
/// the default key `sandbox` / `sandbox-secret`.
#[derive(Clone)]
pub struct SandboxConfig {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Allow a non-loopback address. Scripts run as real processes of the current user, so
    /// anyone who can reach the port can run commands on this machine.
    pub allow_non_loopback: bool,
    /// The AccessKey id clients must use.
    pub access_key_id: String,
    /// Its secret.
    pub access_key_secret: String,
    /// The fleet.
    pub fleet: Fleet,
    /// Where instance directories live; `None` makes a fresh temporary directory that is
    /// removed at shutdown.
    pub root: Option<PathBuf>,
    /// Limits and quotas.
    pub limits: Limits,
    /// Simulated delays.
    pub timing: Timing,
    /// Faults added to the fleet file's: action rules are appended, instance rules too, and
    /// a non-zero seed here replaces the fleet's.
    pub faults: Faults,
    /// `{{ACS::AccountId}}`.
    pub account_id: String,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            allow_non_loopback: false,
            access_key_id: SANDBOX_ACCESS_KEY_ID.to_owned(),
            access_key_secret: SANDBOX_ACCESS_KEY_SECRET.to_owned(),
            fleet: Fleet::default_fleet(),
            root: None,
            limits: Limits::default(),
            timing: Timing::default(),
            faults: Faults::default(),
            account_id: "1000000000000001".to_owned(),
        }
    }
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("listen", &self.listen)
            .field("allow_non_loopback", &self.allow_non_loopback)
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"********")
            .field("instances", &self.fleet.expanded().len())
            .field("root", &self.root)
            .field("limits", &self.limits)
            .field("timing", &self.timing)
            .finish_non_exhaustive()
    }
}

/// Why a sandbox did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A non-loopback listen address without `allow_non_loopback`.
    #[error(
        "refusing to listen on `{0}`: sandbox scripts run as real processes of the current user, \
         so anyone who can reach this address could run commands on this machine; listen on \
         127.0.0.1 or allow a non-loopback address explicitly"
    )]
    NonLoopback(SocketAddr),
    /// The fleet does not make sense.
    #[error("invalid fleet: {0}")]
    Fleet(#[from] FleetError),
    /// The instance root could not be created.
    #[error("cannot create the sandbox directory `{path}`: {source}")]
    Root {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The address could not be bound.
    #[error("cannot listen on `{addr}`: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running sandbox. Dropping it stops the server and kills running scripts; prefer
/// [`RunningSandbox::shutdown`] to wait for that.
#[derive(Debug)]
pub struct RunningSandbox {
    addr: SocketAddr,
    sandbox: Arc<Sandbox>,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
    owns_root: bool,
    credential: Credential,
}

/// Starts a sandbox: binds, spawns the server task and returns its handle.
pub async fn start(config: SandboxConfig) -> Result<RunningSandbox, StartError> {
    if !config.listen.ip().is_loopback() && !config.allow_non_loopback {
        return Err(StartError::NonLoopback(config.listen));
    }
    let mut fleet = config.fleet;
    if config.faults.seed != 0 {
        fleet.faults.seed = config.faults.seed;
    }
    fleet.faults.actions.extend(config.faults.actions);
    fleet.faults.instances.extend(config.faults.instances);
    fleet.validate()?;

    let (root, owns_root) = match config.root {
        Some(root) => {
            std::fs::create_dir_all(&root).map_err(|source| StartError::Root {
                path: root.clone(),
                source,
            })?;
            (root, false)
        }
        None => (fresh_temp_dir()?, true),
    };
    let mut limits = config.limits;
    if let Some(size) = fleet.limits.max_page_size {
        limits.max_page_size = Some(size);
    }
    let settings = Settings {
        keys: HashMap::from([(
            config.access_key_id.clone(),
            config.access_key_secret.clone(),
        )]),
        limits,
        timing: config.timing,
        root: root.clone(),
        account_id: config.account_id,
        pwsh: on_path("pwsh"),
    };
    let sandbox = Sandbox::new(settings, &fleet).map_err(|source| StartError::Root {
        path: root.clone(),
        source,
    })?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let server = tokio::spawn(accept_loop(
        listener,
        router(Arc::clone(&sandbox)),
        shutdown_rx,
    ));
    Ok(RunningSandbox {
        addr,
        sandbox,
        shutdown,
        server: Some(server),
        owns_root,
        credential: Credential::new(config.access_key_id, config.access_key_secret),
    })
}

impl RunningSandbox {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (the loopback address when bound to an unspecified one).
    pub fn url(&self) -> String {
        let ip = if self.addr.ip().is_unspecified() {
            Ipv4Addr::LOCALHOST.into()
        } else {
            self.addr.ip()
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// The credential clients must sign with.
    pub fn credential(&self) -> Credential {
        self.credential.clone()
    }

    /// Where instance directories live.
    pub fn root(&self) -> &Path {
        &self.sandbox.settings.root
    }

    /// The directory that is `/` for `instance_id` (`<root>/<id>/fs`).
    pub fn instance_fs(&self, instance_id: &str) -> PathBuf {
        self.root().join(instance_id).join("fs")
    }

    /// Call and execution counts so far.
    pub fn stats(&self) -> Stats {
        self.sandbox.lock().stats.clone()
    }

    /// The shared state, for tests inside the sandbox module.
    #[cfg(test)]
    pub(crate) fn shared(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    /// Replaces the action faults from now on (instance faults are fixed at start).
    pub fn set_faults(&self, faults: Faults) {
        self.sandbox.lock().set_faults(faults);
    }

    /// Stops the server, kills running scripts and removes a temporary root.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        task::stop_all(&self.sandbox);
        // Give killed scripts' tasks a moment to record their end before files go away.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        self.remove_root();
    }

    fn remove_root(&mut self) {
        if self.owns_root {
            let _ = std::fs::remove_dir_all(&self.sandbox.settings.root);
            self.owns_root = false;
        }
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        task::stop_all(&self.sandbox);
        self.remove_root();
    }
}

async fn accept_loop(
    listener: TcpListener,
    router: axum::Router,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                tokio::spawn(serve_connection(stream, router.clone(), shutdown.clone()));
            }
            _ = shutdown.changed() => break,
        }
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    router: axum::Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let control = ConnControl::default();
    let for_requests = control.clone();
    let service =
        hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(for_requests.clone());
            router.clone().oneshot(request)
        });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service);
    // Dropping the connection future closes the socket without writing anything more.
    tokio::select! {
        _ = connection => {}
        () = control.killed() => {}
        _ = shutdown.changed() => {}
    }
}

/// A new directory under the system temporary directory.
fn fresh_temp_dir() -> Result<PathBuf, StartError> {
    let base = std::env::temp_dir();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    for attempt in 0..100u32 {
        let path = base.join(format!(
            "ecs-runbook-sandbox-{}-{nanos:x}-{attempt}",
            std::process::id()
        ));
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => return Err(StartError::Root { path, source }),
        }
    }
    Err(StartError::Root {
        path: base,
        source: std::io::Error::other("no free temporary directory name"),
    })
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}
