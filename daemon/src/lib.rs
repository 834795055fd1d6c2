pub mod cli;
pub mod plugins;
pub mod sandbox;
