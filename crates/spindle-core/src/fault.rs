//! Fault points: the places where concurrent code can go either way, named
//! so that a tester can push it down the rarer way on purpose.
//!
//! A primitive calls [`point`] wherever an outcome depends on timing: a
//! `try_` operation that could have failed, a wait that could have found
//! its condition already true, a wake that could have come later. With no
//! [`Injector`] installed on the thread (always, outside tests), `point`
//! is one relaxed load and a branch, and returns `false`.
//!
//! A deterministic tester installs an injector for the thread that runs the
//! code under test. When `point` returns `true`, the caller takes the
//! branch that timing could also have produced: it reports a spurious
//! `try_` failure, takes its slow path, or yields first. So an injected
//! fault never breaks a primitive's contract; it only makes rare
//! interleavings common.
//!
//! # Examples
//!
//! ```
//! use spindle_core::fault::{self, Injector, Site};
//! use std::cell::Cell;
//! use std::rc::Rc;
//!
//! /// Fails every other point.
//! struct EveryOther(Cell<bool>);
//!
//! impl Injector for EveryOther {
//!     fn inject(&self, _site: Site) -> bool {
//!         self.0.set(!self.0.get());
//!         self.0.get()
//!     }
//! }
//!
//! assert!(!fault::point(Site::TRY));
//! let previous = fault::set_injector(Some(Rc::new(EveryOther(Cell::new(false)))));
//! assert!(fault::point(Site::TRY));
//! assert!(!fault::point(Site::TRY));
//! fault::set_injector(previous);
//! assert!(!fault::point(Site::TRY));
//! ```

use core::cell::RefCell;
use core::fmt;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::rc::Rc;

/// What kind of place a fault point is; an injector may treat kinds
/// differently (fail `try_`s often, delay wakes rarely).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Site(&'static str);

impl Site {
    /// A `try_` operation that succeeds: returning `true` makes it report
    /// the failure it could have met (`Full`, `Empty`, `WouldBlock`).
    pub const TRY: Site = Site("try");
    /// A wait whose condition already holds: returning `true` makes it
    /// register and re-check, the path a racing waiter takes.
    pub const WAIT: Site = Site("wait");
    /// A wake about to be delivered: returning `true` makes the waker yield
    /// the current thread first, so the woken party runs sooner or later.
    pub const WAKE: Site = Site("wake");

    /// A site kind of the caller's own, for user code that adds points.
    pub const fn custom(name: &'static str) -> Site {
        Site(name)
    }

    /// The site kind's name.
    pub const fn name(self) -> &'static str {
        self.0
    }
}

impl fmt::Debug for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Decides, at each fault point a thread reaches, whether to take the rare
/// branch. Installed per thread with [`set_injector`].
pub trait Injector {
    /// Returns `true` to inject a fault at `site`.
    fn inject(&self, site: Site) -> bool;
}

/// How many threads have an injector installed: `point`'s fast check.
///
/// A plain `core` atomic, also under loom: it is const-initialized global
/// state, and loom models never install injectors.
static INSTALLED: AtomicUsize = AtomicUsize::new(0);

std::thread_local! {
    static INJECTOR: RefCell<Option<Rc<dyn Injector>>> = const { RefCell::new(None) };
}

/// Asks the current thread's injector whether to inject a fault at `site`;
/// `false` when none is installed.
#[inline]
pub fn point(site: Site) -> bool {
    // `Relaxed`: a thread sees its own installation in program order; other
    // threads' injectors are not consulted here anyway.
    if INSTALLED.load(Ordering::Relaxed) == 0 {
        return false;
    }
    ask(site)
}

#[cold]
#[inline(never)]
fn ask(site: Site) -> bool {
    // An injector that reaches a fault point itself gets `false` there
    // (the `RefCell` is borrowed), rather than a panic.
    INJECTOR
        .try_with(|cell| {
            let injector = cell.try_borrow().ok()?.clone()?;
            Some(injector.inject(site))
        })
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// Installs `injector` for the current thread (`None` removes it) and
/// returns the one installed before. During the thread's own teardown
/// (after its thread-locals are destroyed) it installs nothing.
pub fn set_injector(injector: Option<Rc<dyn Injector>>) -> Option<Rc<dyn Injector>> {
    let now = injector.is_some();
    // During the thread's teardown nothing is installed.
    let Ok(previous) = INJECTOR.try_with(|cell| cell.replace(injector)) else {
        return None;
    };
    match (previous.is_some(), now) {
        (false, true) => {
            INSTALLED.fetch_add(1, Ordering::Relaxed);
        }
        (true, false) => {
            INSTALLED.fetch_sub(1, Ordering::Relaxed);
        }
        _ => {}
    }
    previous
}
