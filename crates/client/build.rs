//! Generates the client from `openapi.yaml` (progenitor), so it cannot fall behind the contract.

use std::path::Path;

fn main() {
    // The directory cargo runs this script for, read when it runs: a script binary built from
    // another checkout that shares the target directory must not read that checkout's contract.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let spec_path = Path::new(&manifest_dir).join("../../openapi.yaml");
    println!("cargo:rerun-if-changed={}", spec_path.display());
    let text = std::fs::read_to_string(&spec_path).expect("reading openapi.yaml");
    // Through serde_yaml's own value first, which refuses a duplicate key.
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("openapi.yaml is YAML");
    let json = serde_json::to_value(yaml).expect("openapi.yaml converts to JSON");
    let spec: openapiv3::OpenAPI =
        serde_json::from_value(json).expect("openapi.yaml is OpenAPI 3.0");
    let mut settings = progenitor::GenerationSettings::default();
    settings
        .with_interface(progenitor::InterfaceStyle::Builder)
        .with_tag(progenitor::TagStyle::Merged)
        .with_inner_type(quote::quote!(crate::Signer))
        // Bodies where `null` means something, which a generated type cannot tell from a field
        // left out: written by hand in lib.rs.
        .with_replacement(
            "UpdateThingRequest",
            "crate::UpdateThingRequest",
            std::iter::empty(),
        )
        .with_replacement(
            "ShadowUpdateRequest",
            "crate::ShadowUpdateRequest",
            std::iter::empty(),
        )
        .with_hooks(progenitor::HooksMode::Expected);
    let tokens = progenitor::Generator::new(&settings)
        .generate_tokens(&spec)
        .expect("progenitor generates a client from openapi.yaml");
    let file: syn::File = syn::parse2(tokens).expect("the generated client parses");
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR is set")).join("api.rs");
    std::fs::write(out, prettyplease::unparse(&file)).expect("writing the generated client");
}
