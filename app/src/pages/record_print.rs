//! `/record/print`: the summary of the patient's GP record on one page to
//! print and take to an appointment (or to show a pharmacist, or abroad).
//! Who it is for (name, date of birth, NHS number, practice), then the
//! allergies, current medicines and active health problems as tables.
//! The print styles (style/portal.css, `.portal-print-summary`) drop the
//! header, footer and links; the words stay plain text, so nothing on
//! paper depends on a link.

use crate::components::{BackLink, PrintButton, ProblemPanel, long_date, long_date_time};
use crate::pages::record::{RecordTitle, own_patient, status_label};
use crate::record_api::{Online, PrintableSummary, record_printable};
use domain::gp_record::{EntryDetails, EntryStatus, MedicineKind, RecordEntry, Section};
use leptos::prelude::*;
use leptos_meta::Title;

/// "12 March 2024, by Dr A Patel": when and by whom an entry was recorded.
fn recorded(entry: &RecordEntry) -> String {
    let on = long_date(entry.provenance.recorded_on);
    match &entry.provenance.recorded_by {
        Some(by) => format!("{on}, by {by}"),
        None => on,
    }
}

fn current(entries: &[RecordEntry], section: Section) -> Vec<RecordEntry> {
    entries
        .iter()
        .filter(|e| e.section == section && e.status == EntryStatus::Active)
        .cloned()
        .collect()
}

/// One table of the summary, or a sentence saying nothing is recorded.
#[component]
fn SummaryTable(
    caption: &'static str,
    empty: &'static str,
    headers: &'static [&'static str],
    rows: Vec<Vec<String>>,
) -> impl IntoView {
    if rows.is_empty() {
        return view! {
            <h2 class="nhsuk-heading-m">{caption}</h2>
            <p>{empty}</p>
        }
        .into_any();
    }
    view! {
        <table class="nhsuk-table portal-print-summary__table">
            <caption class="nhsuk-table__caption nhsuk-table__caption--m">{caption}</caption>
            <thead class="nhsuk-table__head">
                <tr class="nhsuk-table__row">
                    {headers.iter().map(|h| view! { <th class="nhsuk-table__header" scope="col">{*h}</th> }).collect_view()}
                </tr>
            </thead>
            <tbody class="nhsuk-table__body">
                {rows.into_iter().map(|cells| view! {
                    <tr class="nhsuk-table__row">
                        {cells.into_iter().map(|text| view! { <td class="nhsuk-table__cell"><RecordTitle text/></td> }).collect_view()}
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

fn allergy_rows(entries: &[RecordEntry]) -> Vec<Vec<String>> {
    current(entries, Section::Allergies)
        .into_iter()
        .map(|e| {
            let reaction = match &e.details {
                EntryDetails::Allergy { reactions, .. } if !reactions.is_empty() => {
                    reactions.join(", ")
                }
                _ => "Not recorded".to_owned(),
            };
            let since = e
                .date
                .map(long_date)
                .unwrap_or_else(|| "Not recorded".to_owned());
            vec![e.title.clone(), reaction, since, recorded(&e)]
        })
        .collect()
}

fn medicine_rows(entries: &[RecordEntry], wanted: MedicineKind) -> Vec<Vec<String>> {
    current(entries, Section::Medicines)
        .into_iter()
        .filter_map(|e| match &e.details {
            EntryDetails::Medicine {
                kind,
                dose,
                last_issued,
            } if *kind == wanted => Some(vec![
                e.title.clone(),
                dose.clone().unwrap_or_else(|| "Not recorded".to_owned()),
                last_issued
                    .map(long_date)
                    .unwrap_or_else(|| "Not recorded".to_owned()),
                recorded(&e),
            ]),
            _ => None,
        })
        .collect()
}

fn problem_rows(entries: &[RecordEntry]) -> Vec<Vec<String>> {
    current(entries, Section::Problems)
        .into_iter()
        .map(|e| {
            let since = e
                .date
                .map(long_date)
                .unwrap_or_else(|| "Not recorded".to_owned());
            vec![
                e.title.clone(),
                since,
                status_label(e.section, e.status).to_owned(),
                recorded(&e),
            ]
        })
        .collect()
}

#[component]
fn Printable(summary: PrintableSummary) -> impl IntoView {
    let p = summary.patient;
    let nhs_number = p
        .nhs_number
        .map(|n| n.formatted())
        .unwrap_or_else(|| "Not yet assigned".to_owned());
    let updated = summary
        .entries
        .iter()
        .map(|e| e.provenance.fetched_at)
        .max()
        .map(long_date_time);
    let entries = summary.entries;
    view! {
        <article class="portal-print-summary">
            <h1>"Summary of your GP record"</h1>
            <dl class="nhsuk-summary-list portal-print-summary__patient">
                <div class="nhsuk-summary-list__row">
                    <dt class="nhsuk-summary-list__key">"Name"</dt>
                    <dd class="nhsuk-summary-list__value">{format!("{} {}", p.given_name, p.family_name)}</dd>
                </div>
                <div class="nhsuk-summary-list__row">
                    <dt class="nhsuk-summary-list__key">"Date of birth"</dt>
                    <dd class="nhsuk-summary-list__value">{long_date(p.date_of_birth)}</dd>
                </div>
                <div class="nhsuk-summary-list__row">
                    <dt class="nhsuk-summary-list__key">"NHS number"</dt>
                    <dd class="nhsuk-summary-list__value">{nhs_number}</dd>
                </div>
                <div class="nhsuk-summary-list__row">
                    <dt class="nhsuk-summary-list__key">"GP practice"</dt>
                    <dd class="nhsuk-summary-list__value">{format!("{} (ODS code {})", p.practice_name, p.practice_ods_code)}</dd>
                </div>
            </dl>
            <p class="nhsuk-body-s">
                {format!("Printed on {} from your online GP record. ", long_date_time(summary.printed_at))}
                {updated.map(|u| format!("Last updated from your practice on {u}. "))}
                "It shows your allergies, the medicines you take now and your health problems, as your GP practice recorded them."
            </p>
            <SummaryTable
                caption="Allergies and adverse reactions"
                empty="No allergies or adverse reactions are recorded."
                headers=&["Allergy or reaction", "What happens", "Since", "Recorded"]
                rows=allergy_rows(&entries)/>
            <SummaryTable
                caption="Repeat medicines"
                empty="No current repeat medicines are recorded."
                headers=&["Medicine", "How to take it", "Last issued", "Recorded"]
                rows=medicine_rows(&entries, MedicineKind::Repeat)/>
            <SummaryTable
                caption="Acute (one-off) medicines"
                empty="No current acute medicines are recorded."
                headers=&["Medicine", "How to take it", "Last issued", "Recorded"]
                rows=medicine_rows(&entries, MedicineKind::Acute)/>
            <SummaryTable
                caption="Health problems"
                empty="No active health problems are recorded."
                headers=&["Problem", "Since", "Status", "Recorded"]
                rows=problem_rows(&entries)/>
            <p class="nhsuk-body-s">"If something here looks wrong, tell your GP practice."</p>
        </article>
    }
}

#[component]
pub fn RecordPrintPage() -> impl IntoView {
    let summary = Resource::new(
        || (),
        |_| async move { record_printable(own_patient().await?).await },
    );
    view! {
        <Title text="Summary of your GP record to print"/>
        <div class="portal-no-print">
            <BackLink href="/record" text="Back to your GP record"/>
        </div>
        <Suspense>
            {move || Suspend::new(async move {
                match summary.await {
                    Ok(Online::Shown(summary)) => view! {
                        <div class="portal-no-print">
                            <p>"Print this page to take it to an appointment. It holds your name, date of birth and NHS number: keep it safe."</p>
                            <PrintButton label="Print this page"/>
                            <p class="nhsuk-body-s">"Or use your browser's print option (for example, Ctrl and P)."</p>
                        </div>
                        <Printable summary/>
                    }.into_any(),
                    Ok(Online::NotOnline(_)) => view! {
                        <h1>"Summary of your GP record"</h1>
                        <p>"Your GP practice has not made your record available online. Contact your GP practice."</p>
                    }.into_any(),
                    Err(error) => view! { <ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
