// `sqlx::migrate!` embeds the migration files at compile time, and cargo does not know it read
// them: without this, a new or edited migration is not built in until some Rust file changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
