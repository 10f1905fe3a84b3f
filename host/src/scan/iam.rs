//! Collector for iam (placeholder until written).

use super::Collect;

pub const RESOURCE_TYPES: [&str; 0] = [];

pub async fn collect(_cx: &mut Collect<'_>) {}
