//! [`Coroutine`]: a function on its own stack that can suspend itself.

use crate::arch::{self, Bounds};
use crate::overflow::{self, CANARY, Header};
use crate::sanitizer;
use crate::stack::{DEFAULT_STACK_SIZE, PooledStack, Stack, StackError, StackPool};
use core::alloc::Layout;
use core::any::Any;
use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::mem::{ManuallyDrop, MaybeUninit};
use core::ptr::{self, NonNull};
use std::borrow::Cow;
use std::panic::{self, AssertUnwindSafe};

/// What [`Coroutine::resume`] gives back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CoroutineResult<Yield, Return> {
    /// The coroutine suspended itself with this value.
    Yield(Yield),
    /// The coroutine's function returned this value; it is finished.
    Return(Return),
}

impl<Y, R> CoroutineResult<Y, R> {
    /// The yielded value, if the coroutine yielded.
    pub fn as_yield(self) -> Option<Y> {
        match self {
            CoroutineResult::Yield(y) => Some(y),
            CoroutineResult::Return(_) => None,
        }
    }

    /// The returned value, if the coroutine finished.
    pub fn as_return(self) -> Option<R> {
        match self {
            CoroutineResult::Yield(_) => None,
            CoroutineResult::Return(r) => Some(r),
        }
    }
}

/// A function running on its own stack, which it can leave with
/// [`Suspender::suspend`] and be [resumed](Coroutine::resume) into later.
///
/// `Input` is what each `resume` passes in, `Yield` what each suspension
/// passes out and `Return` what the function finally returns. The stack
/// (by default a [`PooledStack`]) is owned by the coroutine.
///
/// - A panic in the function reaches the caller of `resume`.
/// - Dropping a suspended coroutine unwinds its stack, so the destructors
///   of everything alive on it run.
/// - A coroutine is not `Send`: its function may hold references to
///   thread-locals, which must not change under it (see the crate docs).
///
/// The function, the input type and the stack are `'static`: a suspended
/// coroutine may be leaked with its frames alive, so nothing they borrow
/// may ever end.
///
/// ```compile_fail
/// use spindle_coro::Coroutine;
/// let text = String::from("borrowed");
/// let mut co = Coroutine::<&str, (), ()>::new(|_, s| println!("{s}"));
/// co.resume(&text); // error: `text` does not live long enough
/// ```
///
/// # Examples
/// ```
/// use spindle_coro::{Coroutine, CoroutineResult};
/// let mut running_sum = Coroutine::new(|suspender, mut input: i32| {
///     let mut sum = 0;
///     while input != 0 {
///         sum += input;
///         input = suspender.suspend(sum);
///     }
///     "done"
/// });
/// assert_eq!(running_sum.resume(3), CoroutineResult::Yield(3));
/// assert_eq!(running_sum.resume(4), CoroutineResult::Yield(7));
/// assert_eq!(running_sum.resume(0), CoroutineResult::Return("done"));
/// assert!(running_sum.is_finished());
/// ```
pub struct Coroutine<Input, Yield, Return, S: Stack = PooledStack> {
    /// Dropped by hand: a stack with live frames must be leaked instead.
    stack: ManuallyDrop<S>,
    /// Saved stack pointer of the coroutine; null once it has finished.
    sp: *mut u8,
    /// The stack pointer `init_stack` returned: while `sp` still equals it
    /// the coroutine has not started (once it runs, every saved stack
    /// pointer lies deeper in the stack).
    fresh_sp: *mut u8,
    /// Drops the function, still on the stack at the given base, of a
    /// coroutine never started.
    drop_unstarted: unsafe fn(*mut u8),
    sanitizer: sanitizer::Coroutine,
    _marker: Marker<Input, Yield, Return>,
}

/// Variance of a function from `I` to `Y` and `R`; neither `Send` nor `Sync`.
///
/// Invariant in `I`: a coroutine may hold an input across suspensions.
type Marker<I, Y, R> = PhantomData<(fn(I) -> I, fn() -> (Y, R), *mut ())>;

/// The handle a coroutine's function uses to suspend itself.
pub struct Suspender<Input, Yield> {
    base: *mut u8,
    /// The canary of an unguarded stack, checked on every switch out of
    /// the coroutine; null for a guarded stack, and [`UNWINDING`] once a
    /// drop unwinds the coroutine (both checks then share one branch).
    canary: Cell<*const u64>,
    /// The exchange area of the `resume` that is running us.
    transfer: Cell<*mut TransferHead<Input, Yield>>,
    sanitizer: sanitizer::Inner,
    /// What `begin_suspend` told the sanitizer, for `end_suspend`.
    split: Cell<Option<sanitizer::Token>>,
    _marker: PhantomData<*mut ()>,
}

/// A coroutine and the start of the region it keeps for its creator.
type WithRegion<C> = (C, NonNull<u8>);

/// Builds a [`Coroutine`] with a name (shown in overflow reports) and a
/// stack size.
///
/// # Examples
/// ```
/// use spindle_coro::{Coroutine, coroutine::Builder};
/// let mut co: Coroutine<u32, (), u32> = Builder::new()
///     .name("parser")
///     .stack_size(64 * 1024)
///     .spawn(|_, x| x * 2)?;
/// assert_eq!(co.resume(21).as_return(), Some(42));
/// # Ok::<(), spindle_coro::StackError>(())
/// ```
///
/// The name is copied onto the coroutine's stack when it is spawned, so a
/// borrowed one costs no allocation.
#[derive(Debug, Default)]
pub struct Builder<'n> {
    name: Option<Cow<'n, str>>,
    stack_size: Option<usize>,
}

impl<'n> Builder<'n> {
    /// A builder with no name and [`DEFAULT_STACK_SIZE`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Names the coroutine (the first 48 bytes are kept).
    pub fn name(mut self, name: impl Into<Cow<'n, str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the stack size; it is rounded up to the pool's size class.
    pub fn stack_size(mut self, size: usize) -> Self {
        self.stack_size = Some(size);
        self
    }

    /// Creates the coroutine on a stack from the [`StackPool`].
    ///
    /// # Errors
    /// [`StackError`] if the stack size is out of range or no memory is
    /// left.
    pub fn spawn<I, Y, R, F>(self, f: F) -> Result<Coroutine<I, Y, R>, StackError>
    where
        I: 'static,
        F: FnOnce(&Suspender<I, Y>, I) -> R + 'static,
    {
        let stack = StackPool::global().take(self.stack_size.unwrap_or(DEFAULT_STACK_SIZE))?;
        self.spawn_on(stack, f)
    }

    /// Creates the coroutine on a stack of the caller's.
    ///
    /// # Errors
    /// [`StackError`] if the function does not fit in a quarter of the
    /// stack (it is moved onto it).
    pub fn spawn_on<I, Y, R, S, F>(
        self,
        stack: S,
        f: F,
    ) -> Result<Coroutine<I, Y, R, S>, StackError>
    where
        I: 'static,
        S: Stack + 'static,
        F: FnOnce(&Suspender<I, Y>, I) -> R + 'static,
    {
        Coroutine::create(stack, self.name.as_deref(), Layout::new::<()>(), f).map(|(co, _)| co)
    }

    /// Creates the coroutine on a stack of the caller's, keeping a region
    /// of `reserved` layout near the top of the stack for the caller, and
    /// returns the region's start with the coroutine.
    ///
    /// The region lies between the coroutine's own data and its first
    /// frame: it is valid, and untouched by the coroutine, for as long as
    /// the stack's memory is. This is how a runtime keeps its per-coroutine
    /// record on the coroutine's own stack instead of a separate
    /// allocation (a parked fiber then costs one page, not a page and a
    /// heap block).
    ///
    /// # Errors
    /// [`StackError`] if the function and the region do not fit in a
    /// quarter of the stack.
    pub fn spawn_reserving<I, Y, R, S, F>(
        self,
        stack: S,
        reserved: Layout,
        f: F,
    ) -> Result<WithRegion<Coroutine<I, Y, R, S>>, StackError>
    where
        I: 'static,
        S: Stack + 'static,
        F: FnOnce(&Suspender<I, Y>, I) -> R + 'static,
    {
        Coroutine::create(stack, self.name.as_deref(), reserved, f)
    }
}

impl<I: 'static, Y, R> Coroutine<I, Y, R> {
    /// Creates a coroutine that runs `f` on a pooled stack of
    /// [`DEFAULT_STACK_SIZE`]. Nothing runs until the first `resume`, whose
    /// input becomes `f`'s second argument.
    ///
    /// # Panics
    /// If no stack can be had; use [`Builder::spawn`] to get the error.
    #[inline]
    #[track_caller]
    pub fn new<F>(f: F) -> Self
    where
        F: FnOnce(&Suspender<I, Y>, I) -> R + 'static,
    {
        let created = StackPool::global()
            .take(DEFAULT_STACK_SIZE)
            .and_then(|stack| Coroutine::create(stack, None, Layout::new::<()>(), f))
            .map(|(co, _)| co);
        match created {
            Ok(co) => co,
            Err(e) => panic!("spindle: cannot create a coroutine: {e}"),
        }
    }
}

/// Why every constructor asks for `'static`: a suspended coroutine can be
/// leaked (`mem::forget`) with live frames on its stack, which then never
/// end. Whatever those frames borrow (through the function, an input, or
/// the stack memory itself) must therefore be borrowed forever, or a
/// `std::thread::scope` inside the coroutine could outlive its data.
impl<I: 'static, Y, R, S: Stack + 'static> Coroutine<I, Y, R, S> {
    /// Creates a coroutine that runs `f` on `stack`.
    ///
    /// # Errors
    /// As [`Builder::spawn_on`].
    pub fn with_stack<F>(stack: S, f: F) -> Result<Self, StackError>
    where
        F: FnOnce(&Suspender<I, Y>, I) -> R + 'static,
    {
        Self::create(stack, None, Layout::new::<()>(), f).map(|(co, _)| co)
    }

    /// Creates the coroutine and returns it with the start of the region
    /// of layout `reserved` kept for the caller, under the function.
    #[inline]
    pub(crate) fn create<F>(
        stack: S,
        name: Option<&str>,
        reserved: Layout,
        f: F,
    ) -> Result<WithRegion<Self>, StackError>
    where
        F: FnOnce(&Suspender<I, Y>, I) -> R + 'static,
    {
        let bounds = bounds(&stack);
        // Not `stack.size()`: the trait's contract is about base and limit.
        let (top, size) = (
            bounds.base as usize,
            bounds.base as usize - bounds.limit as usize,
        );
        let f_place = closure_place::<F>(bounds.base);
        // The caller's region goes under the function (the entry finds the
        // function from the base alone), the first frame under the region,
        // 16-byte aligned. Computed in integers: a region too large for
        // the stack is refused before any address is formed.
        let region = (f_place as usize)
            .checked_sub(reserved.size())
            .map(|end| end & !(reserved.align() - 1))
            .filter(|&region| top - (region & !15) <= size / 4);
        let Some(region) = region else {
            return Err(StackError::closure_too_large(
                size_of::<F>() + reserved.size(),
                size,
            ));
        };
        let sp_start = (region & !15) as *mut u8;
        // SAFETY: `region` lies in the top quarter of the stack (checked).
        let region = unsafe { NonNull::new_unchecked(bounds.base.sub(top - region)) };
        // SAFETY: the stack is ours (trait contract) and no coroutine runs
        // on it: we are about to start one.
        unsafe { sanitizer::Coroutine::prepare_stack(bounds.limit, bounds.base) };
        // Guarded stacks need the fault handler, which `map_guarded`
        // installed, and an alternate signal stack on this thread, which
        // std's threads have and the pool gives every thread that takes.
        let canary = if stack.is_guarded() {
            ptr::null()
        } else {
            let canary = stack.canary().as_ptr();
            // SAFETY: the trait contract makes the canary word ours,
            // 8-aligned and writable, far below what we write at the top.
            unsafe { canary.write(CANARY) };
            canary.cast_const()
        };
        // SAFETY: `create` checked that header, function and first frame
        // fit in the top quarter of the stack, which the trait contract
        // makes ours; `f_place` is aligned for `F`.
        let sp = unsafe {
            Header::write(bounds.base, name, canary);
            f_place.write(f);
            arch::init_stack(&bounds, sp_start, entry::<F, I, Y, R>)
        };
        let coroutine = Coroutine {
            stack: ManuallyDrop::new(stack),
            sp,
            fresh_sp: sp,
            drop_unstarted: drop_in_place_as::<F>,
            sanitizer: sanitizer::Coroutine::new(),
            _marker: PhantomData,
        };
        Ok((coroutine, region))
    }
}

impl<I, Y, R, S: Stack> Coroutine<I, Y, R, S> {
    /// Runs the coroutine until it suspends or returns.
    ///
    /// The first `resume` starts the function with `input`; later ones make
    /// the pending [`Suspender::suspend`] return `input`. A panic in the
    /// function is resumed here, after which the coroutine is finished.
    ///
    /// # Panics
    /// If the coroutine has already finished, or if its function panics.
    #[inline]
    #[track_caller]
    pub fn resume(&mut self, input: I) -> CoroutineResult<Y, R> {
        if self.sp.is_null() {
            panic!("spindle: resumed a coroutine that has finished");
        }
        match self.switch(Inbound::Resume(input)) {
            Outbound::Yield(y) => CoroutineResult::Yield(y),
            Outbound::Return(r) => CoroutineResult::Return(r),
            Outbound::Panic(payload) => panic::resume_unwind(payload),
            Outbound::Unwound => unreachable!("only a drop asks a coroutine to unwind"),
        }
    }

    /// Whether the coroutine's function has returned (or panicked).
    pub fn is_finished(&self) -> bool {
        self.sp.is_null()
    }

    /// Whether the coroutine has been resumed at least once.
    pub fn is_started(&self) -> bool {
        self.sp != self.fresh_sp
    }

    /// The stack the coroutine runs on.
    pub fn stack(&self) -> &S {
        &self.stack
    }

    /// Hands `message` to the coroutine and runs it until it comes back.
    #[inline(always)]
    fn switch(&mut self, message: Inbound<I>) -> Outbound<Y, R> {
        let (input, unwind) = match message {
            Inbound::Resume(input) => (MaybeUninit::new(input), 0),
            Inbound::Unwind => (MaybeUninit::uninit(), UNWIND),
        };
        let mut transfer = Transfer::<I, Y, R> {
            head: TransferHead {
                input,
                yielded: MaybeUninit::uninit(),
                sanitizer: sanitizer::Resume::new(),
            },
            ended: MaybeUninit::uninit(),
        };
        let base = self.stack.base().as_ptr();
        // SAFETY: `sp` is the live context of this stack (it is null only
        // once finished, checked by every caller); the coroutine side reads
        // `transfer` only while this frame waits in `resume`.
        let sp = unsafe {
            let token = self
                .sanitizer
                .before_resume(&transfer.head.sanitizer, &*self.stack);
            let arg = ptr::from_mut(&mut transfer).expose_provenance() | unwind;
            let sp = arch::resume(arg, self.sp, base);
            sanitizer::Coroutine::after_resume(token, sp.is_null());
            sp
        };
        self.sp = sp;
        // SAFETY: the coroutine wrote `ended` if it finished (sp null),
        // `yielded` otherwise, and read (took) the input.
        unsafe {
            if sp.is_null() {
                std::hint::cold_path();
                return transfer.ended.assume_init_read();
            }
            Outbound::Yield(transfer.head.yielded.assume_init_read())
        }
    }
}

impl<I, Y, R, S: Stack> Drop for Coroutine<I, Y, R, S> {
    #[inline]
    fn drop(&mut self) {
        if !self.sp.is_null() {
            return self.drop_unfinished();
        }
        // SAFETY: the coroutine finished: no frames are left on its stack,
        // which is dropped once, here.
        unsafe { self.release_stack() };
    }
}

impl<I, Y, R, S: Stack> Coroutine<I, Y, R, S> {
    /// Marks the stack free of a coroutine and drops it.
    ///
    /// # Safety
    /// No frames are left on the stack; called once, from `drop`.
    #[inline]
    unsafe fn release_stack(&mut self) {
        // SAFETY: the header `create` wrote; then the stack's only drop.
        unsafe {
            Header::retire(self.stack.base().as_ptr());
            ManuallyDrop::drop(&mut self.stack);
        }
    }

    #[cold]
    #[inline(never)]
    fn drop_unfinished(&mut self) {
        let panicked = match self.stop_unfinished() {
            Stopped::Leak => return,
            Stopped::Clean => None,
            Stopped::Panicked(payload) => Some(payload),
        };
        // SAFETY: the coroutine never started or was unwound: no frames
        // are left; this is the stack's only drop.
        unsafe { self.release_stack() };
        if let Some(payload) = panicked {
            panic::resume_unwind(payload);
        }
    }
}

/// How a drop ended a coroutine that had not finished.
enum Stopped {
    /// No frames are left on the stack.
    Clean,
    /// No frames are left, but a destructor panicked: resume it once the
    /// stack is back.
    Panicked(Box<dyn Any + Send>),
    /// Frames are left that can never end: the stack must not be reused.
    /// (Sound to leak: everything a coroutine holds is `'static`.)
    Leak,
}

impl<I, Y, R, S: Stack> Coroutine<I, Y, R, S> {
    #[cold]
    fn stop_unfinished(&mut self) -> Stopped {
        if !self.is_started() {
            let base = self.stack.base().as_ptr();
            let drop_unstarted = self.drop_unstarted;
            // SAFETY: `create` wrote the function there and nothing took it.
            let dropped = panic::catch_unwind(|| unsafe { drop_unstarted(base) });
            return dropped.map_or_else(Stopped::Panicked, |()| Stopped::Clean);
        }
        if cfg!(panic = "abort") {
            // Without unwinding, the frames cannot be ended.
            return Stopped::Leak;
        }
        match self.switch(Inbound::Unwind) {
            Outbound::Unwound | Outbound::Return(_) => Stopped::Clean,
            Outbound::Panic(payload) if !std::thread::panicking() => Stopped::Panicked(payload),
            Outbound::Panic(_) => Stopped::Clean,
            Outbound::Yield(_) => {
                unreachable!("`suspend` aborts rather than suspend while unwinding")
            }
        }
    }
}

impl<I, Y> Suspender<I, Y> {
    /// Suspends the coroutine, handing `value` to the caller of `resume`;
    /// returns the input of the next `resume`.
    ///
    /// If the coroutine is dropped while suspended here, this unwinds (a
    /// panic that the coroutine's entry catches), so that the destructors
    /// of everything on the stack run.
    #[inline]
    pub fn suspend(&self, value: Y) -> I {
        // SAFETY: the switch comes right after `before_switch`, and
        // `after_switch` right after it, with what it returned.
        unsafe {
            let token = self.before_switch(value);
            let arg = arch::suspend(self.base);
            self.after_switch(token, arg)
        }
    }

    /// What every suspension does before its switch: checks the stack,
    /// hands `value` out and tells the sanitizer; returns its token.
    ///
    /// # Safety
    /// Called by the coroutine itself, while it runs, right before it
    /// switches out.
    #[inline(always)]
    unsafe fn before_switch(&self, value: Y) -> sanitizer::Token {
        let canary = self.canary.get();
        if !canary.is_null() {
            self.check_unguarded_or_unwinding(canary);
        }
        // SAFETY: `transfer` is the exchange area of the resume that runs
        // us, alive while we run; we write our value, then switch.
        unsafe {
            (*self.transfer.get()).yielded.write(value);
            self.sanitizer
                .before_suspend(&(*self.transfer.get()).sanitizer)
        }
    }

    /// What every suspension does after its switch: tells the sanitizer,
    /// takes the new resume's exchange area, and returns its input (or
    /// unwinds, when the coroutine is dropped).
    ///
    /// # Safety
    /// Called right after the switch of a suspension that `before_switch`
    /// began (its `token`), with the `arg` of the resume that runs us now.
    #[inline(always)]
    unsafe fn after_switch(&self, token: sanitizer::Token, arg: usize) -> I {
        // SAFETY: as the caller promises.
        let next = unsafe {
            self.sanitizer.after_suspend(token);
            let (transfer, next) = receive(arg);
            self.transfer.set(transfer);
            next
        };
        match next {
            Inbound::Resume(input) => input,
            Inbound::Unwind => {
                self.canary.set(UNWINDING);
                panic::resume_unwind(Box::new(ForcedUnwind))
            }
        }
    }

    /// The first half of a [`suspend`](Self::suspend) whose switch the
    /// caller makes itself, by calling [`switch_out`] from its own frame:
    /// hands `value` out and returns the argument for `switch_out`.
    ///
    /// `suspend` switches inside the frame that calls it, so the first
    /// `ret` after the coroutine is resumed is always mispredicted: the
    /// return-stack predictor holds the resumer's return address, not that
    /// frame's. A caller that cannot inline `suspend` (it reaches the
    /// coroutine through a function pointer) calls `switch_out` instead,
    /// which returns by a jump: nothing but the caller's own frame lies
    /// between the switch and the code that runs next.
    ///
    /// # Safety
    /// Called by the coroutine itself, while it runs; followed by
    /// `switch_out` with the returned base, and then at once by
    /// [`end_suspend`](Self::end_suspend) with what it returned. Nothing in
    /// between may switch, panic or call back into this suspender.
    ///
    /// # Panics
    /// Where [`SPLIT_SUSPEND`] is `false`.
    #[inline]
    pub unsafe fn begin_suspend(&self, value: Y) -> *mut u8 {
        if !SPLIT_SUSPEND {
            split_suspend_unsupported();
        }
        // SAFETY: the caller switches right after this returns.
        let token = unsafe { self.before_switch(value) };
        self.split.set(Some(token));
        self.base
    }

    /// The second half of a split suspension (see
    /// [`begin_suspend`](Self::begin_suspend)): takes what `switch_out`
    /// returned and returns the input of the resume, or unwinds as
    /// `suspend` does when the coroutine is dropped.
    ///
    /// # Safety
    /// Called right after `switch_out` returned `arg`, in a suspension that
    /// `begin_suspend` began.
    #[inline]
    pub unsafe fn end_suspend(&self, arg: usize) -> I {
        let token = self
            .split
            .take()
            .expect("spindle: `end_suspend` without `begin_suspend`");
        // SAFETY: right after the switch `begin_suspend` began.
        unsafe { self.after_switch(token, arg) }
    }
}

/// Whether this build offers the split suspension
/// ([`Suspender::begin_suspend`]): not under ThreadSanitizer, which must be
/// told of a switch right before it happens, with no function returning
/// in between (its record of each stack's calls would drift).
pub const SPLIT_SUSPEND: bool = !cfg!(spindle_tsan);

#[cold]
#[inline(never)]
fn split_suspend_unsupported() -> ! {
    panic!(
        "spindle: the split suspension is not available under ThreadSanitizer (see `SPLIT_SUSPEND`)"
    )
}

/// The switch of a split suspension ([`Suspender::begin_suspend`]): saves
/// the caller's callee-saved general and vector registers (the control
/// registers are not switched, as in [`Suspender::suspend`]), switches to the coroutine's
/// resumer, and returns, when the coroutine is resumed, the argument for
/// [`Suspender::end_suspend`]. It returns by a jump to its return address,
/// not a `ret`, so that the return-stack predictor keeps the resumer's
/// entries (see `begin_suspend`).
///
/// # Safety
/// Only as `begin_suspend` says: with the base it returned, on that
/// coroutine's stack.
pub use crate::arch::switch_out;

impl<I, Y> Suspender<I, Y> {
    #[cold]
    #[inline(never)]
    fn check_unguarded_or_unwinding(&self, canary: *const u64) {
        if canary == UNWINDING {
            suspend_while_unwinding();
        }
        // SAFETY: any other non-null canary is our unguarded stack's.
        unsafe { overflow::check_unguarded(canary, self.base) };
    }
}

/// The `Suspender::canary` of a coroutine that a drop is unwinding: not an
/// address, only a value no canary has.
const UNWINDING: *const u64 = ptr::dangling();

/// A destructor suspended the coroutine while a drop was unwinding its
/// stack. Its frames could then never finish unwinding, and the thread
/// would count as panicking for the rest of its life, so this is fatal.
///
/// (A destructor that suspends while a panic of the coroutine's own
/// unwinds it is not caught here, to keep the check off the hot path: the
/// panic stays in flight until the coroutine is resumed, and dropping it
/// instead aborts as a panic while panicking.)
#[cold]
fn suspend_while_unwinding() -> ! {
    overflow::write_stderr(
        b"spindle: a coroutine tried to suspend while unwinding its stack; aborting\n",
    );
    std::process::abort()
}

/// Bit 0 of a resume's argument: unwind rather than resume.
const UNWIND: usize = 1;

/// Reads what a resume handed in: its exchange area and the message.
///
/// # Safety
/// `arg` is what a live `switch` passed, and this is the first read of it.
#[inline(always)]
unsafe fn receive<I, Y>(arg: usize) -> (*mut TransferHead<I, Y>, Inbound<I>) {
    if arg & UNWIND != 0 {
        let transfer = ptr::with_exposed_provenance_mut(arg & !UNWIND);
        return (transfer, Inbound::Unwind);
    }
    let transfer = ptr::with_exposed_provenance_mut::<TransferHead<I, Y>>(arg);
    // SAFETY: without the unwind bit, the resumer wrote `input`, which the
    // caller reads once.
    (
        transfer,
        Inbound::Resume(unsafe { (*transfer).input.assume_init_read() }),
    )
}

/// What a resume hands in.
enum Inbound<I> {
    Resume(I),
    Unwind,
}

/// What a coroutine hands out.
enum Outbound<Y, R> {
    Yield(Y),
    Return(R),
    Panic(Box<dyn Any + Send>),
    Unwound,
}

/// The payload that unwinds a coroutine being dropped.
struct ForcedUnwind;

/// Whether a caught panic `payload` is the unwinding of a suspended
/// coroutine that is being dropped, rather than a panic.
///
/// Code that runs on a coroutine and catches panics (`catch_unwind`, a
/// task runner, a job loop) must re-raise this one with
/// `std::panic::resume_unwind` at once: the drop that started it waits
/// for the coroutine's stack to unwind to its end, and a coroutine that
/// swallows it runs on as if nothing happened, with its owner gone.
///
/// # Examples
/// ```
/// use spindle_coro::{Coroutine, coroutine::is_forced_unwind};
/// use std::panic::{self, AssertUnwindSafe};
///
/// let mut co = Coroutine::<(), (), ()>::new(|s, ()| {
///     let caught = panic::catch_unwind(AssertUnwindSafe(|| s.suspend(())));
///     if let Err(payload) = caught {
///         if is_forced_unwind(&*payload) {
///             panic::resume_unwind(payload); // let the drop finish
///         }
///     }
/// });
/// co.resume(());
/// drop(co); // unwinds the suspended coroutine, through the catch
/// ```
pub fn is_forced_unwind(payload: &(dyn Any + Send)) -> bool {
    payload.is::<ForcedUnwind>()
}

/// The exchange area, in the frame of the resumer. `repr(C)` keeps `head`
/// at offset 0 whatever `R` is, so the [`Suspender`] can ignore `R`.
///
/// A resume passes its address, with bit 0 ([`UNWIND`]) set to ask the
/// coroutine to unwind instead of reading `input`.
#[repr(C)]
struct Transfer<I, Y, R> {
    head: TransferHead<I, Y>,
    ended: MaybeUninit<Outbound<Y, R>>,
}

#[repr(C, align(2))]
struct TransferHead<I, Y> {
    input: MaybeUninit<I>,
    yielded: MaybeUninit<Y>,
    sanitizer: sanitizer::Resume,
}

/// The coroutine's first Rust frame.
///
/// # Safety
/// Called only by the arch trampoline, on a stack set up by `create`, with
/// `arg` pointing at the first resume's `Transfer`.
unsafe extern "C" fn entry<F, I, Y, R>(arg: usize, base: *mut u8) -> !
where
    F: FnOnce(&Suspender<I, Y>, I) -> R,
{
    // SAFETY: the first resume passes its exchange area.
    let (transfer, first) = unsafe { receive::<I, Y>(arg) };
    let transfer = transfer.cast::<Transfer<I, Y, R>>();
    // SAFETY: `create` wrote the header.
    let canary = unsafe { Header::canary(base) };
    let suspender = Suspender {
        base,
        canary: Cell::new(canary),
        transfer: Cell::new(transfer.cast()),
        sanitizer: sanitizer::Inner::on_entry(),
        split: Cell::new(None),
        _marker: PhantomData,
    };
    // SAFETY: `create` wrote `F` there, and once this coroutine has run the
    // unstarted-drop path is unreachable (its saved `sp` moves deeper).
    let f = unsafe { ptr::read(closure_place::<F>(base)) };
    let ended = match first {
        Inbound::Unwind => Outbound::Unwound,
        Inbound::Resume(input) => {
            match panic::catch_unwind(AssertUnwindSafe(|| f(&suspender, input))) {
                Ok(r) => Outbound::Return(r),
                Err(payload) if payload.is::<ForcedUnwind>() => Outbound::Unwound,
                Err(payload) => Outbound::Panic(payload),
            }
        }
    };
    let transfer = suspender.transfer.get().cast::<Transfer<I, Y, R>>();
    // SAFETY: the current resumer's exchange area is alive while we run;
    // after `finish` this stack is never touched again.
    unsafe {
        if !canary.is_null() {
            // The header's canary: the suspender's may say "unwinding".
            overflow::check_unguarded(canary, base);
        }
        (*transfer).ended.write(ended);
        suspender
            .sanitizer
            .before_finish(&(*transfer).head.sanitizer);
        arch::finish(base)
    }
}

/// Where the function `F` lives on a stack whose top is `base`: under the
/// arch area and the header, aligned for `F`.
fn closure_place<F>(base: *mut u8) -> *mut F {
    let below = base as usize - arch::TOP_RESERVED - Header::SIZE - size_of::<F>();
    (below & !(align_of::<F>() - 1)) as *mut F
}

/// # Safety
/// The stack at `base` holds a live `F` that nothing else will drop.
unsafe fn drop_in_place_as<F>(base: *mut u8) {
    // SAFETY: forwarded from the caller.
    unsafe { ptr::drop_in_place(closure_place::<F>(base)) }
}

#[inline]
fn bounds<S: Stack>(stack: &S) -> Bounds {
    let limit = stack.limit().as_ptr();
    Bounds {
        base: stack.base().as_ptr(),
        limit,
        allocation_base: match arch::USES_ALLOCATION_BASE {
            true => stack.allocation_base().as_ptr(),
            false => limit,
        },
    }
}

impl<I, Y, R, S: Stack + fmt::Debug> fmt::Debug for Coroutine<I, Y, R, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coroutine")
            .field("started", &self.is_started())
            .field("finished", &self.is_finished())
            .field("stack", &self.stack)
            .finish()
    }
}

impl<I, Y> fmt::Debug for Suspender<I, Y> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Suspender").finish_non_exhaustive()
    }
}
