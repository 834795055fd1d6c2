//! Test fixture: a plugin that exports the entry symbol with an ABI version
//! from the future. The host must reject it after reading the version, without
//! calling anything else: its `call` and `free` abort the process if called.

use acejudge_runner_api::abi::{RawBuffer, RawSlice, RunnerEntry};

unsafe extern "C" fn call(_method: RawSlice, _input: RawSlice) -> RawBuffer {
    std::process::abort()
}

unsafe extern "C" fn free(_buffer: RawBuffer) {
    std::process::abort()
}

static ENTRY: RunnerEntry = RunnerEntry { abi_version: 999, call, free };

/// The entry point, with the wrong ABI version.
#[no_mangle]
pub extern "C" fn acejudge_runner_entry() -> *const RunnerEntry {
    &ENTRY
}
