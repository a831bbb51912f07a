//! Parked tasks, for the memory scenarios (`idle_memory`, `max_fibers`),
//! each run in a fresh child process.
//!
//! A [`Park`] function `park(n, batch, parked)`:
//!
//! 1. builds its runtime (threads started, a few tasks run so that each
//!    thread's lazy set-up is done) and a slot for every task's handle,
//!    written once so that its pages are resident already;
//! 2. calls `parked(0)`: the scenario reads its baseline there;
//! 3. spawns the `n` tasks from the calling thread, `batch` at a time.
//!    Each one parks until released, on one shared gate. After each batch
//!    it waits until every task spawned so far has parked, then calls
//!    `parked(count)`;
//! 4. releases every task and joins it, so that the run ends clean.
//!
//! Between `parked(0)` and `parked(count)`, the process therefore grows
//! by the parked tasks' own memory: the task (its future, or its stack),
//! the runtime's bookkeeping for it, and what the gate keeps to wake it
//! (a waker or a waiter node); not the handles the spawner keeps.
//!
//! A new system is one more [`Park`] function here, and a row in the
//! table of each scenario that should run it.

use super::runtimes;
use core::cell::Cell;
use core::future::Future;
use core::task::{Poll, Waker};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Parks `n` tasks of one system, as the module docs say.
pub(crate) type Park = fn(n: usize, batch: usize, parked: &mut dyn FnMut(usize));

/// spindle's async tasks (`spindle_exec::spawn` on a steal pool), each
/// awaiting the gate.
pub(crate) fn spindle_task(n: usize, batch: usize, parked: &mut dyn FnMut(usize)) {
    let pool = runtimes::spindle();
    let gate = Gate::new(n);
    let mut handles = slots(n);
    warm_up(
        || spindle_exec::spawn(pool, async { hold_worker() }),
        |task| task.join().expect("warm-up task"),
    );
    parked(0);
    in_batches(
        n,
        batch,
        parked,
        |i| handles[i] = Some(spindle_exec::spawn(pool, gate.clone().wait())),
        || gate.parked(),
    );
    gate.open();
    for handle in handles {
        handle.expect("spawned").join().expect("spindle task");
    }
    runtimes::shutdown_spindle(pool);
}

/// spindle's fibers (`spindle_fiber::spawn`, default stack) on a steal
/// pool, each parked on a [`FiberGate`].
pub(crate) fn spindle_fiber(n: usize, batch: usize, parked: &mut dyn FnMut(usize)) {
    park_fibers(spindle_fiber::DEFAULT_STACK_SIZE, n, batch, parked);
}

/// As [`spindle_fiber()`], with the smallest stack (16 KiB): what a program
/// that holds a million fibers picks, since each stack's address space
/// and mapping budget are per byte of its size.
pub(crate) fn spindle_fiber_small(n: usize, batch: usize, parked: &mut dyn FnMut(usize)) {
    park_fibers(16 * 1024, n, batch, parked);
}

fn park_fibers(stack_size: usize, n: usize, batch: usize, parked: &mut dyn FnMut(usize)) {
    let pool = runtimes::spindle();
    let gate = Arc::new(FiberGate::new());
    let mut handles = slots(n);
    let builder = spindle_fiber::Builder::new().stack_size(stack_size);
    // The runtime's lazy per-thread set-up (fault handler, signal stacks,
    // stack caches) belongs to the baseline.
    warm_up(
        || builder.clone().spawn(pool, hold_worker).expect("a stack"),
        |fiber| fiber.join().expect("warm-up fiber"),
    );
    parked(0);
    in_batches(
        n,
        batch,
        parked,
        |i| {
            let gate = gate.clone();
            let fiber = builder.clone().spawn(pool, move || gate.wait());
            handles[i] = Some(fiber.expect("a stack for the fiber"));
        },
        || gate.parked.load(Ordering::SeqCst),
    );
    gate.open();
    for handle in handles {
        handle.expect("spawned").join().expect("spindle fiber");
    }
    runtimes::shutdown_spindle(pool);
}

/// tokio tasks on its multi-thread runtime, each awaiting the gate.
pub(crate) fn tokio(n: usize, batch: usize, parked: &mut dyn FnMut(usize)) {
    let tokio = runtimes::tokio();
    let gate = Gate::new(n);
    let mut handles = slots(n);
    warm_up(
        || tokio.spawn(async { hold_worker() }),
        |task| tokio.block_on(task).expect("warm-up task"),
    );
    parked(0);
    in_batches(
        n,
        batch,
        parked,
        |i| handles[i] = Some(tokio.spawn(gate.clone().wait())),
        || gate.parked(),
    );
    gate.open();
    tokio.block_on(async {
        for handle in handles {
            handle.expect("spawned").await.expect("tokio task");
        }
    });
}

/// may coroutines, with may's default stack, each waiting on a
/// `may::sync::SyncFlag` (may's gate: a coroutine waiting on it parks
/// until it is fired).
pub(crate) fn may(n: usize, batch: usize, parked: &mut dyn FnMut(usize)) {
    runtimes::may();
    let flag = Arc::new(may::sync::SyncFlag::new());
    // A coroutine counts itself just before it parks: the flag cannot
    // count its waiters. The last ones of a batch may still be on their
    // way into `wait` when the batch is reported, a few bytes in the RSS.
    let started = Arc::new(AtomicUsize::new(0));
    let mut handles = slots(n);
    parked(0);
    in_batches(
        n,
        batch,
        parked,
        |i| {
            let flag = flag.clone();
            let started = started.clone();
            handles[i] = Some(may::go!(move || {
                started.fetch_add(1, Ordering::SeqCst);
                flag.wait();
            }));
        },
        || started.load(Ordering::SeqCst),
    );
    flag.fire();
    for handle in handles {
        handle.expect("spawned").join().expect("may coroutine");
    }
}

/// Spawns a few tasks at once, each holding its worker for a moment, then
/// joins them: so every worker runs some, and each worker's lazy set-up
/// (the deeper pages of its own stack, its thread-local caches) is done
/// before the baseline. Every system gets the same treatment.
fn warm_up<H>(spawn: impl FnMut() -> H, join: impl FnMut(H)) {
    let tasks: Vec<H> = core::iter::repeat_with(spawn)
        .take(runtimes::WORKERS * 4)
        .collect();
    tasks.into_iter().for_each(join);
}

/// A warm-up task's body: keeps its worker busy, so the others take the
/// rest of the warm-up tasks.
fn hold_worker() {
    std::thread::sleep(Duration::from_millis(2));
}

/// `n` empty slots for handles, written now, so that filling them later
/// touches no new page.
fn slots<T>(n: usize) -> Vec<Option<T>> {
    std::iter::repeat_with(|| None).take(n).collect()
}

/// Calls `spawn(i)` for every `i` in `0..n`, `batch` at a time; after each
/// batch waits until `parked()` counts all spawned so far, and reports
/// that count to `report`.
fn in_batches(
    n: usize,
    batch: usize,
    report: &mut dyn FnMut(usize),
    mut spawn: impl FnMut(usize),
    parked: impl Fn() -> usize,
) {
    let mut spawned = 0;
    while spawned < n {
        let end = n.min(spawned + batch);
        (spawned..end).for_each(&mut spawn);
        spawned = end;
        while parked() < spawned {
            std::thread::sleep(Duration::from_micros(100));
        }
        report(spawned);
    }
}

/// What the async tasks park on: pending until [`open`](Self::open).
struct Gate {
    state: Mutex<GateState>,
}

struct GateState {
    open: bool,
    /// One per parked task, in the order they parked.
    wakers: Vec<Waker>,
}

impl Gate {
    /// Room for `tasks` wakers is reserved up front, so that no growth
    /// copies the vector; its pages become resident as tasks park.
    fn new(tasks: usize) -> Arc<Self> {
        Arc::new(Gate {
            state: Mutex::new(GateState {
                open: false,
                wakers: Vec::with_capacity(tasks),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().expect("gate lock")
    }

    /// Pending until the gate opens. The waker is kept on the first poll
    /// only: only the gate wakes these tasks, so they are polled again
    /// only once it is open.
    fn wait(self: Arc<Self>) -> impl Future<Output = ()> + Send + 'static {
        let mut registered = false;
        core::future::poll_fn(move |cx| {
            let mut state = self.lock();
            if state.open {
                return Poll::Ready(());
            }
            if !registered {
                state.wakers.push(cx.waker().clone());
                registered = true;
            }
            Poll::Pending
        })
    }

    /// How many tasks are parked on the gate.
    fn parked(&self) -> usize {
        self.lock().wakers.len()
    }

    fn open(&self) {
        let wakers = {
            let mut state = self.lock();
            state.open = true;
            std::mem::take(&mut state.wakers)
        };
        for waker in wakers {
            waker.wake();
        }
    }
}

/// What the fibers park on. Each parked fiber's waiter lives in its own
/// frame, on its stack, linked into the gate's list: the gate keeps nothing
/// per fiber, as the intrusive waiter lists of spindle's primitives do
/// (DESIGN.md, decision 1). The fiber's waker is a reference to its task,
/// not an allocation.
struct FiberGate {
    state: Mutex<FiberGateState>,
    /// Fibers parked so far.
    parked: AtomicUsize,
}

struct FiberGateState {
    open: bool,
    /// The newest waiter; each points to the one before.
    head: *const Waiter,
}

// SAFETY: the waiters the list points to are only touched under the
// gate's lock, or by `open` after it unlinked them (see `Waiter`).
unsafe impl Send for FiberGateState {}

/// A parked fiber's place in the gate's list. It stays in its fiber's
/// frame until `woken` is set; `open` reads everything it needs from it
/// before setting `woken`, and never touches it after.
struct Waiter {
    waker: Cell<Option<Waker>>,
    next: Cell<*const Waiter>,
    woken: AtomicBool,
}

impl FiberGate {
    fn new() -> Self {
        FiberGate {
            state: Mutex::new(FiberGateState {
                open: false,
                head: core::ptr::null(),
            }),
            parked: AtomicUsize::new(0),
        }
    }

    /// Parks the calling fiber until the gate opens.
    fn wait(&self) {
        let waiter = Waiter {
            waker: Cell::new(Some(spindle_fiber::current_waker())),
            next: Cell::new(core::ptr::null()),
            woken: AtomicBool::new(false),
        };
        {
            let mut state = self.state.lock().expect("gate lock");
            if state.open {
                return;
            }
            waiter.next.set(state.head);
            state.head = &raw const waiter;
        }
        self.parked.fetch_add(1, Ordering::SeqCst);
        while !waiter.woken.load(Ordering::Acquire) {
            spindle_fiber::park();
        }
    }

    fn open(&self) {
        let mut next = {
            let mut state = self.state.lock().expect("gate lock");
            state.open = true;
            core::mem::replace(&mut state.head, core::ptr::null())
        };
        while !next.is_null() {
            // SAFETY: a linked waiter stays in its fiber's frame until its
            // `woken` is set, below, after the last use of it here.
            let waiter = unsafe { &*next };
            next = waiter.next.get();
            let waker = waiter.waker.take().expect("a parked waiter has a waker");
            waiter.woken.store(true, Ordering::Release);
            waker.wake();
        }
    }
}
