
CREATE INDEX IF NOT EXISTS signals_by_component ON signals (component, at_ms);
CREATE INDEX IF NOT EXISTS signals_by_color ON signals (color, at_ms);
