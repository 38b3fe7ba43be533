//! Rendering a [`RunReport`](super::RunReport): a terminal summary, JUnit XML
//! for CI, one self-contained HTML file per run. Rendering only reads the
//! report; it never runs anything.

mod html;
mod junit;
mod terminal;
mod waterfall;

pub use html::html;
pub use junit::junit;
pub use terminal::{TerminalProgress, summary};
pub use waterfall::waterfall;

pub(crate) use crate::html::escape;
