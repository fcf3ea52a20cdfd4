//! One module per subcommand.

pub mod keygen;
pub mod prove;
pub mod seal;
pub mod serve;
pub mod verify;
