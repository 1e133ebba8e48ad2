//! `-o metadata`: the XML Pacemaker, pcs and crmsh read (fence-agents protocol §4).
//!
//! Same elements, attributes, parameter order, deprecated/obsoletes pairs, content
//! types, defaults and actions as fence-agents 4.12.1; descriptions are ours.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use crate::contract::option_set::Agent;
use crate::contract::options::OptSpec;

/// One `<parameter>`: an option under one of its names.
pub struct Parameter<'a> {
    pub name: String,
    pub spec: &'a OptSpec,
    pub deprecated: bool,
    pub obsoletes: Option<&'a str>,
}

/// The parameters in metadata order: sorted by (order, name); options whose internal key
/// differs from their long name appear twice, the old key marked deprecated.
pub fn parameters(agent: &Agent) -> Vec<Parameter<'_>> {
    let mut v = Vec::new();
    for o in &agent.options {
        if o.help.is_empty() {
            continue;
        }
        if o.has_deprecated_alias() {
            v.push(Parameter {
                name: o.key.to_string(),
                spec: o,
                deprecated: true,
                obsoletes: None,
            });
            v.push(Parameter {
                name: o.canonical_name(),
                spec: o,
                deprecated: false,
                obsoletes: Some(&o.key),
            });
        } else {
            v.push(Parameter {
                name: o.key.to_string(),
                spec: o,
                deprecated: false,
                obsoletes: None,
            });
        }
    }
    v.sort_by(|a, b| (a.spec.order, &a.name).cmp(&(b.spec.order, &b.name)));
    v
}

/// Every option once, in metadata order (for help and the man page).
pub fn options_in_order(agent: &Agent) -> Vec<&OptSpec> {
    let mut out: Vec<&OptSpec> = Vec::new();
    for p in parameters(agent) {
        if !out.iter().any(|o| o.key == p.spec.key) {
            out.push(p.spec);
        }
    }
    out
}

struct Xml {
    w: Writer<Vec<u8>>,
}

impl Xml {
    fn raw(&mut self, s: &str) {
        // Whitespace between elements only: nothing here needs escaping.
        let _ = self.w.write_event(Event::Text(BytesText::from_escaped(s)));
    }
    fn start(&mut self, indent: usize, name: &str, attrs: &[(&str, &str)]) {
        self.raw(&"\t".repeat(indent));
        let e = BytesStart::new(name).with_attributes(attrs.iter().copied());
        let _ = self.w.write_event(Event::Start(e));
    }
    fn empty(&mut self, indent: usize, name: &str, attrs: &[(&str, &str)]) {
        self.raw(&"\t".repeat(indent));
        let e = BytesStart::new(name).with_attributes(attrs.iter().copied());
        let _ = self.w.write_event(Event::Empty(e));
        self.raw("\n");
    }
    fn end(&mut self, indent: usize, name: &str) {
        self.raw(&"\t".repeat(indent));
        let _ = self.w.write_event(Event::End(BytesEnd::new(name)));
        self.raw("\n");
    }
    fn text_element(&mut self, indent: usize, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start(indent, name, attrs);
        let _ = self.w.write_event(Event::Text(BytesText::new(text)));
        let _ = self.w.write_event(Event::End(BytesEnd::new(name)));
        self.raw("\n");
    }
}

/// The metadata document of `agent`, as invoked.
pub fn render(agent: &Agent) -> String {
    let mut x = Xml {
        w: Writer::new(Vec::new()),
    };
    let _ =
        x.w.write_event(Event::Decl(BytesDecl::new("1.0", None, None)));
    x.raw("\n");
    x.start(
        0,
        "resource-agent",
        &[("name", &agent.name), ("shortdesc", &agent.def.shortdesc)],
    );
    x.raw("\n");
    for s in agent.symlinks() {
        x.empty(
            0,
            "symlink",
            &[("name", &s.name), ("shortdesc", &s.shortdesc)],
        );
    }
    x.text_element(0, "longdesc", &[], &agent.def.longdesc);
    x.text_element(0, "vendor-url", &[], &agent.def.vendor_url);
    x.start(0, "parameters", &[]);
    x.raw("\n");
    for p in parameters(agent) {
        write_parameter(&mut x, &p);
    }
    x.end(0, "parameters");
    write_actions(&mut x, agent);
    x.end(0, "resource-agent");
    String::from_utf8_lossy(&x.w.into_inner()).into_owned()
}

/// One `<parameter>`: its names, how it is given, its content type, default and choices.
fn write_parameter(x: &mut Xml, p: &Parameter<'_>) {
    let required = if p.spec.required { "1" } else { "0" };
    let mut attrs = vec![
        ("name", p.name.as_str()),
        ("unique", "0"),
        ("required", required),
    ];
    if p.deprecated {
        attrs.push(("deprecated", "1"));
    }
    if let Some(old) = p.obsoletes {
        attrs.push(("obsoletes", old));
    }
    x.start(1, "parameter", &attrs);
    x.raw("\n");
    let mixed = p.spec.usage_form();
    x.empty(2, "getopt", &[("mixed", &mixed)]);
    let mut content = vec![("type", p.spec.content_type())];
    if let Some(d) = &p.spec.default {
        content.push(("default", d));
    }
    if p.spec.choices.is_empty() {
        x.empty(2, "content", &content);
    } else {
        x.start(2, "content", &content);
        x.raw("\n");
        for c in p.spec.choices.iter() {
            x.empty(3, "option", &[("value", c)]);
        }
        x.end(2, "content");
    }
    x.text_element(2, "shortdesc", &[("lang", "en")], &p.spec.help);
    x.end(1, "parameter");
}

/// `<actions>`; `on` carries whether it is automatic (fabric agents) and on_target.
fn write_actions(x: &mut Xml, agent: &Agent) {
    x.start(0, "actions", &[]);
    x.raw("\n");
    for a in agent.actions() {
        if a == "on" {
            let automatic = if agent.is_fabric() { "1" } else { "0" };
            let mut attrs = vec![("name", "on")];
            if agent.has("on_target") {
                attrs.push(("on_target", "1"));
            }
            attrs.push(("automatic", automatic));
            x.empty(1, "action", &attrs);
        } else {
            x.empty(1, "action", &[("name", a)]);
        }
    }
    x.end(0, "actions");
}
