//! The validated parts of an order request, and the status an order moves
//! through. Request values parse through serde's `try_from`, so the JSON
//! extractor names the field at fault (`shipping_address.city`).

use serde::{Deserialize, Serialize};

pub use kit::values::Text;

/// A model name as asked for; whether it is on sale is the catalog's call.
pub type Model = Text;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingAddress {
    pub name: Text,
    pub line1: Text,
    pub city: Text,
    pub postal_code: Text,
    pub country: Text,
}

/// Where an order stands. It only moves forward, so events that arrive out
/// of order (a delivery heard before its shipment) never move it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Placed,
    Allocated,
    Shipped,
    /// Tracking gave the parcel up (`shipment.lost`). A delivery heard
    /// afterwards still moves it on; it never moves a delivered order back.
    Lost,
    Delivered,
    /// No device could be allocated: final.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an order status")]
pub struct BadStatus(pub String);

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Placed => "placed",
            Status::Allocated => "allocated",
            Status::Shipped => "shipped",
            Status::Lost => "lost",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Result<Status, BadStatus> {
        [Status::Placed, Status::Allocated, Status::Shipped, Status::Lost, Status::Delivered, Status::Failed]
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| BadStatus(value.to_owned()))
    }

    fn rank(self) -> u8 {
        match self {
            Status::Placed => 0,
            Status::Allocated => 1,
            Status::Shipped => 2,
            Status::Lost => 3,
            Status::Delivered => 4,
            Status::Failed => 0,
        }
    }

    /// The status after hearing of `next`. Failure only ends an order that
    /// got no further than placed: once a device is allocated, a failure
    /// notice is stale and the order's progress stands.
    pub fn then(self, next: Status) -> Status {
        match (self, next) {
            (Status::Failed, _) => Status::Failed,
            (Status::Placed, Status::Failed) => Status::Failed,
            (_, Status::Failed) => self,
            _ if next.rank() > self.rank() => next,
            _ => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn status_only_moves_forward_and_failed_is_final() {
        assert_eq!(Placed.then(Allocated), Allocated);
        assert_eq!(Allocated.then(Shipped).then(Delivered), Delivered);
        assert_eq!(Placed.then(Delivered).then(Shipped).then(Allocated), Delivered);
        assert_eq!(Placed.then(Failed), Failed);
        assert_eq!(Failed.then(Delivered), Failed);
        assert_eq!(Shipped.then(Failed), Shipped);
        for s in [Placed, Allocated, Shipped, Lost, Delivered, Failed] {
            assert_eq!(Status::parse(s.as_str()), Ok(s));
        }
        assert!(Status::parse("stolen").is_err());
    }

    #[test]
    fn lost_never_overrides_delivered_and_a_late_delivery_overrides_lost() {
        assert_eq!(Shipped.then(Lost), Lost);
        assert_eq!(Delivered.then(Lost), Delivered);
        assert_eq!(Lost.then(Delivered), Delivered);
        assert_eq!(Lost.then(Shipped).then(Allocated), Lost);
        assert_eq!(Placed.then(Lost), Lost);
        assert_eq!(Failed.then(Lost), Failed);
        assert_eq!(Lost.then(Failed), Lost);
    }
}
