//! Far more suspended coroutines than the kernel's mapping budget would
//! allow with a guard page each (`vm.max_map_count`, 65530 by default).
//!
//! Not on Windows: wine maps every VirtualAlloc to host mappings, so under
//! wine the host's budget caps guarded stacks where Windows would not.
#![cfg(not(windows))]

use spindle_coro::coroutine::Builder;
use spindle_coro::{Coroutine, CoroutineResult, StackPool};

/// Sanitizers keep large per-fiber state, so they get a smaller count.
const COUNT: usize = if cfg!(any(spindle_asan, spindle_tsan)) {
    2_000
} else {
    200_000
};

#[test]
fn two_hundred_thousand_suspended_coroutines_fit_on_default_settings() {
    let mut coroutines: Vec<Coroutine<(), usize, usize>> = (0..COUNT)
        .map(|i| {
            Builder::new()
                .stack_size(16 * 1024)
                .spawn(move |s, ()| {
                    s.suspend(i);
                    i
                })
                .unwrap_or_else(|e| panic!("coroutine {i}: {e}"))
        })
        .collect();
    for (i, co) in coroutines.iter_mut().enumerate() {
        assert_eq!(co.resume(()), CoroutineResult::Yield(i));
    }
    // Every one is now suspended, with a live frame on its own stack.
    assert!(
        coroutines
            .iter()
            .all(|co| co.is_started() && !co.is_finished())
    );
    if COUNT == 200_000 {
        assert!(
            StackPool::global().stats().unguarded > 0,
            "the guard budget was never reached"
        );
    }
    for (i, co) in coroutines.iter_mut().enumerate() {
        assert_eq!(co.resume(()), CoroutineResult::Return(i));
    }
}
