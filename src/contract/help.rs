//! `-h`: usage text from the option table.

use crate::contract::metadata;
use crate::contract::option_set::Agent;

pub fn render(agent: &Agent) -> String {
    let mut s = format!(
        "{} - {}\n\nUsage:\n\t{} [options]\n\t{} < key=value lines on standard input\n\nOptions:\n",
        agent.name, agent.def.shortdesc, agent.name, agent.name
    );
    for spec in metadata::options_in_order(agent) {
        let mut text = spec.help.to_string();
        if !spec.choices.is_empty() {
            text.push_str(&format!(
                " (one of: {})",
                spec.accepted_choices().join(", ")
            ));
        }
        if let Some(d) = &spec.default {
            text.push_str(&format!(" (default: {d})"));
        }
        s.push_str(&format!("   {:<34} {}\n", spec.usage_form(), text));
    }
    s.push_str(&format!(
        "\nActions: {}\nOn standard input use the option names without dashes, e.g. {}=value.\n",
        agent.actions().join(", "),
        agent
            .options
            .iter()
            .find(|o| o.key == "action")
            .map(|_| "action")
            .unwrap_or("key")
    ));
    s
}
