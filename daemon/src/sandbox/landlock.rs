//! Landlock, the second fence behind the mount namespace.
//!
//! Policy: read on the new root; read and execute on the read-only system and
//! toolchain paths; everything in the box and `/tmp`; read, write and device
//! ioctls on `/dev`'s few nodes; no TCP bind or connect (ABI ≥ 4: no rules
//! means none is allowed); no abstract-unix-socket connections or signals
//! leaving the run's domain (ABI ≥ 6).
//!
//! The ruleset is created per run by the supervisor (one syscall, through the
//! `landlock` crate). Its path rules name inodes that exist only inside the
//! run's root (its copy of the template, `/proc`, `/tmp`), so init adds them
//! once that root is in place, with the precomputed access masks below, and
//! the payload enforces it.
//! The ABI is vetted up to [`VETTED_ABI`]; newer kernels are used at that level.

use landlock::{Access, AccessFs, AccessNet, BitFlags, Ruleset, RulesetAttr, Scope, ABI};
use std::os::fd::OwnedFd;

/// The highest Landlock ABI whose access rights this policy was written and tested for.
pub const VETTED_ABI: u32 = 7;

#[derive(Debug, thiserror::Error)]
#[error("cannot create the Landlock ruleset: {0}")]
pub struct LandlockError(#[from] landlock::RulesetError);

/// The Landlock level this host supports and the masks the policy grants.
#[derive(Clone, Copy, Debug)]
pub struct LandlockPolicy {
    kernel_abi: u32,
    abi: ABI,
}

impl LandlockPolicy {
    /// Asks the kernel for its Landlock ABI version.
    pub fn detect() -> LandlockPolicy {
        const LANDLOCK_CREATE_RULESET_VERSION: libc::c_long = 1;
        // SAFETY: with a null attribute, size 0 and the VERSION flag the syscall only returns a number.
        let rc = unsafe {
            libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<u8>(), 0, LANDLOCK_CREATE_RULESET_VERSION)
        };
        let kernel_abi = if rc < 0 { 0 } else { rc as u32 };
        LandlockPolicy { kernel_abi, abi: abi_from(kernel_abi.min(VETTED_ABI)) }
    }

    /// The ABI the kernel offers (0: Landlock unavailable).
    pub fn kernel_abi(&self) -> u32 {
        self.kernel_abi
    }

    /// The ABI the policy is enforced at.
    pub fn abi(&self) -> u32 {
        self.kernel_abi.min(VETTED_ABI)
    }

    /// `fully_enforced` when the kernel has every right the policy uses.
    pub fn status(&self) -> &'static str {
        match self.abi() {
            0 => "not_enforced",
            a if a >= 6 => "fully_enforced",
            _ => "partially_enforced",
        }
    }

    /// A new, empty ruleset handling every vetted right; `None` without Landlock.
    pub fn create_ruleset(&self) -> Result<Option<OwnedFd>, LandlockError> {
        if self.abi() == 0 {
            return Ok(None);
        }
        let mut ruleset = Ruleset::default().handle_access(AccessFs::from_all(self.abi))?;
        if self.abi() >= 4 {
            ruleset = ruleset.handle_access(AccessNet::from_all(self.abi))?;
        }
        if self.abi() >= 6 {
            ruleset = ruleset.scope(Scope::from_all(self.abi))?;
        }
        Ok(ruleset.create()?.into())
    }

    /// Listing and reading files.
    pub fn read_only(&self) -> u64 {
        bits(self.handled() & (AccessFs::ReadFile | AccessFs::ReadDir))
    }

    /// Reading and executing: system and toolchain directories.
    pub fn read_execute(&self) -> u64 {
        bits(self.handled() & AccessFs::from_read(self.abi))
    }

    /// Every right: the box and `/tmp`.
    pub fn read_write(&self) -> u64 {
        bits(self.handled())
    }

    /// Reading, writing and ioctls on device nodes: `/dev`.
    pub fn devices(&self) -> u64 {
        let mut access = AccessFs::ReadFile | AccessFs::ReadDir | AccessFs::WriteFile;
        if self.abi() >= 5 {
            access |= AccessFs::IoctlDev;
        }
        bits(self.handled() & access)
    }

    /// The part of `access` that applies to a single file (a rule on a file must not name directory rights).
    pub fn for_file(&self, access: u64) -> u64 {
        access & bits(AccessFs::from_file(self.abi))
    }

    fn handled(&self) -> BitFlags<AccessFs> {
        AccessFs::from_all(self.abi)
    }
}

fn bits(flags: BitFlags<AccessFs>) -> u64 {
    flags.bits()
}

fn abi_from(version: u32) -> ABI {
    match version {
        0 => ABI::Unsupported,
        1 => ABI::V1,
        2 => ABI::V2,
        3 => ABI::V3,
        4 => ABI::V4,
        5 => ABI::V5,
        6 => ABI::V6,
        _ => ABI::V7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_nest_from_read_only_to_read_write() {
        let policy = LandlockPolicy { kernel_abi: 7, abi: ABI::V7 };
        let (ro, rx, rw) = (policy.read_only(), policy.read_execute(), policy.read_write());
        assert_eq!(ro & rx, ro, "read-execute includes read-only");
        assert_eq!(rx & rw, rx, "read-write includes read-execute");
        assert_ne!(rx, rw, "the read-only paths do not get write rights");
        assert_eq!(policy.devices() & bits(AccessFs::Execute.into()), 0, "nothing in /dev is executable");
    }

    #[test]
    fn abi_is_capped_at_the_vetted_version() {
        let policy = LandlockPolicy { kernel_abi: 9, abi: abi_from(9) };
        assert_eq!(policy.abi(), VETTED_ABI);
        assert_eq!(policy.status(), "fully_enforced");
    }
}
