//! Marks this crate's test binaries as running the shared contract suite on moto, so the suite
//! can name the cases moto cannot play (`#[cfg_attr(contract_on_moto, ignore = "...")]`).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(contract_on_moto)");
    println!("cargo::rustc-cfg=contract_on_moto");
}
