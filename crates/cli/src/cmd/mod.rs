//! One module per subcommand.

pub mod eval;
pub mod feedback;
pub mod keygen;
pub mod prove;
pub mod run;
pub mod seal;
pub mod serve;
pub mod verify;
