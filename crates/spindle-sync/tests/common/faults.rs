//! Fault injection for the tests that run with faults injected.

use std::cell::Cell;
use std::rc::Rc;

use spindle_core::fault::{self, Injector, Site};

/// Fails every other fault point of the thread it is installed on.
pub struct EveryOther(Cell<bool>);

impl Injector for EveryOther {
    fn inject(&self, _site: Site) -> bool {
        self.0.set(!self.0.get());
        self.0.get()
    }
}

/// Installs [`EveryOther`] on the current thread if `faults`.
pub fn install_faults(faults: bool) {
    if faults {
        fault::set_injector(Some(Rc::new(EveryOther(Cell::new(false)))));
    }
}
