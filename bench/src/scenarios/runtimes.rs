//! The task systems the scheduling scenarios share: each built once per
//! scenario, with [`WORKERS`] worker threads, and shut down after it.
//!
//! Every async system runs a scenario the same way: one root task is
//! spawned on the workers, spawns the scenario's tasks from there and
//! awaits them, and the calling thread blocks on the root.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::thread::JoinHandle;

/// Worker threads per system (BENCH.md: 2 unless a scenario says otherwise).
pub(crate) const WORKERS: usize = 2;

/// Returns `Pending` once, after waking its own task, then `Ready`: the
/// task goes back to its executor's queue and lets the others run.
pub(crate) struct YieldNow {
    yielded: bool,
}

pub(crate) fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A spindle stealing pool. Leaked, so that tasks can borrow it as
/// `&'static` instead of each cloning a handle (one pool per scenario; its
/// threads are joined by `shutdown_spindle`).
pub(crate) fn spindle() -> &'static spindle_exec::StealPool {
    let pool = spindle_exec::StealPool::new(WORKERS).expect("spindle steal pool");
    Box::leak(Box::new(pool))
}

pub(crate) fn shutdown_spindle(pool: &spindle_exec::StealPool) {
    pool.shutdown().expect("spindle pool shutdown");
}

/// tokio's multi-thread runtime.
pub(crate) fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .expect("tokio runtime")
}

/// A rayon pool.
pub(crate) fn rayon() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .expect("rayon pool")
}

/// may's coroutine scheduler, set to [`WORKERS`] workers and started. Call
/// it before a scenario's first `go!`: may reads its config once, when the
/// first coroutine starts its scheduler, and ignores it after. Started
/// here, so that a memory scenario's baseline already holds its threads;
/// they live as long as the process (idle, in `epoll_wait`): may has no
/// shutdown.
///
/// `may::go!` hides an `unsafe` spawn: a coroutine must not block its
/// worker thread in a way may does not know of, nor hold a thread-local
/// across a switch. The bench's coroutines only compute and use may's own
/// primitives.
pub(crate) fn may() {
    static CONFIG: Once = Once::new();
    CONFIG.call_once(|| {
        may::config().set_workers(WORKERS);
        may::go!(|| ()).join().expect("may's first coroutine");
    });
}

/// An `async_executor::Executor` run by [`WORKERS`] threads, each inside
/// `ex.run(...)` until [`shutdown`](Self::shutdown).
pub(crate) struct AsyncExecutor {
    pub(crate) ex: &'static async_executor::Executor<'static>,
    stop: &'static Stop,
    threads: Vec<JoinHandle<()>>,
}

impl AsyncExecutor {
    pub(crate) fn new() -> Self {
        // Leaked for the same reason as the spindle pool.
        let ex: &'static async_executor::Executor<'static> =
            Box::leak(Box::new(async_executor::Executor::new()));
        let stop: &'static Stop = Box::leak(Box::new(Stop {
            stopped: AtomicBool::new(false),
            wakers: Mutex::new(Vec::new()),
        }));
        let threads = (0..WORKERS)
            .map(|i| {
                std::thread::Builder::new()
                    .name(format!("async-executor-{i}"))
                    .spawn(move || futures_lite::future::block_on(ex.run(stop.wait())))
                    .expect("async-executor thread")
            })
            .collect();
        AsyncExecutor { ex, stop, threads }
    }

    pub(crate) fn shutdown(self) {
        self.stop.stopped.store(true, Ordering::SeqCst);
        for waker in self.stop.wakers.lock().expect("stop wakers").drain(..) {
            waker.wake();
        }
        for thread in self.threads {
            thread.join().expect("async-executor thread panicked");
        }
    }
}

/// Tells the threads running an `AsyncExecutor` to return.
struct Stop {
    stopped: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl Stop {
    /// Ready once stopped. `ex.run` polls it again every so often (between
    /// batches of tasks); the waker is registered on the first poll only,
    /// since `block_on`'s waker does not change, so those polls cost one
    /// atomic load and no lock.
    fn wait(&self) -> impl Future<Output = ()> + '_ {
        let mut registered = false;
        core::future::poll_fn(move |cx| {
            if !registered {
                self.wakers
                    .lock()
                    .expect("stop wakers")
                    .push(cx.waker().clone());
                registered = true;
            }
            // Checked after registering, so a stop in between is seen.
            if self.stopped.load(Ordering::SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }
}
