//! [`JoinHandle`]: the spawner's side of a task.

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::panic::{RefUnwindSafe, UnwindSafe};
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll, Waker};

use super::error::JoinError;
use super::raw::Header;
use super::state::DropHandle;

/// Owned permission to wait for a spawned task's output, and to abort it.
///
/// Returned by [`spawn`](crate::spawn). Wait for the output by `.await`ing
/// the handle in async code, or with [`join`](Self::join) from a fiber or a
/// plain thread; either gives `Ok(output)`, or a [`JoinError`] if the
/// future panicked or the task was cancelled.
///
/// Dropping the handle *detaches* the task: it keeps running, and its
/// output is dropped when it finishes. To stop it, call
/// [`abort`](Self::abort) first.
///
/// `JoinHandle<T>` is `Send` and `Sync` when `T: Send`: a shared handle
/// only offers [`is_finished`](Self::is_finished) and
/// [`abort`](Self::abort), never a `&T`.
///
/// # Examples
///
/// ```
/// use spindle_exec::{ManualExecutor, block_on, spawn};
///
/// let executor = ManualExecutor::new();
/// let answer = spawn(&executor, async { 6 * 7 });
/// // A second task awaits the first one's output.
/// let doubled = spawn(&executor, async move { answer.await.unwrap() * 2 });
/// executor.run_all();
/// assert!(doubled.is_finished());
/// assert_eq!(block_on(doubled).unwrap(), 84);
/// ```
///
/// # Cancel safety
///
/// Dropping a `JoinHandle` future before it completes loses nothing: the
/// task keeps running (detached), as if the handle had never been polled.
pub struct JoinHandle<T> {
    header: NonNull<Header>,
    _output: PhantomData<T>,
}

// SAFETY: the handle moves the task's output (a `T`) to whichever thread
// polls or joins it, hence `T: Send`; everything else it touches is the
// task's synchronized state.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: through `&JoinHandle` only `is_finished` and `abort` are reachable:
// atomic state transitions, and dropping the future (which is `Send`, as
// `spawn` requires) on the caller's thread. No `&T` is ever handed out.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

// Nothing a panic interrupts can leave the handle inconsistent: every state
// change is a single atomic transition.
impl<T> UnwindSafe for JoinHandle<T> {}
impl<T> RefUnwindSafe for JoinHandle<T> {}

// The handle is a pointer; the task never moves.
impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// Wraps the reference `spawn` made for the handle.
    ///
    /// # Safety
    /// - `header` is a live task whose output type is `T`, `JOIN_HANDLE` is
    ///   set and one reference is the handle's, given to it here.
    pub(crate) unsafe fn from_raw(header: NonNull<Header>) -> Self {
        JoinHandle {
            header,
            _output: PhantomData,
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the handle's reference keeps the task alive.
        unsafe { self.header.as_ref() }
    }

    /// Whether the task has finished: it returned, panicked or was
    /// cancelled. Once `true`, [`join`](Self::join) returns at once.
    ///
    /// ```
    /// use spindle_exec::{ManualExecutor, spawn};
    ///
    /// let executor = ManualExecutor::new();
    /// let task = spawn(&executor, async {});
    /// assert!(!task.is_finished());
    /// executor.run_all();
    /// assert!(task.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.header().state.load().is_complete()
    }

    /// Cancels the task: its future is dropped and never polled again, and
    /// the handle then reports [`JoinError::is_cancelled`].
    ///
    /// - A task waiting for a wake-up, or queued to run, has its future
    ///   dropped right here, on this thread; a queued task is skipped when
    ///   its turn comes.
    /// - A task being polled on another thread finishes that poll; its
    ///   future is dropped right after, by that thread. If that poll
    ///   completes the future, the output wins over the abort.
    /// - A finished task is left as it is.
    ///
    /// A panic in the future's destructor is caught and reported as the
    /// task's [`JoinError`] (which then [`is_panic`](JoinError::is_panic)).
    ///
    /// ```
    /// use spindle_exec::{ManualExecutor, spawn};
    ///
    /// let executor = ManualExecutor::new();
    /// let task = spawn(&executor, std::future::pending::<()>());
    /// task.abort();
    /// assert!(task.is_finished());
    /// executor.run_all(); // the queued entry is skipped
    /// assert!(task.join().unwrap_err().is_cancelled());
    /// ```
    pub fn abort(&self) {
        let header = self.header();
        if header.state.abort() {
            // SAFETY: the transition gave us `RUNNING`; the handle holds a
            // reference.
            unsafe { (header.vtable.cancel)(self.header) };
        }
    }

    /// Blocks until the task finishes and returns its output: returns at
    /// once if it has, else waits through [`wait`](crate::wait), so a fiber
    /// is suspended and a plain thread parked.
    ///
    /// Do not call it from async code: `.await` the handle there.
    ///
    /// # Panics
    ///
    /// If the handle was already polled to completion (its output is gone).
    ///
    /// # Examples
    ///
    /// ```
    /// use spindle_exec::{ManualExecutor, spawn};
    ///
    /// let executor = ManualExecutor::new();
    /// let task = spawn(&executor, async { "done" });
    /// // Run the executor on another thread while this one waits.
    /// let runner = std::thread::spawn(move || while executor.run_all() == 0 {});
    /// assert_eq!(task.join().unwrap(), "done");
    /// runner.join().unwrap();
    /// ```
    #[track_caller]
    pub fn join(self) -> Result<T, JoinError> {
        self.prefetch_next();
        if self.is_finished() {
            // SAFETY: the task is complete and `JOIN_HANDLE` was set then: the
            // result is ours.
            unsafe { self.take_output() }
        } else {
            crate::block_on::wait(self)
        }
    }

    /// Moves the result out of the task.
    ///
    /// # Safety
    /// - The task is complete (the handle owns the result).
    #[track_caller]
    unsafe fn take_output(&self) -> Result<T, JoinError> {
        let mut output: Option<Result<T, JoinError>> = None;
        // SAFETY: the caller owns the result; `output` has the type
        // `take_output` writes for a task whose output is `T`.
        unsafe { (self.header().vtable.take_output)(self.header, (&raw mut output).cast()) };
        output.expect("`JoinHandle` polled after it returned the output")
    }

    /// Starts fetching a task its spawner spawned soon after, if its memory
    /// said where that would be
    /// ([`TaskMemory::next_place_hint`](crate::TaskMemory::next_place_hint)):
    /// the header, the executor handle and the start of the stage.
    #[inline]
    fn prefetch_next(&self) {
        const LINE: usize = 64;
        const LINES: usize = 4;
        let next = self.header().next_hint;
        if next != 0 {
            // Only an address to prefetch, never read through: it needs
            // no provenance.
            let next = core::ptr::without_provenance::<u8>(next);
            for line in 0..LINES {
                spindle_core::prefetch(next.wrapping_add(line * LINE));
            }
        }
    }

    /// Hands `waker` to the task, to be woken when it completes. Returns
    /// `false` if the task is complete instead (the caller may take the
    /// output).
    fn register(&self, waker: &Waker) -> bool {
        let header = self.header();
        let state = header.state.load();
        if state.is_complete() {
            return false;
        }
        if state.has_join_waker() {
            let same = header.join_waker.with(|cell| {
                // SAFETY: while `JOIN_WAKER` is set the cell is only read.
                unsafe { &*cell }
                    .as_ref()
                    .is_some_and(|old| old.will_wake(waker))
            });
            if same {
                return true;
            }
            if header.state.unset_join_waker().is_err() {
                return false;
            }
        }
        // SAFETY: `JOIN_WAKER` is clear and we are the handle: the cell is
        // ours until `set_join_waker` succeeds.
        header
            .join_waker
            .with_mut(|cell| unsafe { *cell = Some(waker.clone()) });
        if header.state.set_join_waker().is_ok() {
            return true;
        }
        // Completed meanwhile; the completer did not see our waker, and the
        // cell is still ours.
        // SAFETY: as above.
        let stale = header.join_waker.with_mut(|cell| unsafe { (*cell).take() });
        drop(stale);
        false
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    /// # Panics
    ///
    /// If polled again after it returned `Ready`.
    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.prefetch_next();
        if self.register(cx.waker()) {
            Poll::Pending
        } else {
            // SAFETY: `register` saw the task complete, with the handle alive.
            Poll::Ready(unsafe { self.take_output() })
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let ptr = self.header;
        match self.header().state.drop_join_handle() {
            DropHandle::OwnsOutput => {
                let mut output: Option<Result<T, JoinError>> = None;
                // SAFETY: the task is complete with the handle alive: the
                // result is ours, and `output` has its type.
                unsafe { (self.header().vtable.take_output)(ptr, (&raw mut output).cast()) };
                // SAFETY: the handle's reference, given up.
                unsafe { Header::drop_ref(ptr) };
                // Dropped last, so a panicking destructor leaks nothing.
                drop(output);
            }
            DropHandle::OwnsWaker => {
                // SAFETY: `JOIN_WAKER` was cleared by us before `COMPLETE`:
                // the cell is ours, and the completer will not read it.
                let waker = self
                    .header()
                    .join_waker
                    .with_mut(|cell| unsafe { (*cell).take() });
                // SAFETY: the handle's reference, given up.
                unsafe { Header::drop_ref(ptr) };
                drop(waker);
            }
            DropHandle::Released { last: true } => {
                // SAFETY: the handle's was the last reference.
                unsafe { (self.header().vtable.dealloc)(ptr) };
            }
            DropHandle::Released { last: false } => {}
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
