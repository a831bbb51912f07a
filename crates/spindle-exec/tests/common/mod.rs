//! Helpers shared by the pool tests: raw tasks made from closures, and a
//! bounded countdown. Each test binary uses its own subset.
#![allow(dead_code)]

use spindle_exec::{Task, TaskRef, TaskVTable};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

type Job = Box<dyn FnOnce() + Send>;

/// A raw task: the `Task` node first, then what to do on run or cancel.
#[repr(C)]
struct RawTask {
    task: Task,
    run: Job,
    cancel: Job,
}

static RAW_VTABLE: TaskVTable = TaskVTable {
    run: raw_run,
    cancel: raw_cancel,
};

/// # Safety
/// `task` came from `task_with_cancel` and has not been run or cancelled.
unsafe fn raw_run(task: NonNull<Task>) {
    // SAFETY: `task` is the first field of a `#[repr(C)]` `RawTask` that
    // `task_with_cancel` leaked; the caller runs or cancels it only once.
    let raw = unsafe { Box::from_raw(task.as_ptr().cast::<RawTask>()) };
    let RawTask { run, .. } = *raw;
    run();
}

/// # Safety
/// As `raw_run`.
unsafe fn raw_cancel(task: NonNull<Task>) {
    // SAFETY: as in `raw_run`.
    let raw = unsafe { Box::from_raw(task.as_ptr().cast::<RawTask>()) };
    let RawTask { cancel, .. } = *raw;
    cancel();
}

pub(crate) fn task_with_cancel(
    run: impl FnOnce() + Send + 'static,
    cancel: impl FnOnce() + Send + 'static,
) -> TaskRef {
    let raw = Box::new(RawTask {
        task: Task::new(&RAW_VTABLE),
        run: Box::new(run),
        cancel: Box::new(cancel),
    });
    let node = NonNull::from(Box::leak(raw)).cast::<Task>();
    // SAFETY: the box is not moved or freed until `raw_run` or `raw_cancel`
    // takes it back; this is the only `TaskRef` to it; the closures are
    // `Send`, so any thread may call them.
    unsafe { TaskRef::from_raw(node) }
}

/// A task that is not expected to be cancelled: a cancel shows up as a
/// missing run in the test's counts, and is reported here.
pub(crate) fn task(run: impl FnOnce() + Send + 'static) -> TaskRef {
    task_with_cancel(run, || eprintln!("a task was cancelled unexpectedly"))
}

/// Counts events toward a target; `wait` blocks (bounded) until it is hit.
pub(crate) struct Countdown {
    count: AtomicUsize,
    target: usize,
    lock: Mutex<()>,
    reached: Condvar,
}

impl Countdown {
    pub(crate) fn new(target: usize) -> Arc<Self> {
        Arc::new(Countdown {
            count: AtomicUsize::new(0),
            target,
            lock: Mutex::new(()),
            reached: Condvar::new(),
        })
    }

    pub(crate) fn hit(&self) {
        if self.count.fetch_add(1, Ordering::SeqCst) + 1 == self.target {
            let _guard = self.lock.lock().unwrap();
            self.reached.notify_all();
        }
    }

    /// Waits until the target is reached or `TIMEOUT` passes; returns the
    /// count then.
    pub(crate) fn wait(&self) -> usize {
        let guard = self.lock.lock().unwrap();
        let _guard = self
            .reached
            .wait_timeout_while(guard, TIMEOUT, |_| {
                self.count.load(Ordering::SeqCst) < self.target
            })
            .unwrap();
        self.count()
    }

    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// A task that tells the test it has started, then holds its worker until
/// released: a way to fill the queue while the workers are busy.
pub(crate) fn blocker(
    before: impl FnOnce() + Send + 'static,
) -> (
    TaskRef,
    std::sync::mpsc::Receiver<()>,
    std::sync::mpsc::Sender<()>,
) {
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let task = task(move || {
        before();
        started_tx.send(()).unwrap();
        release_rx
            .recv_timeout(TIMEOUT)
            .expect("blocker never released");
    });
    (task, started_rx, release_tx)
}

/// A small xorshift generator for the stress tests; the seed comes from
/// `SPINDLE_SEED` when set, so a failure can be replayed.
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator and its seed, printed so that a failure can be replayed.
    pub(crate) fn from_env() -> (Self, u64) {
        let seed = std::env::var("SPINDLE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        println!("SPINDLE_SEED={seed}");
        (Rng(seed | 1), seed)
    }

    /// A generator from `seed` (a derived one, for a thread of a test).
    pub(crate) fn with_seed(seed: u64) -> Self {
        Rng(seed | 1)
    }

    /// The current state, to derive another generator from.
    pub(crate) fn state(&self) -> u64 {
        self.0
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
