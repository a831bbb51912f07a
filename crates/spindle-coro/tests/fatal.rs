//! Fatal misuse is reported on standard error, then the process aborts: a
//! stack overflow (by coroutine name and stack size), or a coroutine that
//! suspends while its stack unwinds.
//!
//! Each test runs itself again as a child process (with an environment
//! variable set) in which the failure happens, and checks how it died.

use spindle_coro::coroutine::Builder;
use spindle_coro::{Stack, Suspender};
use std::hint::black_box;
use std::process::{Command, ExitStatus};

const CHILD: &str = "SPINDLE_FATAL_CHILD";

/// Runs the test `name` in a child with `CHILD` set; returns its stderr
/// after checking it died by abort.
fn run_child(name: &str) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        // Under ASAN, locals whose address is taken live on a heap "fake
        // stack"; keep them on the real one so the child really overflows.
        .env("ASAN_OPTIONS", "detect_stack_use_after_return=0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        died_by_abort(output.status),
        "the child did not die by abort: {:?}\n{stderr}",
        output.status
    );
    stderr
}

#[cfg(unix)]
fn died_by_abort(status: ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(libc::SIGABRT)
}

/// `std::process::abort` on Windows is a fast-fail: STATUS_STACK_BUFFER_OVERRUN.
#[cfg(windows)]
fn died_by_abort(status: ExitStatus) -> bool {
    status.code() == Some(0xC000_0409_u32 as i32)
}

fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// Uses about `frames` KiB of stack, then suspends at the bottom.
fn deep(frames: usize, s: &Suspender<(), ()>) -> u8 {
    let mut pad = [frames as u8; 1024];
    black_box(&mut pad);
    if frames > 0 {
        pad[7] = deep(frames - 1, s);
    } else {
        s.suspend(());
    }
    pad[frames % 1024]
}

#[test]
fn guard_page_overflow_names_the_coroutine() {
    if in_child() {
        let mut co = Builder::new()
            .name("runaway-recursion")
            .stack_size(64 * 1024)
            .spawn(|s: &Suspender<(), ()>, ()| {
                deep(usize::MAX / 2, s);
            })
            .unwrap();
        assert!(co.stack().is_guarded());
        co.resume(());
        unreachable!("the overflow aborts the process");
    }
    let stderr = run_child("guard_page_overflow_names_the_coroutine");
    assert!(
        stderr.contains("coroutine 'runaway-recursion' overflowed its stack of 65536 bytes"),
        "{stderr}"
    );
    assert!(stderr.contains("guard page"), "{stderr}");
}

/// Not on Windows: it has no mapping budget, so pooled stacks there are
/// always guarded.
#[cfg(not(windows))]
#[test]
fn broken_canary_on_an_unguarded_stack_is_reported() {
    use spindle_coro::{Coroutine, StackPool};
    if in_child() {
        // Use up the guard-page budget so the pool carves stacks from slabs,
        // and hold the lowest few of a slab: the coroutine's stack then has
        // stacks below it, not the slab's guard page, however large the
        // frames (sanitizers make them larger).
        let mut held = Vec::new();
        while StackPool::global().stats().unguarded < 4 {
            held.push(StackPool::global().take(16 * 1024).unwrap());
        }
        let mut co: Coroutine<(), (), u8> = Builder::new()
            .name("slab-overflow")
            .stack_size(16 * 1024)
            .spawn(|s, ()| deep(20, s))
            .unwrap();
        assert!(!co.stack().is_guarded());
        co.resume(()); // runs 4 KiB past the limit, then suspends: checked
        unreachable!("the broken canary aborts the process");
    }
    let stderr = run_child("broken_canary_on_an_unguarded_stack_is_reported");
    assert!(
        stderr.contains("coroutine 'slab-overflow' overflowed its stack of 16384 bytes"),
        "{stderr}"
    );
    assert!(stderr.contains("canary"), "{stderr}");
}

/// The lowest stack of a slab without per-stack guards has the slab's
/// guard page below it instead of a canary. Not on Windows, as above.
#[cfg(not(windows))]
#[test]
fn the_lowest_stack_of_an_unguarded_slab_hits_the_slabs_guard() {
    use spindle_coro::{Coroutine, Stack, StackPool};
    if in_child() {
        // Use up the guard-page budget; the first stack past it is the
        // lowest of a new slab. Give it back, for the coroutine to take.
        let mut guarded = Vec::new();
        while StackPool::global().stats().unguarded == 0 {
            guarded.push(StackPool::global().take(16 * 1024).unwrap());
        }
        let lowest = guarded.pop().unwrap();
        assert!(lowest.is_guarded());
        drop(lowest);
        let mut co: Coroutine<(), (), u8> = Builder::new()
            .name("slab-bottom")
            .stack_size(16 * 1024)
            .spawn(|s, ()| deep(20, s))
            .unwrap();
        assert!(co.stack().is_guarded());
        co.resume(());
        unreachable!("the guard page stops the coroutine");
    }
    let stderr = run_child("the_lowest_stack_of_an_unguarded_slab_hits_the_slabs_guard");
    assert!(
        stderr.contains("coroutine 'slab-bottom' overflowed its stack of 16320 bytes"),
        "{stderr}"
    );
    assert!(stderr.contains("guard page"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn an_ordinary_segfault_is_not_blamed_on_a_coroutine() {
    use spindle_coro::Coroutine;
    if in_child() {
        let _co = Coroutine::<(), (), ()>::new(|_, ()| ()); // installs the handler
        // SAFETY: none; this child exists to crash. Address 8 is never mapped.
        unsafe { std::ptr::with_exposed_provenance_mut::<u64>(8).write_volatile(1) };
        unreachable!();
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "an_ordinary_segfault_is_not_blamed_on_a_coroutine",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(!stderr.contains("overflowed"), "{stderr}");
    // Under ASAN or TSAN the sanitizer reports the fault and exits instead.
    if !cfg!(any(spindle_asan, spindle_tsan)) {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(output.status.signal(), Some(libc::SIGSEGV), "{stderr}");
    }
}

struct SuspendOnDrop<'a>(&'a Suspender<(), ()>);
impl Drop for SuspendOnDrop<'_> {
    fn drop(&mut self) {
        self.0.suspend(());
    }
}

#[test]
fn suspending_while_unwinding_aborts() {
    if in_child() {
        let mut co = spindle_coro::Coroutine::<(), (), ()>::new(|s, ()| {
            let _suspends_in_drop = SuspendOnDrop(s);
            s.suspend(());
        });
        co.resume(());
        drop(co); // the forced unwind runs `SuspendOnDrop`
        unreachable!("suspending during the unwind aborts the process");
    }
    let stderr = run_child("suspending_while_unwinding_aborts");
    assert!(
        stderr.contains("tried to suspend while unwinding"),
        "{stderr}"
    );
}
