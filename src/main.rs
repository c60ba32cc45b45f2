//! The `inspector-gate` binary: the command line (`cli`, `commands`) over the clap-free
//! library, which holds every use case (`inspector_gate::pipeline`) and everything below it.

mod cli;
mod commands;

fn main() {
    std::process::exit(cli::main());
}
