//! What a service says about itself on `/pending`, as data shared by the
//! services that answer it and the harness that reads it.

use serde::{Deserialize, Serialize};

/// What a service has in hand: messages being handled, events committed
/// but not yet published, and domain work still open (shipments being
/// tracked, say). All zeros means idle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InHand {
    pub handling: u64,
    pub outbox: u64,
    pub work: u64,
}

impl InHand {
    pub fn is_idle(&self) -> bool {
        self.handling + self.outbox + self.work == 0
    }
}
