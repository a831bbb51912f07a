//! loom models of the async-task state machine: the interleavings of small
//! programs, run against the real code (its atomics and cells come through
//! the crate's `async_task::sync` shim, which `--cfg loom` switches to
//! loom's).
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p spindle-exec --release --test loom_async_task
//! ```
//!
//! loom checks every access to the task's stage and join-waker cell against
//! the happens-before relation, reports a deadlock when every thread is
//! parked (a lost wake-up in `block_on`), and the counters below check that
//! futures and outputs are dropped exactly once and the allocation freed
//! once (the executor clone inside it is dropped with it).
#![cfg(loom)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use loom::sync::atomic::AtomicBool;
use loom::sync::atomic::AtomicUsize;
use loom::sync::atomic::Ordering::{Acquire, Release, SeqCst};
use loom::sync::{Arc, Mutex};
use loom::thread;
use spindle_exec::{Executor, Hint, ManualExecutor, Spawner, TaskRef, block_on, spawn};

/// A preemption bound of 2 keeps each model to seconds; the races below
/// need at most one preemption per thread to show.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// A `ManualExecutor` whose clones count their drops: the task's clone is
/// dropped when the task's allocation is freed.
#[derive(Clone)]
struct Counted {
    inner: std::sync::Arc<ManualExecutor>,
    drops: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

impl Spawner for Counted {
    type Handle = Self;
    fn handle(&self) -> Self {
        self.clone()
    }
}

impl Executor for Counted {
    fn submit(&self, task: TaskRef, hint: Hint) {
        self.inner.submit(task, hint)
    }
}

fn counted() -> (Counted, Arc<AtomicUsize>) {
    let drops = Arc::new(AtomicUsize::new(0));
    (
        Counted {
            inner: std::sync::Arc::new(ManualExecutor::new()),
            drops: Arc::clone(&drops),
        },
        drops,
    )
}

/// Counts drops of the value it is part of.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Pending until `ready`; stores its waker in `waker` first (the usual
/// register-then-check order).
struct Gate {
    shared: Arc<GateShared>,
    _drops: DropCount,
}

struct GateShared {
    ready: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl GateShared {
    fn open(&self) {
        self.ready.store(true, SeqCst);
        let waker = self.waker.lock().unwrap().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Future for Gate {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        *self.shared.waker.lock().unwrap() = Some(cx.waker().clone());
        if self.shared.ready.load(SeqCst) {
            Poll::Ready(7)
        } else {
            Poll::Pending
        }
    }
}

fn gate(drops: &Arc<AtomicUsize>) -> (Gate, Arc<GateShared>) {
    let shared = Arc::new(GateShared {
        ready: AtomicBool::new(false),
        waker: Mutex::new(None),
    });
    (
        Gate {
            shared: Arc::clone(&shared),
            _drops: DropCount(Arc::clone(drops)),
        },
        shared,
    )
}

/// A wake from another thread races with the task's poll and completion:
/// before the first poll (task queued), during it (running), or after it
/// (idle). Whatever the order, running what is queued afterwards finishes
/// the task; and the future and allocation are dropped once.
#[test]
fn wake_racing_with_poll_and_completion_is_never_lost() {
    model(|| {
        let (executor, executor_drops) = counted();
        let future_drops = Arc::new(AtomicUsize::new(0));
        let (future, shared) = gate(&future_drops);
        let task = spawn(&executor, future);

        let waker = thread::spawn(move || shared.open());
        executor.inner.run_all();
        waker.join().unwrap();
        executor.inner.run_all();

        assert!(task.is_finished(), "lost wake-up");
        assert_eq!(task.join().unwrap(), 7);
        assert_eq!(future_drops.load(SeqCst), 1);
        drop(executor);
        assert_eq!(
            executor_drops.load(SeqCst),
            2,
            "task freed (with its clone)"
        );
    });
}

/// The waker publishes data only through the wake itself (`Release` on the
/// data, no lock): a wake that finds the task already queued must still
/// synchronize with the runner that is about to poll it, or the poll can
/// miss the data while the wake is dropped as redundant.
#[test]
fn wake_of_a_queued_task_publishes_what_the_waker_wrote() {
    model(|| {
        let (executor, _drops) = counted();
        let data = Arc::new(AtomicUsize::new(0));
        let slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
        let task = {
            let data = Arc::clone(&data);
            let slot = Arc::clone(&slot);
            spawn(
                &executor,
                std::future::poll_fn(move |cx| {
                    if data.load(Acquire) == 1 {
                        return Poll::Ready(());
                    }
                    let mut slot = slot.lock().unwrap();
                    if slot.is_none() {
                        *slot = Some(cx.waker().clone());
                    }
                    Poll::Pending
                }),
            )
        };
        // First poll: hands out the waker. Then queue the task again.
        executor.inner.run_all();
        let waker = slot.lock().unwrap().take().unwrap();
        waker.wake_by_ref();

        let waker_thread = thread::spawn(move || {
            data.store(1, Release);
            waker.wake();
        });
        executor.inner.run_all();
        waker_thread.join().unwrap();
        executor.inner.run_all();
        assert!(task.is_finished(), "lost wake-up");
    });
}

/// The handle is dropped on one thread while another runs the task to
/// completion: the output is dropped exactly once (by whichever comes
/// second), and the task freed once.
#[test]
fn join_handle_drop_racing_with_completion_drops_the_output_once() {
    model(|| {
        let (executor, executor_drops) = counted();
        let output_drops = Arc::new(AtomicUsize::new(0));
        let output = DropCount(Arc::clone(&output_drops));
        let task = spawn(&executor, async move { output });

        let runner = {
            let executor = executor.clone();
            thread::spawn(move || {
                executor.inner.run_all();
            })
        };
        drop(task);
        runner.join().unwrap();

        assert_eq!(output_drops.load(SeqCst), 1);
        drop(executor);
        assert_eq!(
            executor_drops.load(SeqCst),
            3,
            "task freed (with its clone)"
        );
    });
}

/// `abort` races with the run of a queued task whose first poll completes:
/// either the run wins (output delivered) or the abort does (cancelled, and
/// the future never polled); the future is dropped once either way.
#[test]
fn abort_racing_with_run_completes_or_cancels_exactly_once() {
    model(|| {
        let (executor, executor_drops) = counted();
        let future_drops = Arc::new(AtomicUsize::new(0));
        let polled = Arc::new(AtomicBool::new(false));
        let task = {
            let drops = DropCount(Arc::clone(&future_drops));
            let polled = Arc::clone(&polled);
            spawn(&executor, async move {
                let _drops = drops;
                polled.store(true, SeqCst);
                3
            })
        };

        let runner = {
            let executor = executor.clone();
            thread::spawn(move || {
                executor.inner.run_all();
            })
        };
        task.abort();
        runner.join().unwrap();

        assert!(task.is_finished());
        match task.join() {
            Ok(output) => assert_eq!(output, 3),
            Err(error) => {
                assert!(error.is_cancelled());
                assert!(
                    !polled.load(SeqCst),
                    "a cancelled task was polled to completion"
                );
            }
        }
        assert_eq!(future_drops.load(SeqCst), 1);
        drop(executor);
        assert_eq!(
            executor_drops.load(SeqCst),
            3,
            "task freed (with its clone)"
        );
    });
}

/// `abort` races with a poll that returns `Pending`: the future is dropped
/// once, by the runner after its poll or by `abort` itself, and the task
/// ends cancelled.
#[test]
fn abort_racing_with_a_pending_poll_drops_the_future_once() {
    model(|| {
        let (executor, executor_drops) = counted();
        let future_drops = Arc::new(AtomicUsize::new(0));
        let (future, shared) = gate(&future_drops);
        let task = spawn(&executor, future);

        let runner = {
            let executor = executor.clone();
            thread::spawn(move || {
                executor.inner.run_all();
            })
        };
        task.abort();
        runner.join().unwrap();

        assert_eq!(future_drops.load(SeqCst), 1);
        assert!(task.join().unwrap_err().is_cancelled());
        drop(shared);
        drop(executor);
        assert_eq!(
            executor_drops.load(SeqCst),
            3,
            "task freed (with its clone)"
        );
    });
}

/// A thread blocks on the handle (registering its waker, parking) while
/// another runs the task: the joiner is always woken (loom reports a
/// deadlock otherwise) and gets the output.
#[test]
fn joiner_registering_its_waker_racing_with_completion_is_woken() {
    model(|| {
        let (executor, _drops) = counted();
        let task = spawn(&executor, async { 11 });
        let runner = {
            let executor = executor.clone();
            thread::spawn(move || {
                executor.inner.run_all();
            })
        };
        assert_eq!(block_on(task).unwrap(), 11);
        runner.join().unwrap();
    });
}
