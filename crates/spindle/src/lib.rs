//! spindle: a toolbox for concurrent and parallel Rust.
pub use spindle_core as core;
pub use spindle_coro as coro;
