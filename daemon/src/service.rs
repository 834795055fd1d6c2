//! Running under a service manager: the `sd_notify` protocol, without libsystemd.
//!
//! With `Type=notify` systemd starts the daemon with `NOTIFY_SOCKET` naming a
//! unix datagram socket (a path, or `@name` in the abstract namespace) and
//! waits for a `READY=1` datagram before it calls the unit started. Each
//! datagram is newline-separated `KEY=VALUE` lines; the ones used here:
//!
//! - `READY=1` once the plugins and challenges are loaded and the API listens;
//! - `STATUS=…` a one-line state shown by `systemctl status`;
//! - `STOPPING=1` when a shutdown begins (running submissions draining).
//!
//! systemd identifies the sender by the credentials the kernel attaches to the
//! datagram, so only the daemon's main process may notify (`NotifyAccess=main`,
//! the default). Outside systemd (`NOTIFY_SOCKET` unset) every call is a
//! no-op, and a failed notification is logged, never fatal: systemd times the
//! start out on its own when `READY=1` never arrives.
//!
//! `serve` needs one call: `let _service = service::ready(STATUS)` once it
//! listens. The returned guard reports `STOPPING=1` when dropped, or earlier
//! through [`Readiness::stopping`].

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// The environment variable systemd sets for `Type=notify` services.
pub const NOTIFY_SOCKET_ENV: &str = "NOTIFY_SOCKET";

/// Why a notification could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("{NOTIFY_SOCKET_ENV}={address:?} is neither an absolute path nor an abstract @name")]
    Address { address: String },
    #[error("cannot open a datagram socket for {address}: {source}")]
    Socket { address: String, source: std::io::Error },
    #[error("cannot send to the service manager at {address}: {source}")]
    Send { address: String, source: std::io::Error },
}

/// A connection to the service manager's notification socket, or nothing
/// when the process was not started by one.
pub struct Notifier {
    target: Option<Target>,
}

struct Target {
    address: String,
    socket: UnixDatagram,
    peer: SocketAddr,
}

impl Notifier {
    /// The socket named by `NOTIFY_SOCKET`; inactive when it is unset or empty.
    /// A malformed value is logged and leaves the notifier inactive.
    pub fn from_env() -> Notifier {
        match std::env::var(NOTIFY_SOCKET_ENV) {
            Ok(address) if !address.is_empty() => Notifier::connect(&address).unwrap_or_else(|error| {
                tracing::warn!(%error, "systemd notifications disabled");
                Notifier::inactive()
            }),
            _ => Notifier::inactive(),
        }
    }

    /// A notifier that sends nothing.
    pub fn inactive() -> Notifier {
        Notifier { target: None }
    }

    /// A notifier for `address`: an absolute socket path or `@name` (abstract namespace).
    pub fn connect(address: &str) -> Result<Notifier, NotifyError> {
        let peer = parse_address(address)?;
        let socket =
            UnixDatagram::unbound().map_err(|source| NotifyError::Socket { address: address.to_string(), source })?;
        Ok(Notifier { target: Some(Target { address: address.to_string(), socket, peer }) })
    }

    /// Whether a service manager is listening (`NOTIFY_SOCKET` was set).
    pub fn is_active(&self) -> bool {
        self.target.is_some()
    }

    /// Sends one datagram of `KEY=VALUE` lines. Newlines in values become spaces.
    pub fn send(&self, fields: &[(&str, &str)]) -> Result<(), NotifyError> {
        let Some(target) = &self.target else {
            return Ok(());
        };
        let message = datagram(fields);
        target
            .socket
            .send_to_addr(message.as_bytes(), &target.peer)
            .map(|_| ())
            .map_err(|source| NotifyError::Send { address: target.address.clone(), source })
    }

    /// `READY=1` with a status line.
    pub fn ready(&self, status: &str) {
        self.send_logged(&[("READY", "1"), ("STATUS", status)]);
    }

    /// A new status line (`systemctl status` shows it).
    pub fn status(&self, status: &str) {
        self.send_logged(&[("STATUS", status)]);
    }

    /// `STOPPING=1` with a status line.
    pub fn stopping(&self, status: &str) {
        self.send_logged(&[("STOPPING", "1"), ("STATUS", status)]);
    }

    fn send_logged(&self, fields: &[(&str, &str)]) {
        if let Err(error) = self.send(fields) {
            tracing::warn!(%error, "cannot notify systemd");
        }
    }
}

/// Reports readiness to systemd (a no-op outside it) and returns a guard that
/// reports `STOPPING=1` when dropped — or earlier, through [`Readiness::stopping`].
pub fn ready(status: &str) -> Readiness {
    let notifier = Notifier::from_env();
    notifier.ready(status);
    if notifier.is_active() {
        tracing::info!(status, "reported ready to systemd");
    }
    Readiness { notifier, stopping_sent: false }
}

/// The daemon is up; dropping this tells systemd it is stopping.
pub struct Readiness {
    notifier: Notifier,
    stopping_sent: bool,
}

impl Readiness {
    /// Reports a new status line while running.
    pub fn status(&self, status: &str) {
        self.notifier.status(status);
    }

    /// Reports `STOPPING=1` now (once), e.g. when a shutdown signal arrives.
    pub fn stopping(&mut self, status: &str) {
        if !self.stopping_sent {
            self.notifier.stopping(status);
            self.stopping_sent = true;
        }
    }
}

impl Drop for Readiness {
    fn drop(&mut self) {
        self.stopping("stopping");
    }
}

/// The socket address `NOTIFY_SOCKET` names.
fn parse_address(address: &str) -> Result<SocketAddr, NotifyError> {
    let invalid = || NotifyError::Address { address: address.to_string() };
    if let Some(name) = address.strip_prefix('@') {
        if name.is_empty() {
            return Err(invalid());
        }
        return SocketAddr::from_abstract_name(name.as_bytes()).map_err(|_| invalid());
    }
    if address.starts_with('/') {
        return SocketAddr::from_pathname(address).map_err(|_| invalid());
    }
    Err(invalid())
}

/// The datagram for `fields`: one `KEY=VALUE` line each, values on one line.
fn datagram(fields: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (key, value) in fields {
        out.push_str(key);
        out.push('=');
        out.extend(value.chars().map(|c| if c == '\n' || c == '\r' { ' ' } else { c }));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn receive(socket: &UnixDatagram) -> String {
        socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 1024];
        let n = socket.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn ready_sends_ready_and_a_one_line_status_to_a_socket_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier::connect(path.to_str().unwrap()).unwrap();
        assert!(notifier.is_active());
        notifier.ready("serving\n4 runners");
        assert_eq!(receive(&listener), "READY=1\nSTATUS=serving 4 runners\n");
        notifier.stopping("draining");
        assert_eq!(receive(&listener), "STOPPING=1\nSTATUS=draining\n");
    }

    #[test]
    fn abstract_addresses_are_reached_by_name() {
        let name = format!("acejudge-notify-test-{}", std::process::id());
        let listener = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
        let notifier = Notifier::connect(&format!("@{name}")).unwrap();
        notifier.status("loading");
        assert_eq!(receive(&listener), "STATUS=loading\n");
    }

    #[test]
    fn the_readiness_guard_reports_stopping_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let mut readiness =
            Readiness { notifier: Notifier::connect(path.to_str().unwrap()).unwrap(), stopping_sent: false };
        readiness.stopping("SIGTERM: draining");
        drop(readiness);
        assert_eq!(receive(&listener), "STOPPING=1\nSTATUS=SIGTERM: draining\n");
        listener.set_nonblocking(true).unwrap();
        assert!(listener.recv(&mut [0u8; 64]).is_err(), "the guard must not send STOPPING twice");
    }

    #[test]
    fn relative_or_empty_addresses_are_refused() {
        for address in ["notify.sock", "@", "vsock:2:1234"] {
            assert!(matches!(Notifier::connect(address), Err(NotifyError::Address { .. })), "{address}");
        }
    }

    #[test]
    fn an_inactive_notifier_sends_nothing_and_succeeds() {
        let notifier = Notifier::inactive();
        assert!(!notifier.is_active());
        assert!(notifier.send(&[("READY", "1")]).is_ok());
    }

    #[test]
    fn a_vanished_manager_is_an_error_that_names_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone");
        let notifier = Notifier::connect(path.to_str().unwrap()).unwrap();
        let error = notifier.send(&[("READY", "1")]).unwrap_err();
        assert!(error.to_string().contains("gone"), "{error}");
    }
}
