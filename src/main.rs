//! The `inspector-gate` binary: all logic lives in the library; see `cli`.

fn main() {
    std::process::exit(inspector_gate::cli::main());
}
