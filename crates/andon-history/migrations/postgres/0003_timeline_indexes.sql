
CREATE INDEX alert_events_by_trace ON alert_events (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX line_events_by_signal ON line_events (signal_id) WHERE signal_id IS NOT NULL;
