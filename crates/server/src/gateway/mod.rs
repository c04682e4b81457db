//! What a resource server or reverse proxy asks: the live decision for a call, token
//! introspection, and the permission catalog that maps routes to permissions.

pub(crate) mod catalog;
pub mod catalog_file;
pub mod catalog_view;
pub(crate) mod decision;
pub(crate) mod introspection;
