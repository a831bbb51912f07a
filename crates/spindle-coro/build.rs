//! Tells the code which sanitizer, if any, it is built for, on the stable
//! compiler (where `cfg(sanitize)` is not available to code).

fn main() {
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let from_cfg = std::env::var("CARGO_CFG_SANITIZE").unwrap_or_default();
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let on = |name: &str| {
        from_cfg.split(',').any(|s| s == name) || flags.contains(&format!("sanitizer={name}"))
    };
    if on("address") {
        println!("cargo::rustc-cfg=spindle_asan");
    }
    if on("thread") {
        println!("cargo::rustc-cfg=spindle_tsan");
    }
}
