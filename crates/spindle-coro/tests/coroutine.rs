//! The coroutine suite: the same on every ABI and under the sanitizers.

use spindle_coro::coroutine::Builder;
use spindle_coro::{Coroutine, CoroutineResult, Generator, Stack, StackPool};
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

#[test]
fn values_pass_both_ways() {
    let mut co = Coroutine::new(|s, first: u64| {
        let mut total = first;
        for _ in 0..3 {
            total += s.suspend(total);
        }
        format!("total {total}")
    });
    assert!(!co.is_started());
    assert_eq!(co.resume(1), CoroutineResult::Yield(1));
    assert_eq!(co.resume(2), CoroutineResult::Yield(3));
    assert_eq!(co.resume(3), CoroutineResult::Yield(6));
    assert_eq!(
        co.resume(4),
        CoroutineResult::Return("total 10".to_string())
    );
    assert!(co.is_finished());
}

#[test]
fn two_coroutines_interleave() {
    let mut evens = Coroutine::new(|s, ()| (0..).step_by(2).for_each(|i| s.suspend(i)));
    let mut odds = Coroutine::new(|s, ()| (1..).step_by(2).for_each(|i| s.suspend(i)));
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.extend(evens.resume(()).as_yield());
        seen.extend(odds.resume(()).as_yield());
    }
    assert_eq!(seen, (0..10).collect::<Vec<u64>>());
}

#[test]
fn nested_coroutines_return_to_their_own_resumer() {
    let mut outer = Coroutine::new(|s, ()| {
        let mut inner = Coroutine::new(|s, ()| {
            s.suspend("inner 1");
            "inner done"
        });
        let a = inner.resume(()).as_yield().unwrap();
        s.suspend(a);
        let b = inner.resume(()).as_return().unwrap();
        s.suspend(b);
        "outer done"
    });
    assert_eq!(outer.resume(()), CoroutineResult::Yield("inner 1"));
    assert_eq!(outer.resume(()), CoroutineResult::Yield("inner done"));
    assert_eq!(outer.resume(()), CoroutineResult::Return("outer done"));
}

#[test]
fn a_panic_reaches_the_resumer() {
    let mut co = Coroutine::<(), (), ()>::new(|s, ()| {
        s.suspend(());
        panic!("boom in coroutine");
    });
    co.resume(());
    let err = panic::catch_unwind(AssertUnwindSafe(|| co.resume(()))).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"boom in coroutine"));
    assert!(co.is_finished());
    // The stack went back to the pool and can be used again.
    let mut again = Coroutine::<u32, (), u32>::new(|_, x| x + 1);
    assert_eq!(again.resume(1).as_return(), Some(2));
}

#[test]
fn resuming_a_finished_coroutine_panics() {
    let mut co = Coroutine::<(), (), ()>::new(|_, ()| ());
    co.resume(());
    let err = panic::catch_unwind(AssertUnwindSafe(|| co.resume(()))).unwrap_err();
    assert!(err.downcast_ref::<&str>().unwrap().contains("finished"));
}

struct SetOnDrop(Rc<Cell<u32>>);
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn dropping_a_suspended_coroutine_runs_destructors_on_its_stack() {
    let drops = Rc::new(Cell::new(0));
    let in_body = drops.clone();
    let mut co = Coroutine::<(), u32, ()>::new(move |s, ()| {
        let _a = SetOnDrop(in_body.clone());
        let _b = SetOnDrop(in_body.clone());
        loop {
            s.suspend(1);
        }
    });
    assert_eq!(co.resume(()), CoroutineResult::Yield(1));
    assert_eq!(drops.get(), 0);
    drop(co);
    assert_eq!(drops.get(), 2);
}

#[test]
fn dropping_an_unstarted_coroutine_drops_its_function() {
    let drops = Rc::new(Cell::new(0));
    let guard = SetOnDrop(drops.clone());
    let co = Coroutine::<(), (), ()>::new(move |_, ()| drop(guard));
    drop(co);
    assert_eq!(drops.get(), 1);
}

struct PanicOnDrop;
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("panic in drop");
    }
}

#[test]
fn a_panicking_destructor_still_gives_the_stack_back() {
    let guard = PanicOnDrop;
    let co = Coroutine::<(), (), ()>::new(move |_, ()| drop(guard));
    let base = co.stack().base();
    let err = panic::catch_unwind(AssertUnwindSafe(|| drop(co))).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"panic in drop"));
    // The pool hands the same stack out again: it was returned.
    let again = Coroutine::<(), (), ()>::new(|_, ()| ());
    assert_eq!(again.stack().base(), base);
}

#[test]
fn a_coroutine_that_swallows_the_unwind_still_gets_dropped() {
    let mut co = Coroutine::<(), (), &str>::new(|s, ()| {
        let caught = panic::catch_unwind(AssertUnwindSafe(|| {
            loop {
                s.suspend(());
            }
        }));
        assert!(caught.is_err());
        "returned after the unwind"
    });
    co.resume(());
    drop(co); // the function returns instead of unwinding: still fine
}

#[test]
fn generator_is_an_iterator() {
    let fib = Generator::new(|out| {
        let (mut a, mut b) = (0u64, 1u64);
        loop {
            out.give(a);
            (a, b) = (b, a + b);
        }
    });
    assert_eq!(
        fib.take(10).collect::<Vec<_>>(),
        [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]
    );

    let words = ["a", "b", "c"].map(String::from);
    let mut owned = Generator::new(move |out| words.into_iter().for_each(|w| out.give(w)));
    assert_eq!(owned.by_ref().collect::<String>(), "abc");
    assert_eq!(owned.next(), None);
}

#[test]
#[inline(never)]
fn backtrace_from_inside_a_coroutine_reaches_the_resumer() {
    let mut co = Coroutine::<(), String, ()>::new(|s, ()| {
        s.suspend(std::backtrace::Backtrace::force_capture().to_string());
    });
    let trace = co.resume(()).as_yield().unwrap();
    assert!(
        trace.contains("backtrace_from_inside_a_coroutine_reaches_the_resumer"),
        "the backtrace stops inside the coroutine:\n{trace}"
    );
}

#[test]
fn bad_stack_sizes_are_errors_not_panics() {
    let tiny = Builder::new()
        .stack_size(1)
        .spawn(|_: &spindle_coro::Suspender<(), ()>, ()| ());
    assert!(tiny.unwrap_err().to_string().contains("below the minimum"));
    let huge = Builder::new()
        .stack_size(1 << 40)
        .spawn(|_: &spindle_coro::Suspender<(), ()>, ()| ());
    assert!(huge.unwrap_err().to_string().contains("too large"));
    let unmappable = spindle_coro::stack::DefaultStack::new(1 << 47);
    assert!(unmappable.is_err());
}

#[test]
fn a_closure_too_large_for_its_stack_is_an_error() {
    let big = [7u8; 8 * 1024];
    let co = Builder::new()
        .stack_size(16 * 1024)
        .spawn(move |_: &spindle_coro::Suspender<(), ()>, ()| big.len());
    assert!(co.unwrap_err().to_string().contains("does not fit"));
}

/// A stack the caller brings: plain heap memory, no guard page.
struct HeapStack {
    memory: Box<[u128]>,
}

// SAFETY: the boxed slice is ours, does not move, and is 16-aligned.
unsafe impl Stack for HeapStack {
    fn base(&self) -> std::ptr::NonNull<u8> {
        std::ptr::NonNull::from(&self.memory[..])
            .cast::<u8>()
            .map_addr(|a| a.checked_add(self.memory.len() * 16).unwrap())
    }
    fn limit(&self) -> std::ptr::NonNull<u8> {
        std::ptr::NonNull::from(&self.memory[..]).cast()
    }
}

#[test]
fn a_coroutine_runs_on_a_stack_the_caller_brings() {
    let stack = HeapStack {
        memory: vec![0u128; 64 * 1024 / 16].into_boxed_slice(),
    };
    let mut co = Coroutine::with_stack(stack, |s, x: u32| s.suspend(x * 3) + 1).unwrap();
    assert_eq!(co.resume(5), CoroutineResult::Yield(15));
    assert_eq!(co.resume(9), CoroutineResult::Return(10));
    assert!(!co.stack().is_guarded());
}

#[test]
fn pooled_stacks_are_reused() {
    let base = {
        let co = Coroutine::<(), (), ()>::new(|_, ()| ());
        co.stack().base()
    };
    let co = Coroutine::<(), (), ()>::new(|_, ()| ());
    assert_eq!(co.stack().base(), base);
    assert!(StackPool::global().stats().guarded >= 1);
}

#[test]
fn a_reserved_region_is_the_callers_and_the_coroutine_never_touches_it() {
    use std::alloc::Layout;
    let stack = StackPool::global().take(64 * 1024).unwrap();
    let (base, limit) = (
        stack.base().as_ptr() as usize,
        stack.limit().as_ptr() as usize,
    );
    let layout = Layout::from_size_align(200, 64).unwrap();
    let (mut co, region) = Builder::new()
        .spawn_reserving(stack, layout, |suspender, depth: usize| {
            /// Uses about `depth` KiB of stack, suspending at the bottom.
            fn dig(suspender: &spindle_coro::Suspender<usize, usize>, depth: usize) -> usize {
                let frame = std::hint::black_box([depth as u8; 1024]);
                if depth == 0 {
                    return suspender.suspend(frame.len());
                }
                dig(suspender, depth - 1) + usize::from(frame[0])
            }
            dig(suspender, depth)
        })
        .unwrap();
    let start = region.as_ptr() as usize;
    assert_eq!(start % 64, 0);
    assert!(start > limit && start + 200 <= base);
    // SAFETY: the region is ours, 200 bytes, while the stack lives.
    unsafe { region.as_ptr().write_bytes(0xA5, 200) };
    assert_eq!(co.resume(16), CoroutineResult::Yield(1024));
    assert_eq!(
        co.resume(7),
        CoroutineResult::Return(7 + (1..=16).sum::<usize>())
    );
    // SAFETY: as above: the coroutine has finished, the stack is alive.
    let region = unsafe { std::slice::from_raw_parts(region.as_ptr(), 200) };
    assert!(
        region.iter().all(|&b| b == 0xA5),
        "the coroutine wrote into the region"
    );
}

#[test]
fn a_region_that_does_not_fit_is_an_error() {
    let stack = StackPool::global().take(16 * 1024).unwrap();
    let layout = std::alloc::Layout::from_size_align(8 * 1024, 16).unwrap();
    let error = Builder::new()
        .spawn_reserving::<(), (), (), _, _>(stack, layout, |_, ()| ())
        .map(|_| ())
        .unwrap_err();
    assert!(error.to_string().contains("16384"), "{error}");
}
