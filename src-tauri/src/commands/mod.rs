//! Tauri commands, one module per domain; each is a few lines over the engine.

pub mod app;
