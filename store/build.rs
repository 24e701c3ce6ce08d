// `sqlx::migrate!` embeds the migration files with `include_str!`, which only makes Cargo watch
// files that already exist: a new migration would not trigger a rebuild without this.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
