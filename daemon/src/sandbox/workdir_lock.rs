//! One sandbox per work directory: an exclusive `flock` on `WORK_DIR/lock`,
//! held for the [`super::Sandbox`]'s lifetime.
//!
//! Two sandboxes on one work directory would share slot mount points, the
//! template root's mount point and slot uids: a second process mounting its
//! slot 0 replaces the directory under the first one's tmpfs, which the
//! kernel then detaches (`rmdir` of a mount point in another namespace). So a
//! second sandbox waits for the first to end, and gives up at once when the
//! holder is a long-lived daemon (`acejudge serve`), which would not end.
//!
//! The lock file says who holds it (`pid N: COMMAND LINE`), for the error.

use super::error::SandboxError;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

/// How often a waiting process tries the lock again.
const RETRY: Duration = Duration::from_millis(20);

/// Held while the sandbox exists; the lock is released when the file closes.
#[derive(Debug)]
pub struct WorkDirLock {
    _file: File,
}

impl WorkDirLock {
    /// Takes `dir/lock`, waiting up to `wait` for a short-lived holder.
    /// A holder whose command line is a daemon's (`serve`) is not waited for.
    pub fn acquire(dir: &Path, wait: Duration) -> Result<WorkDirLock, SandboxError> {
        let path = dir.join("lock");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| SandboxError::Box { what: "open", path: path.clone(), source })?;
        let deadline = Instant::now() + wait;
        loop {
            if try_lock(&file).map_err(|source| SandboxError::Box { what: "lock", path: path.clone(), source })? {
                break;
            }
            let holder = holder(&mut file);
            if is_daemon(&holder) || Instant::now() >= deadline {
                return Err(SandboxError::WorkDirBusy { dir: dir.to_path_buf(), holder });
            }
            std::thread::sleep(RETRY);
        }
        write_holder(&mut file).map_err(|source| SandboxError::Box { what: "write", path: path.clone(), source })?;
        Ok(WorkDirLock { _file: file })
    }
}

/// `Ok(false)` when another open file description holds the lock.
fn try_lock(file: &File) -> std::io::Result<bool> {
    // SAFETY: flock only reads the descriptor, which `file` owns and keeps open for the call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let error = std::io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(error)
    }
}

fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind().and_then(|()| file.take(512).read_to_string(&mut text));
    let text = text.trim();
    if text.is_empty() {
        "another process".into()
    } else {
        text.into()
    }
}

/// `acejudge serve` (or the systemd unit's `acejudge serve --config …`).
fn is_daemon(holder: &str) -> bool {
    holder.split_whitespace().any(|word| word == "serve")
}

fn write_holder(file: &mut File) -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "pid {}: {}", std::process::id(), args.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_then_reports_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = WorkDirLock::acquire(dir.path(), Duration::ZERO).unwrap();
        let error = WorkDirLock::acquire(dir.path(), Duration::from_millis(60)).unwrap_err();
        let message = error.to_string();
        assert!(message.contains(&format!("pid {}", std::process::id())), "{message}");
        assert!(message.contains(&dir.path().display().to_string()), "{message}");
        drop(first);
        WorkDirLock::acquire(dir.path(), Duration::ZERO).unwrap();
    }

    #[test]
    fn a_waiting_holder_gets_the_lock_when_it_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let first = WorkDirLock::acquire(dir.path(), Duration::ZERO).unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(first);
        });
        WorkDirLock::acquire(dir.path(), Duration::from_secs(10)).unwrap();
        release.join().unwrap();
    }

    #[test]
    fn a_daemon_holder_is_not_waited_for() {
        assert!(is_daemon("pid 12: /usr/bin/acejudge serve --config /etc/acejudge/acejudge.toml"));
        assert!(!is_daemon("pid 12: acejudge run --lang python server.py"));
        assert!(!is_daemon("pid 12: acejudge --data-dir /srv/serve-data run --lang py a.py"));
    }
}
