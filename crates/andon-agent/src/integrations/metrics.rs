//! `andon_agent_webhooks_total{provider,result}`: the provider endpoints' counters in the
//! Prometheus text format, appended to `/metrics`.

use std::sync::atomic::Ordering;

use andon::core::stats::{StatLine, Stats, render_prometheus};

use super::{OUTCOMES, Outcome, Provider, Webhooks};

impl Webhooks {
    /// The counters in the Prometheus text format, with their HELP.
    pub(crate) fn render(&self) -> String {
        render_prometheus(&[&self.stats()])
    }

    /// A snapshot of the counters.
    fn stats(&self) -> WebhookStats {
        WebhookStats {
            counts: std::array::from_fn(|p| {
                std::array::from_fn(|o| self.counts[p][o].load(Ordering::Relaxed))
            }),
        }
    }
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Unsigned => "unsigned",
            Outcome::Forged => "forged",
            Outcome::Stale => "stale",
            Outcome::Replayed => "replayed",
            Outcome::Malformed => "malformed",
            Outcome::Unconfigured => "unconfigured",
        }
    }
}

/// The webhook counters at one moment, by provider and result.
#[derive(Debug)]
struct WebhookStats {
    counts: [[u64; OUTCOMES.len()]; 2],
}

impl Stats for WebhookStats {
    /// `andon_agent_webhooks_total{provider, result}`, every pair, zeros included.
    fn describe(&self) -> Vec<StatLine> {
        let mut lines = Vec::with_capacity(2 * OUTCOMES.len());
        for provider in [Provider::PagerDuty, Provider::Slack] {
            for outcome in OUTCOMES {
                lines.push(
                    StatLine::counter(
                        WEBHOOKS,
                        "Requests to the PagerDuty and Slack endpoints, by provider and result (accepted; or refused with 401 as unsigned, forged, stale or replayed; 400 malformed; 404 unconfigured)",
                        self.counts[provider.index()][outcome.index()] as f64,
                    )
                    .with_label("provider", provider.label())
                    .with_label("result", outcome.label()),
                );
            }
        }
        lines
    }
}

/// The counter of requests to the provider endpoints, by provider and result.
const WEBHOOKS: &str = "andon_agent_webhooks_total";

#[cfg(test)]
mod tests {
    use andon::config::AgentConfig;

    use super::*;

    #[test]
    fn the_metrics_have_help_and_every_result() {
        let hooks = Webhooks::new(&AgentConfig::default());
        hooks.count(Provider::Slack, Outcome::Forged);
        let text = hooks.render();
        assert!(text.starts_with("# HELP andon_agent_webhooks_total "));
        assert!(
            text.contains("andon_agent_webhooks_total{provider=\"slack\",result=\"forged\"} 1\n")
        );
        assert!(text.contains(
            "andon_agent_webhooks_total{provider=\"pagerduty\",result=\"accepted\"} 0\n"
        ));
        assert_eq!(hooks.counted(Provider::Slack, Outcome::Forged), 1);
    }
}
