pub mod challenges;
pub mod cli;
pub mod judge;
pub mod sandbox;
