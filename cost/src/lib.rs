//! # llmux-cost
//!
//! Will hold the embedded price and context-window table, `completion_cost` and
//! token counting. Empty until the router/cost/cache issue lands; nothing here
//! pretends to work yet.
