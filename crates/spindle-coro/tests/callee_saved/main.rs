//! Every callee-saved register class survives a switch in both directions.
//!
//! The resumer fills each callee-saved register with a pattern and resumes
//! from inside that asm block; the coroutine fills them with another
//! pattern and suspends from inside its own. Each side then reads its
//! registers back. Without correct saving in the switch, one side would
//! see the other's pattern.

use spindle_coro::coroutine::switch_out;
use spindle_coro::{Coroutine, Suspender};
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// What the function the last `call_with_pattern` called returned (its
/// asm stores the return register here right after the call).
static RETURNED: AtomicUsize = AtomicUsize::new(0);

cfg_if::cfg_if! {
    if #[cfg(all(target_arch = "x86_64", windows))] {
        mod x86_64_windows;
        use x86_64_windows::{call_with_pattern, Registers};
    } else if #[cfg(all(target_arch = "x86_64", unix))] {
        mod x86_64_sysv;
        use x86_64_sysv::{call_with_pattern, Registers};
    } else if #[cfg(all(target_arch = "aarch64", unix))] {
        mod aarch64;
        use aarch64::{call_with_pattern, Registers};
    } else {
        compile_error!("no register test for this target");
    }
}

type Co = Coroutine<(), (), Registers>;

extern "C" fn resume_it(co: *mut c_void) {
    // SAFETY: the test passes a live `Co`.
    let co = unsafe { &mut *co.cast::<Co>() };
    co.resume(());
}

extern "C" fn suspend_it(suspender: *mut c_void) {
    // SAFETY: the coroutine passes its live suspender.
    let suspender = unsafe { &*suspender.cast::<Suspender<(), ()>>() };
    suspender.suspend(());
}

const RESUMER: u64 = 0x1000;
const COROUTINE: u64 = 0x7000;

#[test]
fn callee_saved_registers_survive_a_switch() {
    // Never dropped while suspended: that would unwind through the
    // `extern "C"` frame of `suspend_it`, turning a failed assertion into
    // an abort. The last resume below finishes it.
    let mut co = std::mem::ManuallyDrop::new(Coroutine::new(|s: &Suspender<(), ()>, ()| {
        let arg = std::ptr::from_ref(s).cast_mut().cast();
        // SAFETY: `suspend_it` takes the suspender we pass.
        unsafe { call_with_pattern(COROUTINE, suspend_it, arg) }
    }));
    check_both_sides(&mut co);
}

/// The same with the split suspension (`begin_suspend`, `switch_out`,
/// `end_suspend`): `switch_out` is called straight from the asm that loads
/// the pattern, so only its own saving keeps the coroutine's registers.
#[test]
fn callee_saved_registers_survive_a_split_suspension() {
    if !spindle_coro::coroutine::SPLIT_SUSPEND {
        eprintln!("skipped: no split suspension in this build (ThreadSanitizer)");
        return;
    }
    // Never dropped while suspended, as above.
    let mut co = std::mem::ManuallyDrop::new(Coroutine::new(|s: &Suspender<(), ()>, ()| {
        // SAFETY: begin, the switch on the base it returns, and the end with
        // what the switch returned, in a row; `switch_out` is a C function
        // of one pointer argument, called from asm, and its result is read
        // back through `RETURNED`.
        unsafe {
            let base = s.begin_suspend(());
            let switch = std::mem::transmute::<
                unsafe extern "C" fn(*mut u8) -> usize,
                extern "C" fn(*mut c_void),
            >(switch_out);
            let saw = call_with_pattern(COROUTINE, switch, base.cast());
            s.end_suspend(RETURNED.load(Relaxed));
            saw
        }
    }));
    check_both_sides(&mut co);
}

/// Resumes `co` from asm that loaded the resumer's pattern, until the
/// coroutine (which loads its own) suspends, then to its end; checks what
/// each side read back.
fn check_both_sides(co: &mut Co) {
    let arg = std::ptr::from_mut(co).cast();
    // SAFETY: `resume_it` takes the coroutine we pass.
    let resumer_saw = unsafe { call_with_pattern(RESUMER, resume_it, arg) };
    assert_eq!(
        resumer_saw,
        Registers::pattern(RESUMER),
        "resumer's registers"
    );
    let coroutine_saw = co.resume(()).as_return().unwrap();
    assert_eq!(
        coroutine_saw,
        Registers::pattern(COROUTINE),
        "coroutine's registers"
    );
}
