//! Record text with its medical words explained: each glossary term becomes
//! a link to its entry on /glossary. Record pages render free text (a
//! problem's name, a consultation note, a result's comment) through
//! [`GlossaryText`].

use domain::glossary::{Segment, annotate};
use leptos::either::Either;
use leptos::prelude::*;

/// `text`, with every glossary term in it (whole words, longest first, any
/// case) a link to `/glossary#<slug>`. The link shows the term as written;
/// a screen reader hears "HbA1c (what this means)", so the link says where
/// it goes. One string per piece of text and no boxing: a long note costs
/// little more than the note itself.
#[component]
pub fn GlossaryText(#[prop(into)] text: String) -> impl IntoView {
    annotate(&text)
        .into_iter()
        .map(|segment| match segment {
            Segment::Plain(plain) => Either::Left(plain.to_owned()),
            Segment::Term { text, entry } => Either::Right(view! {
                <a class="portal-glossary-term" href=entry.href>
                    {text.to_owned()}
                    <span class="nhsuk-u-visually-hidden">" (what this means)"</span>
                </a>
            }),
        })
        .collect_view()
}

// HTML is rendered only with `ssr` (as `cargo test --workspace` builds it).
#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    fn render(text: &str) -> String {
        let text = text.to_owned();
        let owner = Owner::new();
        owner.with(|| view! { <GlossaryText text/> }.to_html())
    }

    #[test]
    fn terms_become_links_to_their_entries() {
        let html = render("HbA1c 48, take one tab bd");
        assert!(
            html.contains(r#"<a href="/glossary#hba1c" class="portal-glossary-term">HbA1c<span class="nhsuk-u-visually-hidden"> (what this means)</span></a>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"href="/glossary#tab" class="portal-glossary-term">tab<"#),
            "{html}"
        );
        assert!(
            html.contains(r#"href="/glossary#b-d" class="portal-glossary-term">bd<"#),
            "{html}"
        );
        assert!(html.contains(" 48, take one "), "{html}");
    }

    #[test]
    fn words_containing_a_term_stay_plain() {
        let html = render("Pain in the abdomen");
        assert!(!html.contains("<a"), "{html}");
        assert!(html.contains("Pain in the abdomen"), "{html}");
    }

    #[test]
    fn text_is_escaped() {
        let html = render("<script>BP</script>");
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains(r#"href="/glossary#bp" class="portal-glossary-term">BP<"#),
            "{html}"
        );
    }
}
