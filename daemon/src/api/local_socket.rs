//! The local socket: `acejudge serve` also answers its API on a Unix socket
//! at [`crate::config::local_socket_path`] (`DATA_DIR/run/api.sock`), so that
//! the CLI on the same host hands its runs to the daemon (`acejudge run` uses
//! the daemon's warm sandbox, loaded runners and compile cache instead of
//! building its own) without a token or the TCP listener.
//!
//! Who may connect: the socket's directory is made mode 0700 and the socket
//! 0600, both owned by the daemon's user, so only that user (root, or the
//! unit's user) can reach it — the same user who could run a one-shot
//! `acejudge` command on this data dir. Its requests carry
//! [`super::auth::LocalPeer`].
//!
//! The daemon holds the data dir's lock, so a socket file already there is a
//! dead daemon's and is replaced; the socket is removed when serving ends.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Removes the socket file when serving ends.
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds the local socket of `data_dir`. Call only while holding the data dir's lock.
pub fn bind(data_dir: &Path) -> anyhow::Result<(tokio::net::UnixListener, SocketFile)> {
    use anyhow::Context;
    let path = crate::config::local_socket_path(data_dir);
    let dir = path.parent().context("the socket path has no directory")?;
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(dir).with_context(|| format!("cannot inspect {}", dir.display()))?;
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != euid {
        anyhow::bail!("{} must be a directory owned by uid {euid} (it holds the local socket)", dir.display());
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make {} private", dir.display()))?;
    match std::fs::remove_file(&path) {
        Ok(()) => tracing::info!(path = %path.display(), "replaced a stale local socket"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot remove the stale socket {}", path.display())),
    }
    let listener =
        tokio::net::UnixListener::bind(&path).with_context(|| format!("cannot listen on {}", path.display()))?;
    let file = SocketFile { path: path.clone() };
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot make {} private", path.display()))?;
    Ok((listener, file))
}
