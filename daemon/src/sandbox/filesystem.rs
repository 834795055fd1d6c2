//! The run's root filesystem, planned by the supervisor in two parts: the
//! [`template_plan`] a slot's template namespace is built from once per shape
//! (see [`super::template`]), and the [`run_plan`] init performs in its copy.
//!
//! ```text
//! /            tmpfs (1 MiB), read-only (template), nosuid, nodev
//! /usr …       read-only, nosuid, nodev binds of the system dirs; /bin, /lib… as the host's symlinks
//! /etc         synthetic: passwd and group naming the slot user, hosts, nsswitch.conf,
//!              the host's ld.so.cache and alternatives (read-only binds)
//! /box         the run's box, read-write, nosuid, nodev (the working directory)   (run)
//! /tmp         tmpfs of the run's tmp size, charged to its memory cgroup; extra
//!              read-only paths under /tmp are attached in it                     (run)
//! /dev         tmpfs with null, zero, full, random, urandom; fd, stdin… links; shm → /tmp
//! /proc        fresh procfs of the run's pid namespace                            (run)
//! /sys/fs/cgroup  optional read-only view of the run's own cgroup (cgroup ns)     (run)
//! ```
//! Nothing else of the host exists inside: no /run, /var, /home, /root, daemon data or other boxes.

use super::cgroup::Layout;
use super::child::{LandlockRule, MountOp};
use super::landlock::LandlockPolicy;
use std::ffi::CString;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// The host's system directories every run sees read-only (when they exist).
pub const SYSTEM_PATHS: &[&str] = &["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/// Files of the host's `/etc` that runtimes resolve through, bound read-only.
pub const ETC_PATHS: &[&str] = &["/etc/ld.so.cache", "/etc/alternatives", "/etc/localtime"];

const RO: libc::c_ulong = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV;

/// Who the run is, for the synthetic `/etc/passwd` and `/etc/group`.
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
}

/// What a root depends on besides its slot: the key of a slot's templates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    pub extra_readonly: Vec<PathBuf>,
    pub writable_overlays: Vec<PathBuf>,
    pub cgroup_view: bool,
}

impl Shape {
    /// Host paths bound into the root that live under `/tmp`: the run's own
    /// `/tmp` would hide them in a template, so each run attaches them itself.
    pub fn per_run_binds(&self) -> Vec<PathBuf> {
        self.extra_readonly.iter().chain(&self.writable_overlays).filter(|p| under_tmp(p)).cloned().collect()
    }
}

fn under_tmp(path: &Path) -> bool {
    path.starts_with("/tmp")
}

/// Checks the spec's paths before anything is built from them.
pub fn check_shape(shape: &Shape) -> Result<(), String> {
    for extra in &shape.extra_readonly {
        if !extra.is_absolute() {
            return Err(format!("read-only path {} must be absolute", extra.display()));
        }
        if ["/proc", "/dev", "/sys", "/box"].iter().any(|special| extra.starts_with(special))
            || extra == Path::new("/tmp")
        {
            return Err(format!(
                "read-only path {} would shadow the run's own /proc, /dev, /sys, /tmp or /box",
                extra.display()
            ));
        }
        if !extra.exists() {
            return Err(format!("read-only path {} does not exist on this host", extra.display()));
        }
    }
    for lower in &shape.writable_overlays {
        if !lower.is_absolute() || !lower.is_dir() || lower == Path::new("/tmp") {
            return Err(format!("overlay {} must be an existing absolute directory", lower.display()));
        }
    }
    Ok(())
}

/// Inputs of a slot's template root for one [`Shape`].
pub struct TemplateInputs<'a> {
    pub new_root: &'a Path,
    pub identity: Identity,
    pub shape: &'a Shape,
    pub cgroup_layout: &'a Layout,
}

/// Inputs of one run's additions to a template root.
pub struct RunInputs<'a> {
    /// A detached clone of the run's box directory (`open_tree`), attached at `/box`.
    pub box_tree: RawFd,
    /// Detached read-only clones of [`Shape::per_run_binds`], in that order.
    pub tmp_trees: &'a [RawFd],
    pub tmp_bytes: u64,
    pub shape: &'a Shape,
    pub cgroup_layout: &'a Layout,
}

/// Operations to perform and the Landlock rules to add once they are done.
pub struct RootPlan {
    pub ops: Vec<MountOp>,
    pub rules: Vec<LandlockRule>,
    /// Host paths bound into the root, for noticing when one is replaced.
    pub bound: Vec<PathBuf>,
}

struct Builder<'a> {
    new_root: &'a Path,
    ops: Vec<MountOp>,
    rules: Vec<LandlockRule>,
    made_dirs: Vec<PathBuf>,
    bound: Vec<PathBuf>,
}

impl<'a> Builder<'a> {
    fn new(new_root: &'a Path) -> Builder<'a> {
        Builder { new_root, ops: Vec::new(), rules: Vec::new(), made_dirs: Vec::new(), bound: Vec::new() }
    }

    fn finish(self) -> RootPlan {
        RootPlan { ops: self.ops, rules: self.rules, bound: self.bound }
    }
}

/// The part of a root that is the same for every run of a slot with this
/// shape, with paths under `new_root`: built once in a template mount
/// namespace, which is then pivoted into it and made read-only by the caller.
/// The shape has passed [`check_shape`] (every run checks its own).
pub fn template_plan(inputs: &TemplateInputs, landlock: &LandlockPolicy) -> Result<RootPlan, String> {
    let mut b = Builder::new(inputs.new_root);
    b.mount(Some("tmpfs"), Path::new("/"), Some("tmpfs"), libc::MS_NOSUID | libc::MS_NODEV, Some("size=1m,mode=0755"))?;
    b.rule("/", landlock.read_only())?;

    for system in SYSTEM_PATHS {
        let host = Path::new(system);
        match std::fs::symlink_metadata(host) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(host).map_err(|e| format!("cannot read link {system}: {e}"))?;
                b.symlink(&target, host)?;
            }
            Ok(meta) if meta.is_dir() => b.bind_readonly(host, landlock)?,
            _ => {}
        }
    }
    b.dir(Path::new("/etc"), 0o755)?;
    let passwd = format!(
        "root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:{uid}:{gid}:AceJudge sandbox:/box:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        uid = inputs.identity.uid,
        gid = inputs.identity.gid
    );
    let group = format!("root:x:0:\nsandbox:x:{}:\nnogroup:x:65534:\n", inputs.identity.gid);
    b.file(Path::new("/etc/passwd"), passwd.into_bytes())?;
    b.file(Path::new("/etc/group"), group.into_bytes())?;
    b.file(Path::new("/etc/hosts"), b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n".to_vec())?;
    b.file(Path::new("/etc/hostname"), b"acejudge\n".to_vec())?;
    b.file(Path::new("/etc/nsswitch.conf"), b"passwd: files\ngroup: files\nhosts: files\n".to_vec())?;
    for etc in ETC_PATHS {
        if Path::new(etc).exists() {
            b.bind_readonly(Path::new(etc), landlock)?;
        }
    }
    b.dir(Path::new("/box"), 0o755)?;
    b.dir(Path::new("/tmp"), 0o1777)?;
    if !inputs.shape.writable_overlays.is_empty() {
        b.dir(Path::new("/.layers"), 0o700)?;
    }
    for lower in inputs.shape.writable_overlays.iter().filter(|p| !under_tmp(p)) {
        // The overlay's lower layer, read-only; each run mounts its overlay on top.
        if !b.is_bound(lower) {
            b.bind_readonly(lower, landlock)?;
        }
    }

    b.dir(Path::new("/dev"), 0o755)?;
    b.mount(
        Some("tmpfs"),
        Path::new("/dev"),
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        Some("size=64k,mode=0755"),
    )?;
    for (name, minor) in [("null", 3), ("zero", 5), ("full", 7), ("random", 8), ("urandom", 9)] {
        b.ops.push(MountOp::CharDevice { path: b.host(&Path::new("/dev").join(name))?, dev: libc::makedev(1, minor) });
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("shm", "/tmp"),
    ] {
        b.symlink(Path::new(target), &Path::new("/dev").join(name))?;
    }
    b.rule("/dev", landlock.devices())?;
    b.dir(Path::new("/proc"), 0o555)?;

    for extra in inputs.shape.extra_readonly.iter().filter(|p| !under_tmp(p)) {
        if !b.is_bound(extra) {
            b.bind_readonly(extra, landlock)?;
        }
    }
    if inputs.shape.cgroup_view {
        b.dirs(Path::new("/sys/fs/cgroup"))?;
    }
    Ok(b.finish())
}

/// What each run adds to its copy of the template, with paths as seen inside:
/// the box, a fresh `/tmp`, binds that live under `/tmp`, the overlays' write
/// layers, a fresh `/proc` and the optional cgroup view.
pub fn run_plan(inputs: &RunInputs, landlock: &LandlockPolicy) -> Result<RootPlan, String> {
    let mut b = Builder::new(Path::new("/"));
    b.ops.push(MountOp::MoveMount { tree: inputs.box_tree, target: cstring(Path::new("/box"))? });
    b.rule("/box", landlock.read_write())?;

    let tmp_opts = format!("size={},mode=1777", inputs.tmp_bytes.max(4096));
    b.mount(Some("tmpfs"), Path::new("/tmp"), Some("tmpfs"), libc::MS_NOSUID | libc::MS_NODEV, Some(&tmp_opts))?;
    b.rule("/tmp", landlock.read_write())?;
    b.made_dirs.push(PathBuf::from("/tmp"));
    let per_run = inputs.shape.per_run_binds();
    if per_run.len() != inputs.tmp_trees.len() {
        return Err("internal: one detached tree is needed per bind under /tmp".into());
    }
    for (host, tree) in per_run.iter().zip(inputs.tmp_trees) {
        if b.bound.iter().any(|done| done == host) {
            continue;
        }
        b.dirs(host.parent().unwrap_or(Path::new("/tmp")))?;
        if host.is_dir() {
            b.dir(host, 0o755)?;
        } else {
            b.file(host, Vec::new())?;
        }
        b.ops.push(MountOp::MoveMount { tree: *tree, target: cstring(host)? });
        let read = if host.is_dir() { landlock.read_execute() } else { landlock.for_file(landlock.read_execute()) };
        b.rule(path_str(host)?, read)?;
        b.bound.push(host.clone());
    }

    if !inputs.shape.writable_overlays.is_empty() {
        // Upper and work directories of the overlays live in their own tmpfs, outside /tmp.
        let opts = format!("size={},mode=0700", inputs.tmp_bytes.max(4096));
        b.mount(Some("tmpfs"), Path::new("/.layers"), Some("tmpfs"), libc::MS_NOSUID | libc::MS_NODEV, Some(&opts))?;
        b.made_dirs.push(PathBuf::from("/.layers"));
        for (i, lower) in inputs.shape.writable_overlays.iter().enumerate() {
            let layer = PathBuf::from(format!("/.layers/{i}"));
            b.dir(&layer, 0o755)?;
            // The merged directory takes the upper directory's mode and owner: give it the lower's.
            let meta = std::fs::metadata(lower).map_err(|e| format!("overlay {}: {e}", lower.display()))?;
            b.dir(&layer.join("upper"), std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777)?;
            b.ops.push(MountOp::Chown {
                path: b.host(&layer.join("upper"))?,
                uid: std::os::unix::fs::MetadataExt::uid(&meta),
                gid: std::os::unix::fs::MetadataExt::gid(&meta),
            });
            b.dir(&layer.join("work"), 0o755)?;
            let opts = format!(
                "lowerdir={},upperdir={},workdir={}",
                path_str(lower)?,
                path_str(&layer.join("upper"))?,
                path_str(&layer.join("work"))?
            );
            b.mount(Some("overlay"), lower, Some("overlay"), libc::MS_NOSUID | libc::MS_NODEV, Some(&opts))?;
            b.rule(path_str(lower)?, landlock.read_write())?;
        }
    }

    b.mount(Some("proc"), Path::new("/proc"), Some("proc"), libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC, None)?;
    // memfds are on an internal filesystem Landlock cannot see: make them non-executable
    // in this pid namespace (MFD_EXEC itself is refused by seccomp).
    b.ops.push(MountOp::Sysctl { path: cstring(Path::new("/proc/sys/vm/memfd_noexec"))?, value: b"1" });

    if inputs.shape.cgroup_view {
        let flags = RO | libc::MS_NOEXEC;
        match inputs.cgroup_layout {
            Layout::V2 { .. } => b.mount(Some("cgroup2"), Path::new("/sys/fs/cgroup"), Some("cgroup2"), flags, None)?,
            Layout::V1 { views, .. } => {
                b.mount(
                    Some("tmpfs"),
                    Path::new("/sys/fs/cgroup"),
                    Some("tmpfs"),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    Some("size=4k,mode=0755"),
                )?;
                b.made_dirs.push(PathBuf::from("/sys/fs/cgroup"));
                for controllers in views {
                    let dir = Path::new("/sys/fs/cgroup").join(controllers);
                    b.dir(&dir, 0o555)?;
                    b.mount(Some("cgroup"), &dir, Some("cgroup"), flags, Some(controllers))?;
                }
                b.mount(None, Path::new("/sys/fs/cgroup"), None, libc::MS_BIND | libc::MS_REMOUNT | flags, None)?;
            }
        }
    }
    Ok(b.finish())
}

impl Builder<'_> {
    /// The host-side path of `inside` under the new root, before pivot_root.
    fn host(&self, inside: &Path) -> Result<CString, String> {
        let relative = inside.strip_prefix("/").map_err(|_| format!("{} is not absolute", inside.display()))?;
        let joined =
            if relative.as_os_str().is_empty() { self.new_root.to_path_buf() } else { self.new_root.join(relative) };
        cstring(&joined)
    }

    fn dir(&mut self, inside: &Path, mode: libc::mode_t) -> Result<(), String> {
        if self.made_dirs.iter().any(|d| d == inside) {
            return Ok(());
        }
        self.ops.push(MountOp::MakeDir { path: self.host(inside)?, mode });
        self.made_dirs.push(inside.to_path_buf());
        Ok(())
    }

    /// Makes `inside` and every missing parent.
    fn dirs(&mut self, inside: &Path) -> Result<(), String> {
        let mut current = PathBuf::from("/");
        for component in inside.components() {
            if let Component::Normal(name) = component {
                current.push(name);
                self.dir(&current.clone(), 0o755)?;
            }
        }
        Ok(())
    }

    fn symlink(&mut self, target: &Path, inside: &Path) -> Result<(), String> {
        self.ops.push(MountOp::Symlink { target: cstring(target)?, path: self.host(inside)? });
        Ok(())
    }

    fn file(&mut self, inside: &Path, contents: Vec<u8>) -> Result<(), String> {
        self.ops.push(MountOp::WriteFile { path: self.host(inside)?, contents });
        Ok(())
    }

    fn mount(
        &mut self,
        source: Option<&str>,
        inside: &Path,
        fstype: Option<&str>,
        flags: libc::c_ulong,
        data: Option<&str>,
    ) -> Result<(), String> {
        let c = |s: Option<&str>| s.map(|s| CString::new(s).map_err(|_| format!("NUL in {s:?}"))).transpose();
        self.ops.push(MountOp::Mount {
            source: c(source)?,
            target: self.host(inside)?,
            fstype: c(fstype)?,
            flags,
            data: c(data)?,
        });
        Ok(())
    }

    fn is_bound(&self, path: &Path) -> bool {
        self.bound.iter().any(|b| path.starts_with(b))
    }

    /// A read-only, nosuid, nodev bind of a host path at the same place inside.
    fn bind_readonly(&mut self, host: &Path, landlock: &LandlockPolicy) -> Result<(), String> {
        let parent = host.parent().unwrap_or(Path::new("/"));
        self.dirs(parent)?;
        if host.is_dir() {
            self.dir(host, 0o755)?;
        } else {
            self.file(host, Vec::new())?;
        }
        let source = path_str(host)?;
        self.mount(Some(source), host, None, libc::MS_BIND, None)?;
        self.mount(None, host, None, libc::MS_BIND | libc::MS_REMOUNT | RO, None)?;
        let access = if host.is_dir() { landlock.read_execute() } else { landlock.for_file(landlock.read_execute()) };
        self.rule(source, access)?;
        self.bound.push(host.to_path_buf());
        Ok(())
    }

    fn rule(&mut self, inside: &str, access: u64) -> Result<(), String> {
        if access != 0 {
            self.rules.push(LandlockRule { path: cstring(Path::new(inside))?, access });
        }
        Ok(())
    }
}

fn cstring(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| format!("path {} contains NUL", path.display()))
}

fn path_str(path: &Path) -> Result<&str, String> {
    path.to_str().ok_or_else(|| format!("path {} is not UTF-8", path.display()))
}
