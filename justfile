# fare's recipes. `just` itself: `pip install rust-just` (or `cargo install just`).

# Run every test: unit, service integration against a real moto, the kit's consumer loop.
test:
    cargo test --workspace

# Format and lint as CI does.
check:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
