//! The andon umbrella (being built).
