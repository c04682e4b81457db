//! Several stateless nodes on one PostgreSQL (issue #4): placeholder until the multi-node tests land.
