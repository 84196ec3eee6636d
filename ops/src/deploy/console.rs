//! Questions to the user and lines for them: the terminal, or a scripted console in tests.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::bail;

/// Questions to the user and lines for them.
pub trait Console {
    fn say(&mut self, line: &str);
    fn confirm(&mut self, question: &str) -> anyhow::Result<bool>;
}

/// The user's terminal: lines to standard output, answers from standard input.
pub(super) struct Terminal;

impl Console for Terminal {
    fn say(&mut self, line: &str) {
        println!("{line}");
    }

    fn confirm(&mut self, question: &str) -> anyhow::Result<bool> {
        if !std::io::stdin().is_terminal() {
            bail!("{question} Standard input is not a terminal, so nobody can answer: pass --yes to go ahead without asking");
        }
        print!("{question} [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        Ok(matches!(
            answer.trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        ))
    }
}
