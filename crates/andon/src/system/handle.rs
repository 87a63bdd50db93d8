//! The narrow handles the umbrella's other rooms hold on a system instead of its shared state:
//! a weak one for timers, watchers and the deferred sink (they must not keep a dropped system
//! alive), and the few parts heartbeats read.

use std::sync::{Arc, Weak};

use super::{AndonSystem, Inner};

/// A system held weakly: timers and watchers hold one so that a system dropped without
/// `shutdown` is freed, and their work ends with it.
#[derive(Debug, Clone, Default)]
pub(crate) struct WeakSystem(Weak<Inner>);

impl WeakSystem {
    /// The system, while it is alive.
    pub(crate) fn upgrade(&self) -> Option<AndonSystem> {
        self.0.upgrade().map(AndonSystem::from_inner)
    }
}

impl AndonSystem {
    /// A handle that does not keep the system alive.
    pub(crate) fn downgrade(&self) -> WeakSystem {
        WeakSystem(Arc::downgrade(&self.inner))
    }

    /// The `[[heartbeats]]` clocks and the task that watches them.
    pub(crate) fn heartbeat_clocks(&self) -> &crate::heartbeat::Heartbeats {
        &self.inner.heartbeats
    }

    /// Whether [`shutdown`](AndonSystem::shutdown) has begun.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.inner
            .shut_down
            .load(std::sync::atomic::Ordering::Acquire)
    }
}
