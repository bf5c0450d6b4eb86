//! The simulated cluster: a Kubernetes API server, its controllers, and a Prometheus API
//! whose numbers come from the same simulation.

pub mod metrics;
pub mod prom_api;
pub mod promql;
pub mod tsdb;

mod controller;
mod kube_api;
mod objects;
mod patch;
pub mod rbac;
mod selector;
mod server;
mod store;
mod table;

pub use server::{Options, Sim, SimHandle, start, start_with};

#[cfg(test)]
mod tests;
