//! What each worker keeps to itself ([`Local`]), the loop each worker
//! thread runs, and the thread-local that tells `submit` it runs on a
//! worker. The protocols are in `README.md` beside this file.

use super::HandleCell;
use super::idle::Wake;
use super::injector;
use super::metrics::{Counters, bump};
use super::next_stack::NextStack;
use super::pin;
use super::ring::{CAPACITY, HALF, Steal};
use super::shared::{Remote, Shared, catch};
use super::sync::atomic::{Ordering, fence};
use crate::task::{Hint, TaskLinks, TaskRef};
use core::cell::Cell;
use core::ptr::{self, NonNull};
use spindle_core::Backoff;
use spindle_core::intrusive::IntrusiveQueue;
use std::io;
use std::sync::Arc;
use std::sync::mpsc::Sender;

/// Every this many ticks a worker looks at the injector before its own
/// queues, so tasks submitted from outside are not starved by workers that
/// keep feeding themselves. Go uses 61 too: a prime, so the check does not
/// fall into step with a periodic workload.
const INJECTOR_INTERVAL: u32 = 61;

/// How many tasks in a row may run from the next slots before the newest
/// goes to the back of its queue. A chain of tasks waking each other with
/// [`Hint::Next`] shares one time slice this long, then lets the queued
/// ones run. Long enough that fork-join trees keep running depth first
/// (at 8, fib(25) on fibers held ~10,000 stacks at once; at 64, ~1,500).
const MAX_NEXT_STREAK: u32 = 64;

/// How many next-slot tasks a worker keeps to itself while another worker
/// looks for work; with every worker busy it keeps up to `next_stack::DEPTH`.
const SHARED_DEPTH: usize = 8;

/// How deeply [`Hint::Inline`] runs may nest on a worker: 1, so a task
/// submitted inline while another inline run is under way goes to the next
/// slot instead, and chains of inline wake-ups cannot grow the stack.
const MAX_INLINE_DEPTH: u32 = 1;

/// How many rounds over every queue a searching worker makes before it
/// parks. Between rounds it backs off: spins first, then yields.
const SEARCH_ROUNDS: u32 = 16;

/// What a worker thread is asked to do before it starts its loop.
pub(super) struct Startup {
    /// Pin the thread to a CPU and report the outcome.
    pub(super) pin: Option<PinRequest>,
}

/// Pin to `cpu`, then send the worker's index and the outcome.
pub(super) struct PinRequest {
    pub(super) cpu: usize,
    pub(super) report: Sender<(usize, io::Result<()>)>,
}

/// Whether the worker loop goes on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Exit,
}

/// A worker's own state, on its thread's stack; reached from `submit` on
/// that thread through the thread-local. Every field is a `Cell`: a task
/// run from the loop may submit (and run inline) while the loop's frame
/// is live, so nothing here is ever borrowed across a task run.
pub(super) struct Local {
    pub(super) shared: Arc<Shared>,
    pub(super) index: usize,
    /// What tasks spawned on this worker hold (see `HandleCell`).
    pub(super) cell: Arc<HandleCell>,
    /// `&shared.remotes[index]`, looked up once: every submit and every
    /// tick reaches it.
    remote: NonNull<Remote>,
    /// The next slots: tasks to run before anything queued, newest first
    /// (`next_stack.rs`).
    next: NextStack,
    /// Tasks run from the next slots in a row.
    streak: Cell<u32>,
    /// Tasks pinned to this worker: FIFO, never stolen.
    pinned: Cell<IntrusiveQueue<TaskLinks>>,
    /// A batch taken from this worker's spill: the oldest of its stealable
    /// tasks, run before the spill's rest and the ring.
    refill: Cell<IntrusiveQueue<TaskLinks>>,
    /// Whether the pinned queue or the ring goes first next time both
    /// hold tasks.
    pinned_turn: Cell<bool>,
    tick: Cell<u32>,
    /// xorshift64 state, for picking victims.
    rng: Cell<u64>,
    inline_depth: Cell<u32>,
    /// Whether this worker counts in `Idle`'s searchers.
    searching: Cell<bool>,
}

impl Local {
    fn new(shared: Arc<Shared>, index: usize) -> Self {
        let remote = NonNull::from(&shared.remotes[index]);
        let cell = Arc::new(HandleCell {
            shared: Arc::clone(&shared),
        });
        Local {
            cell,
            shared,
            index,
            remote,
            next: NextStack::new(),
            streak: Cell::new(0),
            pinned: Cell::new(IntrusiveQueue::new()),
            refill: Cell::new(IntrusiveQueue::new()),
            pinned_turn: Cell::new(false),
            tick: Cell::new(0),
            // Fixed per index, never zero: a run is reproducible.
            rng: Cell::new(0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(index as u64 + 1) | 1),
            inline_depth: Cell::new(0),
            searching: Cell::new(false),
        }
    }

    #[inline]
    fn remote(&self) -> &Remote {
        // SAFETY: it points into `self.shared`, which we keep alive, and
        // whose slice of remotes never moves.
        unsafe { self.remote.as_ref() }
    }

    #[inline]
    fn counters(&self) -> &Counters {
        &self.remote().counters
    }

    /// Runs `f` on the pinned queue, in place, then publishes its length
    /// for other workers' balancing ([`Shared::bind_pinned`]).
    #[inline]
    fn with_pinned<R>(&self, f: impl FnOnce(&mut IntrusiveQueue<TaskLinks>) -> R) -> R {
        // SAFETY: `Local` is not `Sync` and lives on its worker's thread; `f`
        // (every caller's is a queue operation) runs no task and does not
        // reach this queue again, and the length is read after `f` returns,
        // so this reference is the only one while it lives.
        let queue = unsafe { &mut *self.pinned.as_ptr() };
        let result = f(queue);
        self.remote()
            .pinned_len
            .store(queue.len(), Ordering::Relaxed);
        result
    }

    /// Runs `f` on the refill queue, in place.
    #[inline]
    fn with_refill<R>(&self, f: impl FnOnce(&mut IntrusiveQueue<TaskLinks>) -> R) -> R {
        // SAFETY: as in `with_pinned`.
        f(unsafe { &mut *self.refill.as_ptr() })
    }

    // ------------------------------------------------------------ submit

    /// Queues a task submitted on this worker's thread.
    #[inline(always)]
    pub(super) fn schedule(&self, task: TaskRef, hint: Hint, pinned: bool) {
        bump(&self.counters().submitted, 1);
        match hint {
            Hint::Back => self.push_back(task, pinned),
            Hint::Inline if self.inline_depth.get() < MAX_INLINE_DEPTH => self.run_inline(task),
            _ => self.push_next(task, pinned),
        }
    }

    /// Runs a task submitted with [`Hint::Inline`] now, one level deeper.
    #[inline(never)]
    fn run_inline(&self, task: TaskRef) {
        let depth = self.inline_depth.get();
        self.inline_depth.set(depth + 1);
        self.run(task);
        self.inline_depth.set(depth);
    }

    #[inline(always)]
    fn push_next(&self, task: TaskRef, pinned: bool) {
        if let Some((evicted, was_pinned)) = self.next.push(task, pinned) {
            self.push_back(evicted, was_pinned);
        } else if self.next.len() > SHARED_DEPTH {
            self.share_oldest_next();
        }
    }

    /// The next stack is deep: if another worker looks for work, the
    /// oldest (in a fork-join tree, the largest subtree) goes where it can
    /// take it.
    #[inline(never)]
    fn share_oldest_next(&self) {
        if self.shared.idle.wants_work()
            && let Some((oldest, was_pinned)) = self.next.pop_oldest()
        {
            self.push_back(oldest, was_pinned);
        }
    }

    #[inline]
    fn push_back(&self, task: TaskRef, pinned: bool) {
        if pinned {
            // SAFETY: a `TaskRef`'s node stays valid and unmoved until run
            // or cancelled and is in no other queue; it stays here until
            // popped and turned back into a `TaskRef`.
            self.with_pinned(|queue| unsafe { queue.push_back(task.into_raw()) });
        } else {
            self.push_ring(task);
        }
    }

    /// Pushes onto this worker's ring; when full, first moves its older
    /// half to the spill. Wakes a thief if the ring was empty, or if some
    /// worker sleeps while none searches.
    fn push_ring(&self, task: TaskRef) {
        let ring = &self.remote().ring;
        let mut node = task.into_raw();
        loop {
            // SAFETY: `Local` is reached only on its worker's thread, which
            // owns the ring.
            match unsafe { ring.push(node) } {
                // A lone worker has no one to wake: it runs the task itself.
                Ok(_) if self.shared.threads == 1 => return,
                Ok(true) => return self.shared.notify_work(),
                // The ring already held work, but a worker that went to
                // sleep before it arrived may still sleep: with no searcher
                // to find it, this worker would run its whole queue alone
                // (fork-join on fibers did: the other worker stole 0.03% of
                // the tasks). Checked without a fence first: it is cheap
                // while someone searches or nobody sleeps.
                Ok(false) if self.shared.idle.would_wake() => {
                    return self.shared.notify_work();
                }
                Ok(false) => return,
                Err(back) => node = back,
            }
            self.spill_half();
        }
    }

    /// Moves the older half of the full ring to the back of the spill, in
    /// one batch under one lock. Moves nothing if a thief took from the
    /// ring first: then there is room anyway.
    #[cold]
    fn spill_half(&self) {
        let mut batch = IntrusiveQueue::<TaskLinks>::new();
        let into_batch = |taken| {
            // SAFETY: the node was pushed as a `TaskRef` and the ring just
            // gave up its claim; it is in no other queue.
            unsafe { batch.push_back(taken) }
        };
        // SAFETY: we own the ring (as in `push_ring`).
        let moved = unsafe { self.remote().ring.take_half(into_batch) };
        if moved == 0 {
            return;
        }
        bump(&self.counters().overflowed, moved as u64);
        match self.remote().spill.push_batch(batch) {
            // Thieves may take from the spill: as for any new work.
            Ok(()) if self.shared.threads > 1 => self.shared.notify_work(),
            Ok(()) => {}
            // Queues close only when every worker is parked, so not while
            // this one runs; cancel rather than lose the tasks anyway.
            Err(batch) => injector::drain(batch).for_each(|task| self.shared.cancel(task)),
        }
    }

    // ------------------------------------------------------------ run loop

    fn run_loop(&self) {
        loop {
            let task = match self.next_task() {
                Some(task) => {
                    if self.searching.get() {
                        self.stop_searching();
                    }
                    task
                }
                None => match self.search() {
                    Some(task) => task,
                    None => match self.park() {
                        Flow::Continue => continue,
                        Flow::Exit => return,
                    },
                },
            };
            self.run(task);
        }
    }

    fn run(&self, task: TaskRef) {
        bump(&self.counters().ran, 1);
        if catch(|| task.run()) {
            bump(&self.counters().panicked, 1);
        }
    }

    /// The next task from this worker's own queues and, now and then or
    /// when they are empty, the injector.
    fn next_task(&self) -> Option<TaskRef> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if !self.remote().inbox.is_empty() {
            self.drain_inbox();
        }
        if tick.is_multiple_of(INJECTOR_INTERVAL)
            && let Some(task) = self.pop_injector()
        {
            self.streak.set(0);
            return Some(task);
        }
        if let Some(task) = self.take_next() {
            return Some(task);
        }
        self.streak.set(0);
        self.pop_local()
            .or_else(|| self.pop_injector())
            // The end of a streak moved the newest next-slot task to the
            // back of its queue; if that was the ring, a thief may have
            // taken it already, and the next slots may still hold tasks
            // that no one else can run: the worker must not go looking
            // for work (and park) with them there.
            .or_else(|| self.take_next())
    }

    /// The task in the next slot, unless the slot's streak is used up:
    /// then that task goes to the back of its queue.
    fn take_next(&self) -> Option<TaskRef> {
        let (task, pinned) = self.next.pop()?;
        let streak = self.streak.get();
        if streak < MAX_NEXT_STREAK {
            self.streak.set(streak + 1);
            return Some(task);
        }
        self.push_back(task, pinned);
        None
    }

    /// The oldest task of the pinned queue or of the stealable ones,
    /// taking turns when both hold tasks.
    fn pop_local(&self) -> Option<TaskRef> {
        let pinned_first = self.pinned_turn.get();
        self.pinned_turn.set(!pinned_first);
        if pinned_first {
            self.pop_pinned().or_else(|| self.pop_oldest())
        } else {
            self.pop_oldest().or_else(|| self.pop_pinned())
        }
    }

    /// The oldest of this worker's stealable tasks: they are, oldest first,
    /// in the refill queue, the spill, then the ring.
    fn pop_oldest(&self) -> Option<TaskRef> {
        if let Some(node) = self.with_refill(IntrusiveQueue::pop_front) {
            // SAFETY: only `TaskRef`s go into the refill queue
            // (`refill_from_spill`); the node left it with the right to run.
            return Some(unsafe { TaskRef::from_raw(node) });
        }
        if !self.remote().spill.is_empty()
            && let Some(task) = self.refill_from_spill()
        {
            return Some(task);
        }
        self.pop_ring()
    }

    /// Takes the oldest half ring's worth of the spill into the refill
    /// queue and returns the first.
    fn refill_from_spill(&self) -> Option<TaskRef> {
        let (first, put_back) = self.remote().spill.pop_batch(HALF, |node| {
            // SAFETY: the node left the spill, where only `TaskRef`s go,
            // and is in no other queue.
            self.with_refill(|refill| unsafe { refill.push_back(node) });
            Ok(())
        });
        if put_back && self.shared.threads > 1 {
            self.shared.notify_work();
        }
        first
    }

    fn pop_pinned(&self) -> Option<TaskRef> {
        let node = self.with_pinned(IntrusiveQueue::pop_front);
        // SAFETY: only `TaskRef`s go into the pinned queue (`push_back`,
        // `drain_inbox`); the node left it, so the right moves on.
        node.map(|node| unsafe { TaskRef::from_raw(node) })
    }

    fn pop_ring(&self) -> Option<TaskRef> {
        // SAFETY: we own the ring (as in `push_ring`).
        let node = unsafe { self.remote().ring.pop() }?;
        // SAFETY: only `TaskRef`s go into the ring, and a value comes out
        // of it once.
        Some(unsafe { TaskRef::from_raw(node) })
    }

    /// Moves the tasks other threads sent to this worker into its pinned
    /// queue.
    fn drain_inbox(&self) {
        let mut arrived = self.remote().inbox.take_all();
        self.with_pinned(|queue| queue.append(&mut arrived));
    }

    /// Takes a batch from the injector: runs the first, queues the rest on
    /// this worker's ring (a fair share, at most half a ring).
    fn pop_injector(&self) -> Option<TaskRef> {
        let injector = &self.shared.injector;
        if injector.is_empty() {
            return None;
        }
        let ring = &self.remote().ring;
        // Only we push to our ring and thieves only take from it, so this
        // room can only grow while we fill it.
        let room = CAPACITY - ring.len();
        let share = injector.len() / self.shared.threads + 1;
        let mut was_empty = false;
        let (first, put_back) = injector.pop_batch(share.min(HALF).min(room + 1), |node| {
            // SAFETY: we own the ring (as in `push_ring`); the node came
            // from a `TaskRef` and moves on with its right.
            let empty = unsafe { ring.push(node) }?;
            was_empty |= empty;
            Ok(())
        });
        if (was_empty || put_back) && self.shared.threads > 1 {
            self.shared.notify_work();
        }
        first
    }

    // ------------------------------------------------------------ search

    /// Looks for work everywhere, as a searcher, for a few rounds (sleep
    /// protocol, step 2). `None` if not allowed to search or nothing was
    /// found; the worker then parks, still counted as searching if it was.
    fn search(&self) -> Option<TaskRef> {
        if !self.searching.get() {
            if !self.shared.idle.try_begin_search() {
                return None;
            }
            self.searching.set(true);
        }
        let mut backoff = Backoff::new();
        for _ in 0..SEARCH_ROUNDS {
            // Pairs with the fence of whoever queued work (step 1) or
            // woke this worker.
            fence(Ordering::SeqCst);
            if !self.remote().inbox.is_empty() {
                self.drain_inbox();
            }
            // Our own spill too: a thief may have put back part of it.
            let found = self
                .pop_pinned()
                .or_else(|| self.pop_oldest())
                .or_else(|| self.pop_injector())
                .or_else(|| self.steal());
            if let Some(task) = found {
                self.stop_searching();
                return Some(task);
            }
            backoff.snooze();
        }
        None
    }

    /// Step 3: found work; if this was the last searcher, wake another so
    /// the rest of the work it found is looked after.
    fn stop_searching(&self) {
        self.searching.set(false);
        if self.shared.idle.end_search() {
            fence(Ordering::SeqCst);
            self.shared.idle.notify_one();
        }
    }

    /// Steals half of another worker's ring, starting at a random victim.
    fn steal(&self) -> Option<TaskRef> {
        let threads = self.shared.threads;
        if threads < 2 {
            return None;
        }
        let own = &self.remote().ring;
        let start = self.random() as usize % threads;
        for _ in 0..2 {
            let mut contended = false;
            for offset in 0..threads {
                let victim = (start + offset) % threads;
                if victim == self.index {
                    continue;
                }
                // SAFETY: this thread owns `own`, which is empty (we steal
                // only when our own queues are), and it is not the victim's.
                match unsafe { self.shared.remotes[victim].ring.steal_into(own) } {
                    Steal::Success(first, count) => {
                        bump(&self.counters().stolen, count as u64);
                        // SAFETY: only `TaskRef`s go into rings, and the
                        // steal gave us this one's claim.
                        return Some(unsafe { TaskRef::from_raw(first) });
                    }
                    Steal::Retry => contended = true,
                    Steal::Empty => {
                        if let Some(task) = self.steal_spill(victim) {
                            return Some(task);
                        }
                    }
                }
            }
            if !contended {
                break;
            }
        }
        None
    }

    /// Steals half of another worker's spill (at most half a ring) into our
    /// empty ring, when its ring was empty.
    fn steal_spill(&self, victim: usize) -> Option<TaskRef> {
        let spill = &self.shared.remotes[victim].spill;
        if spill.is_empty() {
            return None;
        }
        let own = &self.remote().ring;
        let room = CAPACITY - own.len();
        let mut count = 1_u64;
        let (first, put_back) =
            spill.pop_batch((spill.len() / 2 + 1).min(HALF).min(room + 1), |node| {
                // SAFETY: we own our ring (as in `push_ring`); the node left the
                // victim's spill with the right to run it.
                unsafe { own.push(node) }?;
                count += 1;
                Ok(())
            });
        if put_back {
            self.shared.notify_work();
        }
        if first.is_some() {
            bump(&self.counters().stolen, count);
        }
        first
    }

    /// A random number below `n` (`n > 0`).
    pub(super) fn random_below(&self, n: usize) -> usize {
        (self.random() % n as u64) as usize
    }

    fn random(&self) -> u64 {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        x
    }

    // ------------------------------------------------------------ park

    /// Steps 4 to 7 of the sleep protocol.
    fn park(&self) -> Flow {
        let shared = &*self.shared;
        let idle = &shared.idle;
        let was_searching = self.searching.replace(false);
        let unparked = idle.announce_park(self.index, was_searching);
        // Step 4: pairs with the fence of whoever queues work (step 1).
        fence(Ordering::SeqCst);
        if shared.work_visible(self.index) {
            return match idle.cancel_park(self.index) {
                None => Flow::Continue,
                Some(wake) => self.woken(wake),
            };
        }
        if unparked == 0
            && shared.shutdown.load(Ordering::SeqCst)
            && idle.close_if_all_parked(|| shared.close_queues())
        {
            return Flow::Exit;
        }
        bump(&self.counters().parked, 1);
        let wake = idle.park(self.index);
        self.woken(wake)
    }

    fn woken(&self, wake: Wake) -> Flow {
        match wake {
            Wake::Exit => Flow::Exit,
            Wake::Search => {
                self.searching.set(true);
                Flow::Continue
            }
            Wake::Work => Flow::Continue,
        }
    }
}

/// The body of worker thread `index`.
pub(super) fn worker_main(shared: Arc<Shared>, index: usize, startup: Startup) {
    shared.idle.register(index);
    if let Some(PinRequest { cpu, report }) = startup.pin {
        // The builder waits for every report; if it has gone, nothing is
        // listening and the pool shuts down anyway.
        let _ = report.send((index, pin::pin_current_thread(cpu)));
    }
    // Never cleared: a pool handle dropped by this thread's thread-local
    // destructors, after the loop, must still see it is on a worker and not
    // try to join its own thread. The address is only compared, and cannot
    // belong to another pool while this thread's `Arc` keeps it alive.
    set_current_pool(shared.id());
    let local = Local::new(shared, index);
    set_current_local(&local);
    // Cleared when `local` goes, even if the loop unwinds: from then on a
    // submission from this thread (a destructor's) goes through the
    // injector, which is closed, and is cancelled.
    let _clear = ClearLocal;
    local.run_loop();
    // The loop ends only from `park`, which only a worker with empty local
    // queues reaches, after the shared ones closed empty.
    debug_assert!(local.next.is_empty());
    debug_assert!(local.pinned.take().is_empty() && local.refill.take().is_empty());
}

/// Clears this thread's `Local` pointer when dropped; declared after the
/// `Local`, so it drops first.
struct ClearLocal;

impl Drop for ClearLocal {
    fn drop(&mut self) {
        set_current_local(ptr::null());
    }
}

/// Per-thread worker identity. Read through never-inlined accessors
/// (design decision 4: a fiber may move threads between two reads).
struct WorkerTls {
    /// The running worker's `Local`, or null.
    local: Cell<*const Local>,
    /// The pool this thread works or worked for (`Shared::id`), or null.
    pool: Cell<*const ()>,
}

thread_local! {
    static WORKER: WorkerTls = const {
        WorkerTls { local: Cell::new(ptr::null()), pool: Cell::new(ptr::null()) }
    };
}

#[inline(never)]
pub(super) fn current_local() -> *const Local {
    WORKER.try_with(|w| w.local.get()).unwrap_or(ptr::null())
}

#[inline(never)]
fn set_current_local(local: *const Local) {
    // Fails only while this thread's thread-locals are being destroyed,
    // which a worker's loop never sees.
    let _ = WORKER.try_with(|w| w.local.set(local));
}

#[inline(never)]
pub(super) fn current_pool() -> *const () {
    WORKER.try_with(|w| w.pool.get()).unwrap_or(ptr::null())
}

#[inline(never)]
fn set_current_pool(pool: *const ()) {
    let _ = WORKER.try_with(|w| w.pool.set(pool));
}

/// The index of the worker the calling thread is, in whichever steal pool.
#[inline(never)]
pub(super) fn current_worker() -> Option<usize> {
    let local = current_local();
    // SAFETY: as in `Shared::local`.
    (!local.is_null()).then(|| unsafe { (*local).index })
}
