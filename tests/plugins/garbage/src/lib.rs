//! Test fixture: a plugin with the right ABI version whose every call returns
//! bytes that are not JSON. The host must reject it with a clear message.

use acejudge_runner_api::abi::{free_buffer, RawBuffer, RawSlice, RunnerEntry, ABI_VERSION};

unsafe extern "C" fn call(_method: RawSlice, _input: RawSlice) -> RawBuffer {
    RawBuffer::from_vec(b"\xff\xfe this is not JSON".to_vec())
}

static ENTRY: RunnerEntry = RunnerEntry { abi_version: ABI_VERSION, call, free: free_buffer };

/// The entry point: a valid version, garbage answers.
#[no_mangle]
pub extern "C" fn acejudge_runner_entry() -> *const RunnerEntry {
    &ENTRY
}
