//! warroom: a terminal console for driving a production release live.

pub mod runbook;
pub mod sim;
pub mod action;
pub mod effect;
pub mod event;
pub mod journal;
pub mod layout;
pub mod state;
pub mod text;
pub mod ui;
pub mod update;
