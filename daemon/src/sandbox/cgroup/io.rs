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

/// A cgroup file opened once and read again from offset 0 each time (`pread`):
/// a run's counters are read after the run without a path lookup.
pub struct CounterFile {
    path: PathBuf,
    file: fs::File,
}

impl CounterFile {
    pub fn open(path: PathBuf) -> Result<CounterFile, CgroupError> {
        let file = fs::File::open(&path).map_err(|source| CgroupError::Read { path: path.clone(), source })?;
        Ok(CounterFile { path, file })
    }

    pub fn read(&self) -> Result<String, CgroupError> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 4096];
        let n =
            self.file.read_at(&mut buf, 0).map_err(|source| CgroupError::Read { path: self.path.clone(), source })?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    pub fn read_u64(&self) -> Result<u64, CgroupError> {
        let content = self.read()?;
        content.trim().parse().map_err(|_| CgroupError::Parse { path: self.path.clone(), content })
    }

    /// The value of `key` in a flat-keyed file such as `cpu.stat` or `memory.events`.
    pub fn read_key(&self, key: &str) -> Result<Option<u64>, CgroupError> {
        Ok(parse_key(&self.read()?, key))
    }
}

fn parse_key(content: &str, key: &str) -> Option<u64> {
    content.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}
