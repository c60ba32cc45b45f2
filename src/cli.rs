//! Command-line interface (binary only): the top-level parser, the option groups several
//! commands share (AWS, policy, waiting, output), and turning a parse into an exit code. Each
//! command's own arguments live in its module under `commands/`. Every option is also an
//! `INSPECTOR_GATE_<NAME>` environment variable; flags beat env beat the policy file beat
//! built-in defaults.

use crate::commands;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use inspector_gate::error::EXIT_USAGE;
use inspector_gate::progress::{Progress, Verbosity};

#[derive(Parser, Debug)]
#[command(
    name = "inspector-gate",
    version,
    args_override_self = true,
    about = "Gate container deploys on Amazon Inspector's scan of exactly the image you push",
    long_about = "Push an image to Amazon ECR, wait for Amazon Inspector's enhanced scan of exactly that digest, apply a policy, and fail the CI step or approve/reject a CodePipeline manual approval.\n\nExit codes: 0 passed, 1 policy violated, 2 usage/configuration error, 3 inconclusive (timeout, unsupported image, not covered by enhanced scanning), 4 runtime error (AWS, registry, network, access denied)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Only print results and warnings.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print debug details (never secrets).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Colour output: auto (TTY and no NO_COLOR), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, env = "INSPECTOR_GATE_COLOR")]
    pub color: ColorChoice,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Push (optional), wait for the scan, evaluate, report, approve/reject, hand off; exit 0/1/2/3/4.
    Gate(Box<commands::gate::GateArgs>),
    /// Push an image to ECR and print its digest and digest-pinned URI.
    Push(commands::push::PushArgs),
    /// Wait for the scan and print the ACTIVE findings as JSON (no verdict).
    Findings(commands::findings::FindingsArgs),
    /// Apply the policy to a saved findings file or Inspector2 Scan event, offline.
    Evaluate(commands::evaluate::EvaluateArgs),
    /// Approve or reject a CodePipeline manual approval from a saved report.json.
    Approve(commands::approve::ApproveArgs),
    /// Write a commented .inspector-gate.toml.
    Init(commands::init::InitArgs),
    /// Show the effective policy and where each value came from.
    Config(commands::config::ConfigArgs),
    /// Scan locally without a push: catalogue the image's packages, ScanSbom, same policy and reports.
    Scan(Box<commands::scan::ScanArgs>),
    /// At deploy: check the signed decision (gate --attest) for a digest; exit 0/1/2/3/4 as gate.
    Verify(Box<commands::verify::VerifyArgs>),
    /// Install or remove a git pre-push hook that runs the gate.
    #[command(subcommand)]
    Hook(commands::hook::HookCommand),
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Run the parsed command; returns the exit code on success paths (0 or 1).
fn dispatch(cli: Cli, progress: Progress, color: bool) -> inspector_gate::error::Result<i32> {
    match cli.command {
        Command::Gate(args) => commands::gate::run(*args, progress, color),
        Command::Findings(args) => commands::findings::run(args, progress),
        Command::Evaluate(args) => commands::evaluate::run(args, &progress, color),
        Command::Init(args) => commands::init::run(args),
        Command::Config(args) => commands::config::run(args),
        Command::Hook(h) => commands::hook::run(h),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "inspector-gate", &mut std::io::stdout());
            Ok(0)
        }
        Command::Push(args) => commands::push::run(args, progress),
        Command::Approve(args) => commands::approve::run(args, progress),
        Command::Scan(args) => commands::scan::run(*args, progress, color),
        Command::Verify(args) => commands::verify::run(*args, progress),
    }
}

pub fn main() -> i32 {
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) if !e.use_stderr() => {
            // --help, --version: not errors.
            let _ = e.print();
            return 0;
        }
        Err(e) => return print_clap_error(&e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => return print_clap_error(&e),
    };
    let color = match cli.global.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            use std::io::IsTerminal;
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    };
    let verbosity = if cli.global.quiet {
        Verbosity::Quiet
    } else if cli.global.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let progress = Progress::new(verbosity, color, None);
    match dispatch(cli, progress, color) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", inspector_gate::sanitize::text(&e.to_string()));
            // The items the error line announces (e.g. each policy problem), one per line.
            for d in &e.details {
                eprintln!("  {}", inspector_gate::sanitize::text(d));
            }
            let mut cause = e.to_string();
            for d in &e.details {
                cause.push_str("; ");
                cause.push_str(d);
            }
            annotate(&cause);
            e.exit_code()
        }
    }
}

/// Put the cause of a failed run into the CI system's UI (GitHub's `::error`), on stderr.
fn annotate(cause: &str) {
    if let Some(line) =
        inspector_gate::ci::error_annotation(&inspector_gate::ci::process_env, cause)
    {
        eprint!("{line}");
    }
}

/// Print a clap usage error with its cause on the one `error:` line, and return exit code 2.
///
/// clap puts some causes on the lines after `error:` (the missing arguments, the possible
/// values); those are folded into the first line so that every error is one greppable line
/// naming the cause. The usage hint that follows is kept.
fn print_clap_error(e: &clap::Error) -> i32 {
    if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        // clap prints the bare help here, with no error line at all.
        eprint!(
            "error: a command is required: choose one of the commands below\n\n{}",
            e.render()
        );
        return EXIT_USAGE;
    }
    // The arguments clap quotes back may hold control characters: never echo them raw.
    let text = inspector_gate::sanitize::lines(&fold_first_paragraph(&e.render().to_string()));
    let text = if text.ends_with('\n') {
        text
    } else {
        text + "\n"
    };
    eprint!("{text}");
    if let Some(first) = text.lines().next() {
        annotate(first.trim_start_matches("error: "));
    }
    EXIT_USAGE
}

fn fold_first_paragraph(text: &str) -> String {
    let (head, rest) = text.split_once("\n\n").unwrap_or((text, ""));
    let head: Vec<&str> = head
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let head = head.join(" ");
    if rest.trim().is_empty() {
        format!("{head}\n")
    } else {
        format!("{head}\n\n{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_with_a_policy_takes_the_policy_arguments() {
        let cmd = Cli::command();
        for sub in ["gate", "evaluate", "config"] {
            let ids: Vec<String> = cmd
                .find_subcommand(sub)
                .unwrap()
                .get_arguments()
                .map(|a| a.get_id().to_string())
                .collect();
            for want in [
                "fail-on",
                "max-critical",
                "ignore-unfixed",
                "min-epss",
                "ignore",
                "suppressed",
                "scan-unread",
            ] {
                assert!(ids.iter().any(|i| i == want), "{sub} lacks {want}");
            }
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn clap_errors_name_their_cause_on_the_error_line() {
        let e = Cli::command()
            .try_get_matches_from([
                "inspector-gate",
                "gate",
                "--image-definitions",
                "f",
                "--image",
                "a:1",
            ])
            .unwrap_err();
        // The arguments clap quotes back may hold control characters: never echo them raw.
        let text = inspector_gate::sanitize::lines(&fold_first_paragraph(&e.render().to_string()));
        let text = if text.ends_with('\n') {
            text
        } else {
            text + "\n"
        };
        let first = text.lines().next().unwrap();
        assert!(
            first.starts_with("error:") && first.contains("--container-name"),
            "{text}"
        );
        assert_eq!(
            text.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{text}"
        );
        assert_eq!(fold_first_paragraph("error: x\n"), "error: x\n");
    }
}
