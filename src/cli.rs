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
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = "Output"
    )]
    pub quiet: bool,
    /// Print debug details (never secrets).
    #[arg(short, long, global = true, help_heading = "Output")]
    pub verbose: bool,
    /// Colour: auto (a TTY and no NO_COLOR), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, env = "INSPECTOR_GATE_COLOR", value_name = "WHEN", help_heading = "Output")]
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
    /// Print the least-privilege IAM policy the given gate flags need (IAM JSON; no AWS call).
    IamPolicy(Box<commands::iam_policy::IamPolicyArgs>),
    /// Install or remove a git pre-push hook that runs the gate.
    #[command(subcommand)]
    Hook(commands::hook::HookCommand),
    /// Print shell completions.
    Completions {
        /// The shell to print completions for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Run the parsed command; returns the exit code on success paths (0 or 1).
fn dispatch(cli: Cli, progress: &Progress, color: bool) -> inspector_gate::error::Result<i32> {
    match cli.command {
        Command::Gate(args) => commands::gate::run(*args, progress, color),
        Command::Findings(args) => commands::findings::run(args, progress),
        Command::Evaluate(args) => commands::evaluate::run(args, progress, color),
        Command::Init(args) => commands::init::run(args),
        Command::Config(args) => commands::config::run(args),
        Command::Hook(h) => commands::hook::run(h),
        Command::Completions { shell } => {
            let mut cmd = command();
            clap_complete::generate(shell, &mut cmd, "inspector-gate", &mut std::io::stdout());
            Ok(0)
        }
        Command::Push(args) => commands::push::run(args, progress),
        Command::Approve(args) => commands::approve::run(args, progress),
        Command::Scan(args) => commands::scan::run(*args, progress, color),
        Command::Verify(args) => commands::verify::run(*args, progress),
        Command::IamPolicy(args) => commands::iam_policy::run(*args),
    }
}

/// The command line as users see it: the derived parser with its help made readable
/// ([`decorate`]).
pub fn command() -> clap::Command {
    decorate(Cli::command())
}

/// Make `-h` one line per flag and `--help` the whole story: every argument's help is cut to
/// its first clause for `-h` (`--help` keeps all of it), and the environment variable moves
/// from `-h` into `--help`. Applied to every subcommand.
fn decorate(cmd: clap::Command) -> clap::Command {
    let cmd = cmd.mut_args(|a| {
        let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
        let long = a
            .get_long_help()
            .map(|h| h.to_string())
            .unwrap_or_else(|| help.clone());
        let env = a
            .get_env()
            .filter(|_| !a.is_hide_env_set())
            .map(|e| e.to_string_lossy().into_owned());
        if help.is_empty() {
            return a;
        }
        let short = summary(&help).to_string();
        let long = match env {
            Some(env) => format!("{long}\n[env: {env}]"),
            None => long,
        };
        let a = if names_its_values(&short, &a) {
            a.hide_possible_values(true)
        } else {
            a
        };
        if short == long {
            a.help(short)
        } else {
            a.help(short).long_help(long).hide_env(true)
        }
    });
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    names
        .into_iter()
        .fold(cmd, |cmd, name| cmd.mut_subcommand(name, decorate))
}

/// The first clause of a help text: up to its first `; ` or sentence end outside
/// parentheses (not the end of an "e.g."/"i.e."), without the period.
fn summary(help: &str) -> &str {
    let line = help.lines().next().unwrap_or_default();
    let mut depth = 0i32;
    let mut cut = line.len();
    for (i, c) in line.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ';' | '.' if depth <= 0 && line[i + 1..].starts_with(' ') => {
                let before = &line[..i];
                if !(before.ends_with("e.g") || before.ends_with("i.e")) {
                    cut = i;
                    break;
                }
            }
            _ => {}
        }
    }
    line[..cut].trim_end_matches('.').trim_end()
}

/// Whether a help text already names every one of the argument's possible values (then
/// `-h` need not list them again).
fn names_its_values(help: &str, arg: &clap::Arg) -> bool {
    let values = arg.get_possible_values();
    !values.is_empty()
        && values.iter().all(|v| {
            help.split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
                .any(|w| w == v.get_name())
        })
}

/// The display columns the table on stdout is laid out for: COLUMNS when it is a number,
/// else the terminal's width when stdout is one, else 80 (a CI log, a file, a pipe).
pub fn stdout_width() -> usize {
    let columns = std::env::var("COLUMNS").ok();
    let tty = || terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0));
    width_from(columns.as_deref(), tty)
}

/// [`stdout_width`] given COLUMNS and the terminal's width (when asked).
fn width_from(columns: Option<&str>, tty: impl FnOnce() -> Option<usize>) -> usize {
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0)
        .or_else(tty)
        .filter(|&c| c > 0)
        .unwrap_or(inspector_gate::report::table::Layout::DEFAULT_WIDTH)
}

pub fn main() -> i32 {
    let matches = match command().try_get_matches() {
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
    let progress = std::sync::Arc::new(Progress::new(verbosity, color, None));
    // Retried AWS calls are told as they happen (every one with -v; a call still failing at
    // its fourth retry also without), so a wait on an unreachable or failing endpoint is
    // never silent until --timeout. Through the run's own sink: on a terminal the line goes
    // above the spinner and the upload bars instead of through them.
    let retries = std::sync::Arc::clone(&progress);
    inspector_gate::retry::on_retry(move |what, attempt, delay| {
        let msg = format!(
            "{what}; retry {attempt} in {:.1}s (until --timeout)",
            delay.as_secs_f64()
        );
        if attempt == STILL_FAILING {
            retries.info(&msg);
        } else {
            retries.debug(&msg);
        }
    });
    match dispatch(cli, &progress, color) {
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
    let text = match habit_hint(e) {
        Some((arg, hint)) => {
            // clap's tip and usage would point at the look-alike flag (`--ignore`): not kept.
            let arg = inspector_gate::sanitize::text(arg);
            format!("error: unexpected argument '{arg}': {hint}\n\nFor more information, try '--help'.\n")
        }
        None => text,
    };
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

/// The flags other scanners' users type by habit, and what this tool does instead.
/// The retry of one call that is told without `-v`: by then (about 8 s on the call schedule,
/// or four throttles in a row) a failure is no longer a blip.
const STILL_FAILING: u32 = 4;

const HABITS: &[(&str, &str)] = &[
    (
        "--severity",
        "this tool gates on counts: --fail-on SEVERITY fails on that severity or worse, --max-<severity> N allows N",
    ),
    (
        "--exit-code",
        "the exit code is fixed: 1 when the policy is violated, 0 when it passes (--soft-fail reports a violation and exits 0)",
    ),
    (
        "--ignorefile",
        "ignore rules live in the policy file, as [[ignore]] with id, reason and expires (`inspector-gate init` writes one), or --ignore ID",
    ),
    (
        "--ignore-policy",
        "ignore rules live in the policy file, as [[ignore]] with id, reason and expires (`inspector-gate init` writes one)",
    ),
];

/// The hint for an unknown argument that another scanner has (`--severity HIGH` from trivy).
fn habit_hint(e: &clap::Error) -> Option<(&str, &'static str)> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let flag = arg.split('=').next().unwrap_or_default();
    HABITS
        .iter()
        .find(|(f, _)| *f == flag)
        .map(|(_, hint)| (arg.as_str(), *hint))
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
    fn the_table_width_is_columns_then_the_terminal_then_80() {
        assert_eq!(width_from(Some("132"), || Some(100)), 132);
        assert_eq!(width_from(Some(" 132 "), || None), 132);
        // Not a number, or 0: the terminal decides, else 80.
        assert_eq!(width_from(Some("wide"), || Some(100)), 100);
        assert_eq!(width_from(Some("0"), || None), 80);
        assert_eq!(width_from(None, || Some(200)), 200);
        assert_eq!(width_from(None, || None), 80);
    }

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
        command().debug_assert();
    }

    /// Every argument of every command (but clap's own help/version) says what it is for.
    #[test]
    fn every_argument_is_documented() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if !matches!(id, "help" | "version") && a.get_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for s in cmd.get_subcommands() {
                walk(s, &format!("{path} {}", s.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&command(), "inspector-gate", &mut missing);
        assert!(missing.is_empty(), "undocumented: {missing:?}");
    }

    /// `-h` is one line per flag (a heading's flags go on two lines only when one of them
    /// does not fit); `--help` tells the whole story.
    #[test]
    fn short_help_is_short_and_long_help_is_long() {
        let mut cmd = command();
        cmd.build();
        let gate = cmd.find_subcommand_mut("gate").unwrap();
        let short = gate.render_help().to_string();
        let long = gate.render_long_help().to_string();
        let flags = gate
            .get_arguments()
            .filter(|a| a.get_long().is_some())
            .count();
        assert!(
            short.lines().count() < flags + 40,
            "{} lines for {flags} flags:\n{short}",
            short.lines().count()
        );
        assert!(long.lines().count() > 2 * flags, "{long}");
        for heading in [
            "Image and push:",
            "Policy:",
            "Waiting:",
            "Reports:",
            "Approval and hand-off:",
            "Baseline:",
            "AWS:",
            "Output:",
            "Examples:",
        ] {
            assert!(short.contains(heading), "-h lacks {heading}");
        }
        assert!(long.contains("[env: INSPECTOR_GATE_TIMEOUT]"), "{long}");
        assert!(!short.contains("[env:"), "{short}");
    }

    #[test]
    fn summary_is_the_first_clause() {
        assert_eq!(summary("Fail on X (= max 0). More."), "Fail on X (= max 0)");
        assert_eq!(summary("Count only A; B still count."), "Count only A");
        assert_eq!(summary("One line."), "One line");
        assert_eq!(summary("Wait (e.g. 30m). More"), "Wait (e.g. 30m)");
        assert_eq!(summary("First line\nsecond"), "First line");
        assert_eq!(
            summary("Image (repeatable; concurrently). More"),
            "Image (repeatable; concurrently)"
        );
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
