//! The outbox's syncer: a thread that flushes `pending` records to the disk off the caller's
//! path, one `fsync` for every record written since the last (group commit).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use andon_runtime::lock;

use super::State;

/// Flushes `pending` records to the disk on a thread of its own: one `fsync` covers every
/// record written since the last.
#[derive(Debug, Default)]
pub(super) struct Syncer {
    flags: Mutex<SyncFlags>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct SyncFlags {
    /// Written since the last `fsync` began.
    dirty: bool,
    /// The outbox is gone: flush what is dirty, then end.
    stop: bool,
    /// How many `fsync`s the syncer has done (tests read it to check coalescing).
    syncs: u64,
}

impl Syncer {
    pub(super) fn start(state: &Arc<Mutex<State>>, errors: &Arc<AtomicU64>) -> Option<Arc<Syncer>> {
        let syncer = Arc::new(Syncer::default());
        let (me, state, errors) = (Arc::clone(&syncer), Arc::clone(state), Arc::clone(errors));
        std::thread::Builder::new()
            .name("andon-outbox-sync".to_owned())
            .spawn(move || me.run(&state, &errors))
            .ok()?;
        Some(syncer)
    }

    fn run(&self, state: &Mutex<State>, errors: &AtomicU64) {
        loop {
            {
                let mut flags = lock(&self.flags);
                while !flags.dirty && !flags.stop {
                    flags = self.wake.wait(flags).unwrap_or_else(|e| e.into_inner());
                }
                if !flags.dirty {
                    return;
                }
                flags.dirty = false;
            }
            let file = Arc::clone(&lock(state).file);
            if file.sync_data().is_err() {
                errors.fetch_add(1, Ordering::Relaxed);
            }
            lock(&self.flags).syncs += 1;
        }
    }

    /// Ends the thread once what is dirty is flushed.
    pub(super) fn stop(&self) {
        lock(&self.flags).stop = true;
        self.wake.notify_one();
    }

    /// How many `fsync`s the syncer has done (tests read it to check coalescing).
    #[cfg(test)]
    pub(super) fn syncs(&self) -> u64 {
        lock(&self.flags).syncs
    }

    /// Asks for an `fsync` of what was written.
    pub(super) fn mark_dirty(&self) {
        lock(&self.flags).dirty = true;
        self.wake.notify_one();
    }
}
