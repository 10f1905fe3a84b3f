//! The real-time path: SQS messages (EventBridge CloudTrail events, S3 notifications of new
//! CloudTrail log files, either one inside an SNS envelope) become CloudTrail records
//! ([`message`]), records become targets ([`mapping`]), and targets become targeted rescans.
//! Nothing here collects or evaluates itself; that is `scan`'s and `findings`' work.

pub mod mapping;
pub mod message;
pub mod pending;
pub mod realtime;
pub mod template;

mod target;

pub use target::{Action, Key, Target};
