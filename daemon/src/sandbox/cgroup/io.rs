//! File access for cgroupfs: every error carries the path it was about.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot create cgroup {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("cannot remove cgroup {path}: {source}")]
    Remove { path: PathBuf, source: std::io::Error },
    #[error("cgroup controller `{controller}` is not available in {path}")]
    MissingController { controller: String, path: PathBuf },
    #[error("unexpected content in {path}: {content:?}")]
    Parse { path: PathBuf, content: String },
}

pub fn read(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path).map_err(|source| CgroupError::Read { path: path.into(), source })
}

pub fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    fs::write(path, value).map_err(|source| CgroupError::Write { path: path.into(), source })
}

pub fn read_u64(path: &Path) -> Result<u64, CgroupError> {
    let content = read(path)?;
    content.trim().parse().map_err(|_| CgroupError::Parse { path: path.into(), content })
}

/// The value of `key` in a flat-keyed file such as `cpu.stat` or `memory.events`.
pub fn read_key(path: &Path, key: &str) -> Result<Option<u64>, CgroupError> {
    let content = read(path)?;
    Ok(content.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    }))
}

pub fn create_dir(path: &Path) -> Result<(), CgroupError> {
    match fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(CgroupError::Create { path: path.into(), source }),
    }
}

/// Removes a cgroup directory, retrying while its last processes are being reaped.
pub fn remove_dir(path: &Path) -> Result<(), CgroupError> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(source) => return Err(CgroupError::Remove { path: path.into(), source }),
        }
    }
}
