//! "Did you mean": the known name closest to a mistyped one, by edit
//! distance (optimal string alignment: `fial` for `fail` is one edit, as typed), for error messages that say what was meant (manifests,
//! scenarios, provider states, unknown fields).

/// The name in `known` closest to `given`, if it is close enough to be a
/// typo of it: at most a third of its length apart (at least one edit).
pub fn closest<'a>(given: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let bound = (given.chars().count() / 3).max(1);
    known
        .into_iter()
        .filter(|k| *k != given)
        .map(|k| (strsim::osa_distance(&given.to_lowercase(), &k.to_lowercase()), k))
        .filter(|(d, _)| *d <= bound)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// `"; did you mean `x`?"` when a known name is close to `given`, else `""`:
/// ready to append to a message.
pub fn did_you_mean<'a>(given: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    closest(given, known).map(|k| format!("; did you mean `{k}`?")).unwrap_or_default()
}

/// For names made from templates with one-word placeholders (provider
/// states such as `user U exists`): the template closest to `given` once
/// each placeholder takes the word `given` has in its place, written as the
/// template. `"; did you mean `user U exists`?"`, or `""`.
pub fn did_you_mean_template(given: &str, templates: &[&str], placeholder: fn(&str) -> bool) -> String {
    let words: Vec<&str> = given.split_whitespace().collect();
    let filled: Vec<(String, &str)> = templates
        .iter()
        .map(|t| {
            let parts: Vec<&str> = t.split_whitespace().collect();
            let same_shape = parts.len() == words.len();
            let text = parts
                .iter()
                .zip(&words)
                .map(|(p, w)| if same_shape && placeholder(p) { *w } else { *p })
                .collect::<Vec<_>>()
                .join(" ");
            (if same_shape { text } else { t.to_string() }, *t)
        })
        .collect();
    closest(given, filled.iter().map(|(f, _)| f.as_str()))
        .and_then(|f| filled.iter().find(|(g, _)| g == f))
        .map(|(_, t)| format!("; did you mean `{t}`?"))
        .unwrap_or_default()
}

/// The same hint for serde's own messages (`unknown field `x`, expected one
/// of `a`, `b``, and likewise for variants), which list the known names.
pub fn for_serde_message(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `").or_else(|| message.strip_prefix("unknown variant `"))
    else {
        return String::new();
    };
    let Some((given, expected)) = rest.split_once('`') else { return String::new() };
    let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    did_you_mean(given, known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_finds_what_was_meant_and_a_stranger_finds_nothing() {
        assert_eq!(closest("fial", ["fail", "fall"]), Some("fail"), "a swap of neighbours is one edit");
        let events = ["device.allocated", "device.allocation_failed", "order.placed"];
        assert_eq!(closest("device.alocated", events), Some("device.allocated"));
        assert_eq!(closest("Order.Placed", events), Some("order.placed"));
        assert_eq!(closest("invoice.issued", events), None);
        assert_eq!(closest("order.placed", events), None, "a known name is no typo");
        assert_eq!(did_you_mean("shop", ["store", "users"]), "");
        assert_eq!(did_you_mean("stor", ["store", "users"]), "; did you mean `store`?");
    }

    #[test]
    fn a_template_is_suggested_with_the_words_given_in_its_places() {
        let states = ["user U exists", "user U has a valid session token T", "no user U exists"];
        let placeholder = |w: &str| w == "U" || w == "T";
        assert_eq!(
            did_you_mean_template("user 0f3c9a7e-long-id has a valid sesion token 5e1f", &states, placeholder),
            "; did you mean `user U has a valid session token T`?"
        );
        assert_eq!(
            did_you_mean_template("no usr u-1 exists", &states, placeholder),
            "; did you mean `no user U exists`?"
        );
        assert_eq!(did_you_mean_template("the token was revoked", &states, placeholder), "");
    }

    #[test]
    fn serdes_messages_name_the_field_meant() {
        let m = "unknown field `listenz`, expected one of `name`, `description`, `listens`";
        assert_eq!(for_serde_message(m), "; did you mean `listens`?");
        assert_eq!(for_serde_message("unknown variant `fial`, expected `fail` or `crash`"), "; did you mean `fail`?");
        assert_eq!(for_serde_message("invalid type: string, expected u16"), "");
    }
}
