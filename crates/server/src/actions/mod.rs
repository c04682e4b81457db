//! What more than one front door does (management API, operator CLI, console), so each rule is
//! enforced in one place whatever the path.

pub mod admins;
pub mod clients;
pub mod invitations;
pub mod passkeys;
pub mod scim_tokens;
pub mod second_factor;
pub mod sign_in;
