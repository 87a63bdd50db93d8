//! Carriers: where headers are read from ([`Extractor`]) and written to ([`Injector`]):
//! `http::HeaderMap`, `HashMap`, `BTreeMap` and a list of pairs.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

/// Reads headers from a carrier. Header names are matched without regard to case.
pub trait Extractor {
    /// Every value of header `name`, in the order received; empty when absent.
    fn values(&self, name: &str) -> Vec<Cow<'_, str>>;
}

/// Writes headers into a carrier.
pub trait Injector {
    /// Sets header `name` (given in lower case) to `value`, replacing any earlier value.
    fn set(&mut self, name: &str, value: String);
}

impl Extractor for http::HeaderMap {
    fn values(&self, name: &str) -> Vec<Cow<'_, str>> {
        // HeaderMap names are lower case, so the lookup ignores the sender's case.
        self.get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()))
            .collect()
    }
}

impl Injector for http::HeaderMap {
    fn set(&mut self, name: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.insert(name, value);
        }
    }
}

impl<S: BuildHasher> Extractor for HashMap<String, String, S> {
    fn values(&self, name: &str) -> Vec<Cow<'_, str>> {
        self.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| Cow::Borrowed(v.as_str()))
            .collect()
    }
}

impl<S: BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, name: &str, value: String) {
        self.retain(|k, _| !k.eq_ignore_ascii_case(name));
        self.insert(name.to_owned(), value);
    }
}

impl Extractor for BTreeMap<String, String> {
    fn values(&self, name: &str) -> Vec<Cow<'_, str>> {
        self.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| Cow::Borrowed(v.as_str()))
            .collect()
    }
}

impl Injector for BTreeMap<String, String> {
    fn set(&mut self, name: &str, value: String) {
        self.retain(|k, _| !k.eq_ignore_ascii_case(name));
        self.insert(name.to_owned(), value);
    }
}

impl Extractor for Vec<(String, String)> {
    fn values(&self, name: &str) -> Vec<Cow<'_, str>> {
        self.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| Cow::Borrowed(v.as_str()))
            .collect()
    }
}

impl Injector for Vec<(String, String)> {
    fn set(&mut self, name: &str, value: String) {
        self.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.push((name.to_owned(), value));
    }
}
