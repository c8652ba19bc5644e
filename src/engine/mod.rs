//! Queue operations made of several statements, shared by the SQL functions (src/api/) and
//! the background worker (src/worker/).

pub mod failure;
pub mod keys;
pub mod promotion;
pub mod recovery;
pub mod retention;
pub mod routing;
pub mod sampling;
pub mod topics;
