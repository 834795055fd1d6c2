//! The C ABI between the host and a plugin: one entry symbol, JSON in, JSON out.
//!
//! ```text
//! host                                   plugin (.so)
//! ----                                   ------------
//! dlsym("acejudge_runner_entry")  ──►    returns &'static RunnerEntry
//! read RunnerEntry.abi_version           (first field, a u32; checked before
//!   (MIN_ABI_VERSION..=ABI_VERSION)       anything else is touched)
//! entry.call("plan", json bytes)  ──►    catch_unwind { decode, Runner::plan, encode }
//!                                 ◄──    RawBuffer (allocated by the plugin)
//! copy the bytes, entry.free(buf) ──►    frees with its own allocator
//! ```
//!
//! Input slices are borrowed for the duration of the call only. Output is
//! always a JSON [`Envelope`]: `{"ok": …}` or `{"err": {"kind": …, "message": …}}`.
//! A panic inside the plugin is caught there and comes back as
//! `{"err": {"kind": "panic", …}}`; it never unwinds across `extern "C"`.
//!
//! Compatibility rule: a change to [`RunnerEntry`]'s layout or to the meaning
//! of a method bumps [`ABI_VERSION`]. Adding an optional JSON field does not.

use crate::error::RunnerError;
use crate::types::{PlanRequest, StepOutput, Toolchain};
use crate::Runner;
use serde::{Deserialize, Serialize};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The ABI version plugins built against this crate export.
pub const ABI_VERSION: u32 = 1;
/// The oldest ABI version this crate's host side still understands.
pub const MIN_ABI_VERSION: u32 = 1;
/// The symbol every plugin exports (see [`crate::export_runner!`]).
pub const ENTRY_SYMBOL: &str = "acejudge_runner_entry";

/// A borrowed byte slice: valid only during the call it is passed to.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RawSlice {
    pub ptr: *const u8,
    pub len: usize,
}

impl RawSlice {
    pub fn new(bytes: &[u8]) -> RawSlice {
        RawSlice { ptr: bytes.as_ptr(), len: bytes.len() }
    }

    /// # Safety
    /// `ptr` must be null (then `len` is ignored) or valid for reads of `len`
    /// bytes for the lifetime `'a`.
    pub unsafe fn as_bytes<'a>(self) -> &'a [u8] {
        if self.ptr.is_null() || self.len == 0 {
            return &[];
        }
        // SAFETY: the caller guarantees `ptr` is valid for `len` bytes for `'a`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// An owned buffer allocated by the plugin; give it back to the plugin's `free`.
#[repr(C)]
#[derive(Debug)]
pub struct RawBuffer {
    pub ptr: *mut u8,
    pub len: usize,
    pub capacity: usize,
}

impl RawBuffer {
    /// Leaks `bytes` into a buffer only [`free_buffer`] (in the same binary) may free.
    pub fn from_vec(bytes: Vec<u8>) -> RawBuffer {
        let mut bytes = std::mem::ManuallyDrop::new(bytes);
        RawBuffer { ptr: bytes.as_mut_ptr(), len: bytes.len(), capacity: bytes.capacity() }
    }
}

/// The plugin's entry symbol's type.
pub type EntryFn = unsafe extern "C" fn() -> *const RunnerEntry;
/// Calls `method` with JSON `input`; returns a JSON [`Envelope`].
pub type CallFn = unsafe extern "C" fn(method: RawSlice, input: RawSlice) -> RawBuffer;
/// Frees a buffer returned by the same plugin's [`CallFn`].
pub type FreeFn = unsafe extern "C" fn(buffer: RawBuffer);

/// What the entry symbol returns (a `'static` in the plugin).
///
/// The **first field is the ABI version**: a host reads it alone (as a `u32`)
/// and only reads the rest when the version is one it knows.
#[repr(C)]
pub struct RunnerEntry {
    pub abi_version: u32,
    pub call: CallFn,
    pub free: FreeFn,
}

/// The method names `call` understands, and their JSON input → output.
pub mod method {
    /// `null` → [`crate::RunnerInfo`]
    pub const INFO: &str = "info";
    /// [`crate::RunnerConfig`] → [`crate::Toolchain`]
    pub const TOOLCHAIN: &str = "toolchain";
    /// [`super::PlanInput`] → [`crate::Plan`]
    pub const PLAN: &str = "plan";
    /// [`crate::StepOutput`] → [`crate::TestReport`]
    pub const PARSE_REPORT: &str = "parse_report";
    /// [`crate::StepOutput`] → `Option<`[`crate::Diagnosis`]`>`
    pub const DIAGNOSE: &str = "diagnose";
    /// `null` → [`crate::SelfTest`]
    pub const SELF_TEST: &str = "self_test";
}

/// The input of [`method::PLAN`]: the toolchain the plugin reported, handed back.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanInput {
    pub toolchain: Toolchain,
    pub request: PlanRequest,
}

/// Every `call`'s output.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Envelope<T> {
    Ok(T),
    Err(RunnerError),
}

impl<T> From<Result<T, RunnerError>> for Envelope<T> {
    fn from(result: Result<T, RunnerError>) -> Self {
        match result {
            Ok(value) => Envelope::Ok(value),
            Err(e) => Envelope::Err(e),
        }
    }
}

impl<T> From<Envelope<T>> for Result<T, RunnerError> {
    fn from(envelope: Envelope<T>) -> Self {
        match envelope {
            Envelope::Ok(value) => Ok(value),
            Envelope::Err(e) => Err(e),
        }
    }
}

/// The plugin side of `call`: decodes, runs the method, encodes, catching panics.
/// Used by [`crate::export_runner!`]; `runner` builds (or fetches) the runner.
///
/// # Safety
/// `method` and `input` must satisfy [`RawSlice::as_bytes`] for the call's duration.
pub unsafe fn dispatch<R: Runner>(runner: impl FnOnce() -> &'static R, method: RawSlice, input: RawSlice) -> RawBuffer {
    // SAFETY: the caller passes slices valid for this call.
    let (method, input) = unsafe { (method.as_bytes(), input.as_bytes()) };
    install_quiet_panic_hook();
    IN_DISPATCH.with(|d| d.set(true));
    let result = catch_unwind(AssertUnwindSafe(|| {
        let runner = runner();
        call_method(runner, method, input)
    }));
    IN_DISPATCH.with(|d| d.set(false));
    let encoded = match result {
        Ok(Ok(json)) => Ok(json),
        Ok(Err(e)) => Err(e),
        Err(payload) => {
            let location = PANIC_LOCATION.with(|l| l.take()).map(|l| format!(" (at {l})")).unwrap_or_default();
            Err(RunnerError::Panic(format!("{}{location}", panic_message(payload.as_ref()))))
        }
    };
    let bytes = match encoded {
        Ok(json) => json,
        Err(e) => encode(&Envelope::<()>::Err(e)),
    };
    RawBuffer::from_vec(bytes)
}

thread_local! {
    static IN_DISPATCH: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static PANIC_LOCATION: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// A panic inside [`dispatch`] becomes an error the host reports, so it is not
/// also printed to the daemon's stderr; its location is kept for the message.
/// Panics elsewhere go to the previous hook as before.
fn install_quiet_panic_hook() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_DISPATCH.with(|d| d.get()) {
                let location = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
                PANIC_LOCATION.with(|l| *l.borrow_mut() = location);
            } else {
                previous(info);
            }
        }));
    });
}

fn call_method<R: Runner>(runner: &R, method: &[u8], input: &[u8]) -> Result<Vec<u8>, RunnerError> {
    let method = std::str::from_utf8(method).map_err(|_| RunnerError::UnknownMethod("<not UTF-8>".into()))?;
    Ok(match method {
        method::INFO => encode(&Envelope::Ok(runner.info())),
        method::SELF_TEST => encode(&Envelope::Ok(runner.self_test())),
        method::TOOLCHAIN => encode(&Envelope::from(runner.toolchain(&decode(input)?))),
        method::PLAN => {
            let PlanInput { toolchain, request } = decode(input)?;
            encode(&Envelope::from(runner.plan(&toolchain, &request)))
        }
        method::PARSE_REPORT => encode(&Envelope::from(runner.parse_report(&decode::<StepOutput>(input)?))),
        method::DIAGNOSE => encode(&Envelope::Ok(runner.diagnose(&decode::<StepOutput>(input)?))),
        other => return Err(RunnerError::UnknownMethod(other.into())),
    })
}

fn decode<T: for<'de> Deserialize<'de>>(input: &[u8]) -> Result<T, RunnerError> {
    serde_json::from_slice(input).map_err(|e| RunnerError::BadInput(e.to_string()))
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|e| {
        // Only a non-string map key or a failing Serialize impl gets here.
        let fallback = Envelope::<()>::Err(RunnerError::Internal(format!("cannot encode the result: {e}")));
        serde_json::to_vec(&fallback).unwrap_or_else(|_| br#"{"err":{"kind":"internal","message":"encode"}}"#.to_vec())
    })
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".into()
    }
}

/// The plugin side of `free`: frees a buffer made by [`RawBuffer::from_vec`].
///
/// # Safety
/// `buffer` must come from [`RawBuffer::from_vec`] in this same binary, and be freed once.
pub unsafe extern "C" fn free_buffer(buffer: RawBuffer) {
    if buffer.ptr.is_null() {
        return;
    }
    // SAFETY: the buffer was made by `from_vec` here, so ptr/len/capacity describe a live Vec<u8>.
    drop(unsafe { Vec::from_raw_parts(buffer.ptr, buffer.len, buffer.capacity) });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::*;

    struct Panicky;

    impl Runner for Panicky {
        fn info(&self) -> RunnerInfo {
            panic!("info is broken")
        }
        fn toolchain(&self, _: &RunnerConfig) -> Result<Toolchain, RunnerError> {
            Err(RunnerError::ToolchainMissing("nothing here".into()))
        }
        fn plan(&self, _: &Toolchain, _: &PlanRequest) -> Result<Plan, RunnerError> {
            Err(RunnerError::InvalidRequest("no".into()))
        }
        fn parse_report(&self, _: &StepOutput) -> Result<TestReport, RunnerError> {
            Ok(TestReport::default())
        }
        fn self_test(&self) -> SelfTest {
            unimplemented!()
        }
    }

    static PANICKY: Panicky = Panicky;

    fn call(method: &str, input: &[u8]) -> serde_json::Value {
        // SAFETY: both slices live across the call.
        let buffer = unsafe { dispatch(|| &PANICKY, RawSlice::new(method.as_bytes()), RawSlice::new(input)) };
        // SAFETY: the buffer was just returned by dispatch and is read before being freed.
        let bytes = unsafe { std::slice::from_raw_parts(buffer.ptr, buffer.len) }.to_vec();
        // SAFETY: made by from_vec in this binary, freed once.
        unsafe { free_buffer(buffer) };
        serde_json::from_slice(&bytes).expect("dispatch always returns JSON")
    }

    #[test]
    fn a_panic_comes_back_as_a_panic_error() {
        let out = call(method::INFO, b"null");
        assert_eq!(out["err"]["kind"], "panic");
        let message = out["err"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("info is broken (at runner-api/src/abi.rs:"), "{message}");
    }

    #[test]
    fn runner_errors_and_unknown_methods_come_back_as_errors() {
        let out = call(method::TOOLCHAIN, b"{}");
        assert_eq!(out["err"]["kind"], "toolchain_missing");
        let out = call("frobnicate", b"null");
        assert_eq!(out["err"]["kind"], "unknown_method");
        let out = call(method::PARSE_REPORT, b"not json");
        assert_eq!(out["err"]["kind"], "bad_input");
    }
}
