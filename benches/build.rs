//! Links libspandsp when the `spandsp` feature is on.
fn main() {
    if std::env::var_os("CARGO_FEATURE_SPANDSP").is_some() {
        println!("cargo:rustc-link-lib=spandsp");
    }
}
