//! One plugin library: `dlopen`, the ABI check, and JSON calls across the boundary.
//!
//! Loading follows tree-sitter's loader:
//! 1. `dlopen` the file (its initializers run: plugins are trusted code the
//!    administrator installed, like any shared library);
//! 2. look up [`ENTRY_SYMBOL`] and call it;
//! 3. read **only the first field**, the ABI version (a `u32`), and check it
//!    against [`MIN_ABI_VERSION`]..=[`ABI_VERSION`] before touching anything else;
//! 4. copy the `call` and `free` function pointers out of the entry.
//!
//! Every call sends borrowed JSON bytes and gets back a buffer the plugin
//! allocated, which is copied and handed back to the plugin's own `free`.
//! The [`Library`] lives in an `Arc` held by every [`Plugin`] handle, so it is
//! never unloaded while anything from it is in use (in practice, never before
//! the daemon exits).

use super::error::{CallError, LoadError};
use acejudge_runner_api::abi::{
    CallFn, EntryFn, Envelope, FreeFn, RawSlice, RunnerEntry, ABI_VERSION, ENTRY_SYMBOL, MIN_ABI_VERSION,
};
use libloading::Library;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The most a plugin may answer in one call; more is garbage.
const MAX_ANSWER_BYTES: usize = 64 << 20;

/// A loaded plugin whose ABI version was checked.
pub struct Plugin {
    path: PathBuf,
    abi_version: u32,
    call: CallFn,
    free: FreeFn,
    /// Keeps the code behind `call` and `free` mapped.
    _library: Arc<Library>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("path", &self.path).field("abi_version", &self.abi_version).finish()
    }
}

impl Plugin {
    /// Loads `path` and checks its ABI version; calls nothing else.
    pub fn load(path: &Path) -> Result<Plugin, LoadError> {
        let path = path.to_path_buf();
        // SAFETY: loading runs the library's initializers. Runner plugins are
        // code the administrator installed in the runners directory; this is
        // the trust any shared library gets.
        let library =
            unsafe { Library::new(&path) }.map_err(|source| LoadError::Open { path: path.clone(), source })?;
        let entry_ptr = {
            // SAFETY: the symbol is declared by the ABI as `extern "C" fn() -> *const RunnerEntry`;
            // a plugin exporting something else under this name breaks the contract.
            let entry: libloading::Symbol<EntryFn> = unsafe { library.get(ENTRY_SYMBOL.as_bytes()) }
                .map_err(|source| LoadError::MissingSymbol { path: path.clone(), symbol: ENTRY_SYMBOL, source })?;
            // SAFETY: the entry function takes nothing and returns a pointer to a static.
            unsafe { entry() }
        };
        if entry_ptr.is_null() {
            return Err(LoadError::NullEntry { path });
        }
        // SAFETY: the entry is `#[repr(C)]` with a `u32` first; every ABI
        // version keeps that field first, so reading it alone is valid whatever
        // the rest of the struct looks like.
        let abi_version = unsafe { std::ptr::read(entry_ptr.cast::<u32>()) };
        if !(MIN_ABI_VERSION..=ABI_VERSION).contains(&abi_version) {
            return Err(LoadError::AbiVersion { path, found: abi_version, min: MIN_ABI_VERSION, max: ABI_VERSION });
        }
        // SAFETY: the version is one whose layout is `RunnerEntry`; it points to a
        // static in the library, which `library` keeps mapped.
        let entry: &RunnerEntry = unsafe { &*entry_ptr };
        let (call, free) = (entry.call, entry.free);
        Ok(Plugin { path, abi_version, call, free, _library: Arc::new(library) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn abi_version(&self) -> u32 {
        self.abi_version
    }

    /// Calls `method` with `input` as JSON and decodes the answer's envelope.
    pub fn call<I: Serialize, O: DeserializeOwned>(&self, method: &'static str, input: &I) -> Result<O, CallError> {
        let input = serde_json::to_vec(input)
            .map_err(|e| CallError::Garbage { method, reason: format!("cannot encode the input: {e}") })?;
        // SAFETY: both slices outlive the call; the plugin only borrows them during it.
        let buffer = unsafe { (self.call)(RawSlice::new(method.as_bytes()), RawSlice::new(&input)) };
        let answer = if buffer.ptr.is_null() {
            Err("a null buffer".to_string())
        } else if buffer.len > MAX_ANSWER_BYTES {
            Err(format!("{} bytes, more than the {MAX_ANSWER_BYTES} allowed", buffer.len))
        } else {
            // SAFETY: the plugin returned a live buffer of `len` bytes; it is copied before being freed.
            Ok(unsafe { std::slice::from_raw_parts(buffer.ptr, buffer.len) }.to_vec())
        };
        // SAFETY: the buffer came from this plugin's `call` and is freed once, by the plugin's allocator.
        unsafe { (self.free)(buffer) };
        let bytes = answer.map_err(|reason| CallError::Garbage { method, reason })?;
        let envelope: Envelope<O> = serde_json::from_slice(&bytes)
            .map_err(|e| CallError::Garbage { method, reason: format!("{e} in {:?}", preview(&bytes)) })?;
        Result::from(envelope).map_err(|error| CallError::Runner { method, error })
    }
}

/// The first bytes of an answer, for error messages.
fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).into_owned();
    if bytes.len() > 80 {
        format!("{text}…")
    } else {
        text
    }
}
