//! Metric handles cached by one label value, so that an update after the first is a hash
//! lookup and an atomic operation.

use std::collections::HashMap;
use std::sync::RwLock;

use andon_runtime::{read, write};

use metrics::{Key, Label};

use crate::error::MetricsError;

/// Handles cached by one label value.
#[derive(Debug)]
pub(super) struct Cache<H> {
    metric: &'static str,
    label: &'static str,
    map: RwLock<HashMap<Box<str>, H>>,
}

impl<H: Clone> Cache<H> {
    pub(super) fn new(metric: &'static str, label: &'static str) -> Self {
        Cache {
            metric,
            label,
            map: RwLock::new(HashMap::new()),
        }
    }

    /// Runs `f` on the handle for `value`, creating it with `make` the first time.
    #[inline]
    pub(super) fn with(
        &self,
        value: &str,
        make: impl FnOnce(&Key) -> Result<H, MetricsError>,
        f: impl FnOnce(&H),
    ) -> Result<(), MetricsError> {
        if let Some(handle) = read(&self.map).get(value) {
            f(handle);
            return Ok(());
        }
        let handle = make(&Key::from_parts(
            self.metric,
            vec![Label::new(self.label, value.to_owned())],
        ))?;
        f(&handle);
        write(&self.map).insert(value.into(), handle);
        Ok(())
    }

    pub(super) fn get(
        &self,
        value: &str,
        make: impl FnOnce(&Key) -> Result<H, MetricsError>,
    ) -> Result<H, MetricsError> {
        let mut out = None;
        self.with(value, make, |h| out = Some(h.clone()))?;
        out.ok_or(MetricsError::ShutDown)
    }
}
