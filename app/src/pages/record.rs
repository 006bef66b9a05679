//! The patient's GP record: the summary (`/record`), each section
//! (`/record/:section`, paged, with a date filter that is a plain GET
//! form) and one document (`/record/documents/:id`). Every entry shows
//! where it came from and, under "Technical details", its codes.
//! All clinical free text goes through [`RecordText`].

use crate::CurrentUser;
use crate::components::{
    BackLink, DateInput, ErrorSummary, ProblemPanel, long_date, long_date_time,
};
use crate::error::PortalError;
use crate::glossary_text::GlossaryText;
use crate::record_api::{Online, record_document, record_section, record_summary};
use domain::PatientId;
use domain::forms::FormFeedback;
use domain::gp_record::{
    AccessLevel, Code, DateFilterForm, EntryDetails, EntryId, EntryStatus, MedicineKind,
    RecordEntry, ResultGroup, Section, check_date_filter, group_results,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// Clinical words from the record (entry names, notes, doses, letters).
/// One place, so they can be explained (the jargon glossary) in one place.
/// Headings stay plain text: a link inside a heading would make the
/// heading's name "Penicillin (what this means) allergy" for a screen
/// reader, and the same words are explained in the entry below.
#[component]
pub fn RecordTitle(#[prop(into)] text: String) -> impl IntoView {
    view! { <span class="portal-record-text">{text}</span> }
}

#[component]
pub fn RecordText(#[prop(into)] text: String) -> impl IntoView {
    view! { <span class="portal-record-text"><GlossaryText text/></span> }
}

pub(crate) async fn own_patient() -> Result<PatientId, PortalError> {
    let user = expect_context::<CurrentUser>().0.await?;
    user.and_then(|u| u.patient).ok_or(PortalError::Forbidden)
}

#[component]
fn Row(key: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="nhsuk-summary-list__row">
            <dt class="nhsuk-summary-list__key">{key}</dt>
            <dd class="nhsuk-summary-list__value">{children()}</dd>
        </div>
    }
}

pub(crate) fn status_label(section: Section, status: EntryStatus) -> &'static str {
    match (section, status) {
        (Section::Medicines, EntryStatus::Active) => "Current",
        (Section::Allergies, EntryStatus::Past) => "No longer active",
        (_, EntryStatus::Active) => "Active",
        (_, EntryStatus::Past) => "Past",
    }
}

/// Codes, shown on demand.
#[component]
fn TechnicalDetails(codes: Vec<Code>) -> impl IntoView {
    view! {
        <details class="nhsuk-details">
            <summary class="nhsuk-details__summary">
                <span class="nhsuk-details__summary-text">"Technical details"</span>
            </summary>
            <div class="nhsuk-details__text">
                {if codes.is_empty() {
                    view! { <p>"This entry has no codes."</p> }.into_any()
                } else {
                    view! {
                        <p>"The codes your practice's system uses for this entry."</p>
                        <dl class="nhsuk-summary-list">
                            {codes.into_iter().map(|c| {
                                let system = c.system_name();
                                view! {
                                    <div class="nhsuk-summary-list__row">
                                        <dt class="nhsuk-summary-list__key">{system}</dt>
                                        <dd class="nhsuk-summary-list__value">
                                            <span class="portal-record-code">{c.code}</span>
                                            {c.display.map(|d| view! { <br/><RecordText text=d/> })}
                                            <br/><span class="nhsuk-body-s">{c.system}</span>
                                        </dd>
                                    </div>
                                }
                            }).collect_view()}
                        </dl>
                    }.into_any()
                }}
            </div>
        </details>
    }
}

/// Where the entry came from and how fresh it is.
fn provenance_rows(entry: &RecordEntry) -> impl IntoView + use<> {
    let p = entry.provenance.clone();
    view! {
        <Row key="Recorded">{long_date(p.recorded_on)}</Row>
        {p.recorded_by.map(|by| view! { <Row key="Recorded by">{by}</Row> })}
        <Row key="Source">{p.source_system}</Row>
        <Row key="Last updated from your practice">{long_date_time(p.fetched_at)}</Row>
    }
}

fn details_rows(entry: &RecordEntry) -> AnyView {
    let section = entry.section;
    let status = status_label(section, entry.status);
    let date = entry.date.map(long_date);
    match entry.details.clone() {
        EntryDetails::Allergy {
            kind,
            category,
            criticality,
            reactions,
        } => view! {
            {kind.map(|k| view! { <Row key="Type"><RecordText text=k/></Row> })}
            {category.map(|k| view! { <Row key="Caused by"><RecordText text=k/></Row> })}
            {(!reactions.is_empty()).then(|| view! { <Row key="Reaction"><RecordText text=reactions.join(", ")/></Row> })}
            {criticality.map(|k| view! { <Row key="Risk of a severe reaction"><RecordText text=k/></Row> })}
            {date.map(|d| view! { <Row key="Since">{d}</Row> })}
            <Row key="Status">{status}</Row>
        }
        .into_any(),
        EntryDetails::Medicine {
            kind,
            dose,
            last_issued,
        } => view! {
            <Row key="Type">{kind.label()}</Row>
            {dose.map(|d| view! { <Row key="How to take it"><RecordText text=d/></Row> })}
            {last_issued.map(|d| view! { <Row key="Last issued">{long_date(d)}</Row> })}
            <Row key="Status">{status}</Row>
        }
        .into_any(),
        EntryDetails::Problem { ended } => view! {
            {date.map(|d| view! { <Row key="Started">{d}</Row> })}
            {ended.map(|d| view! { <Row key="Ended">{long_date(d)}</Row> })}
            <Row key="Status">{status}</Row>
        }
        .into_any(),
        EntryDetails::Immunisation { dose_number } => view! {
            {date.map(|d| view! { <Row key="Given on">{d}</Row> })}
            {dose_number.map(|n| view! { <Row key="Dose">{n}</Row> })}
        }
        .into_any(),
        EntryDetails::Consultation {
            kind,
            reason,
            clinician,
        } => view! {
            {date.map(|d| view! { <Row key="Date">{d}</Row> })}
            {kind.map(|k| view! { <Row key="Kind"><RecordText text=k/></Row> })}
            {reason.map(|r| view! { <Row key="Reason"><RecordText text=r/></Row> })}
            {clinician.map(|c| view! { <Row key="Seen by">{c}</Row> })}
        }
        .into_any(),
        EntryDetails::Document { kind, .. } => view! {
            {date.map(|d| view! { <Row key="Date">{d}</Row> })}
            {kind.map(|k| view! { <Row key="Kind"><RecordText text=k/></Row> })}
        }
        .into_any(),
        EntryDetails::TestResult { .. } => view! {
            {date.map(|d| view! { <Row key="Date">{d}</Row> })}
        }
        .into_any(),
    }
}

/// One entry: its name, what its section adds, provenance and codes.
#[component]
fn EntryCard(entry: RecordEntry) -> impl IntoView {
    let document_link = match &entry.details {
        EntryDetails::Document { has_text: true, .. } => {
            Some(format!("/record/documents/{}", entry.id))
        }
        _ => None,
    };
    let title = entry.title.clone();
    view! {
        <div class="nhsuk-card portal-record-entry">
            <div class="nhsuk-card__content">
                <h3 class="nhsuk-card__heading nhsuk-heading-s"><RecordTitle text=title/></h3>
                <dl class="nhsuk-summary-list">
                    {details_rows(&entry)}
                    {entry.note.clone().map(|n| view! { <Row key="Notes"><RecordText text=n/></Row> })}
                    {provenance_rows(&entry)}
                </dl>
                {document_link.map(|href| view! { <p><a href=href>"Read this document"</a></p> })}
                <TechnicalDetails codes=entry.codes.clone()/>
            </div>
        </div>
    }
}

/// A report's results as a table: value, unit, range and a flag in words.
#[component]
fn ResultTable(group: ResultGroup) -> impl IntoView {
    let heading = match group.date {
        Some(d) => format!("{}, {}", group.title, long_date(d)),
        None => group.title.clone(),
    };
    let codes: Vec<Code> = group.results.iter().flat_map(|r| r.codes.clone()).collect();
    let first = group.results.first().cloned();
    let rows = group
        .results
        .into_iter()
        .flat_map(|entry| match entry.details {
            EntryDetails::TestResult { values, .. } if !values.is_empty() => {
                values.into_iter().map(|v| (entry.title.clone(), v)).collect::<Vec<_>>()
            }
            _ => vec![(
                entry.title.clone(),
                domain::gp_record::ResultValue {
                    name: entry.title.clone(),
                    amount: domain::gp_record::ResultAmount::Text("No value recorded".to_owned()),
                    unit: None,
                    range: None,
                },
            )],
        })
        .map(|(trend_name, value)| {
            let range = value
                .range
                .as_ref()
                .map(|r| r.describe(value.unit.as_deref()))
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "Not given".to_owned());
            let flag = value.flag();
            let text = value.value_text();
            let trend = matches!(value.amount, domain::gp_record::ResultAmount::Number(_))
                .then(|| format!("/record/test-results/trend?name={}", urlencode(&trend_name)));
            view! {
                <tr class="nhsuk-table__row">
                    <td class="nhsuk-table__cell">
                        <RecordText text=value.name.clone()/>
                        {trend.map(|href| view! { <br/><a href=href class="nhsuk-body-s">"See how this has changed"<span class="nhsuk-u-visually-hidden">{format!(": {}", value.name)}</span></a> })}
                    </td>
                    <td class="nhsuk-table__cell">
                        {text}
                        {flag.map(|f| view! { <br/><strong class="nhsuk-tag nhsuk-tag--red portal-range-flag">{f.label()}</strong> })}
                    </td>
                    <td class="nhsuk-table__cell">{range}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="portal-result-group">
            <h2 class="nhsuk-heading-m"><RecordTitle text=heading.clone()/></h2>
            <table class="nhsuk-table">
                <caption class="nhsuk-table__caption nhsuk-u-visually-hidden">{heading}</caption>
                <thead class="nhsuk-table__head">
                    <tr class="nhsuk-table__row">
                        <th class="nhsuk-table__header" scope="col">"Test"</th>
                        <th class="nhsuk-table__header" scope="col">"Result"</th>
                        <th class="nhsuk-table__header" scope="col">"Normal range"</th>
                    </tr>
                </thead>
                <tbody class="nhsuk-table__body">{rows}</tbody>
            </table>
            {first.map(|entry| view! { <dl class="nhsuk-summary-list">{provenance_rows(&entry)}</dl> })}
            <TechnicalDetails codes/>
        </section>
    }
}

/// Links to the sections this patient may open.
#[component]
fn SectionLinks(sections: Vec<Section>, level: AccessLevel) -> impl IntoView {
    view! {
        <h2>"More of your record"</h2>
        {if sections.is_empty() {
            view! { <p>"Your GP practice has made only this summary available online. To see more of your record, contact your GP practice."</p> }.into_any()
        } else {
            view! {
                <ul class="nhsuk-list portal-record-sections">
                    {sections.into_iter().map(|s| view! { <li><a href=s.path()>{s.title()}</a></li> }).collect_view()}
                </ul>
                {(level != AccessLevel::Full).then(|| view! {
                    <p>"Your GP practice has not made your consultations and documents available online. To ask for them, contact your GP practice."</p>
                })}
            }.into_any()
        }}
        <h2>"Take your record with you"</h2>
        <p>
            <a href="/record/print">"Print a summary of your record"</a>
            " to take to an appointment: your allergies, medicines and health problems on one page."
        </p>
        <p>
            <a href="/record/download" rel="external" download="gp-record.json">"Download your record (FHIR JSON file)"</a>
            ". This file holds what you can see online, in the format health systems use to share records."
        </p>
        <p><a href="/access-log">"See who has accessed your record"</a></p>
    }
}

fn not_online(what: &str, level: AccessLevel) -> AnyView {
    view! {
        <div class="nhsuk-inset-text">
            <span class="nhsuk-u-visually-hidden">"Information: "</span>
            <p>{format!("Your GP practice has not made {what} available online. What you can see online now: {}.", level.label().to_lowercase())}</p>
            <p>"To ask to see more of your record online, contact your GP practice."</p>
        </div>
        <p><a href="/record">"Go to the summary of your record"</a></p>
    }
    .into_any()
}

#[component]
pub fn RecordSummaryPage() -> impl IntoView {
    let summary = Resource::new(
        || (),
        |_| async move { record_summary(own_patient().await?).await },
    );
    view! {
        <Title text="Your GP record"/>
        <BackLink href="/home" text="Back to home"/>
        <h1>"Your GP record"</h1>
        <Suspense>
            {move || Suspend::new(async move {
                match summary.await {
                    Ok(Online::Shown(s)) => {
                        let of = |section: Section, active_only: bool| {
                            s.entries.iter().filter(|e| e.section == section && (!active_only || e.status == EntryStatus::Active)).cloned().collect::<Vec<_>>()
                        };
                        let allergies = of(Section::Allergies, true);
                        let medicines = of(Section::Medicines, true);
                        let (repeat, acute): (Vec<_>, Vec<_>) = medicines.into_iter().partition(|e| matches!(e.details, EntryDetails::Medicine { kind: MedicineKind::Repeat, .. }));
                        let problems = of(Section::Problems, true);
                        let list = |entries: Vec<RecordEntry>, empty: &'static str| if entries.is_empty() {
                            view! { <p>{empty}</p> }.into_any()
                        } else {
                            entries.into_iter().map(|entry| view! { <EntryCard entry/> }).collect_view().into_any()
                        };
                        view! {
                            <p class="nhsuk-lede-text">"A summary of your GP record: allergies, the medicines you take now and your health problems."</p>
                            <h2>"Allergies and adverse reactions"</h2>
                            {list(allergies, "No allergies or adverse reactions are recorded.")}
                            <h2>"Repeat medicines"</h2>
                            {list(repeat, "No current repeat medicines are recorded.")}
                            <h2>"Acute (one-off) medicines"</h2>
                            {list(acute, "No current acute medicines are recorded.")}
                            <h2>"Health problems"</h2>
                            {list(problems, "No active health problems are recorded.")}
                            <SectionLinks sections=s.sections level=s.level/>
                        }.into_any()
                    }
                    Ok(Online::NotOnline(level)) => not_online("your record", level),
                    Err(error) => view! { <ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

const FILTER_FORM: &str = "record-filter";

fn filter_query(form: &DateFilterForm) -> String {
    [
        ("from_day", &form.from_day),
        ("from_month", &form.from_month),
        ("from_year", &form.from_year),
        ("to_day", &form.to_day),
        ("to_month", &form.to_month),
        ("to_year", &form.to_year),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| format!("&{k}={}", urlencode(v)))
    .collect()
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
pub fn RecordSectionPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let section = move || params.with(|p| p.get("section").and_then(|s| Section::parse(&s)));
    let form = move || {
        query.with(|q| DateFilterForm {
            from_day: q.get("from_day").unwrap_or_default(),
            from_month: q.get("from_month").unwrap_or_default(),
            from_year: q.get("from_year").unwrap_or_default(),
            to_day: q.get("to_day").unwrap_or_default(),
            to_month: q.get("to_month").unwrap_or_default(),
            to_year: q.get("to_year").unwrap_or_default(),
        })
    };
    let page = move || {
        query.with(|q| {
            q.get("page")
                .and_then(|p| p.parse::<u32>().ok())
                .unwrap_or(1)
                .max(1)
        })
    };
    let filter = move || check_date_filter(&form());
    let feedback = Signal::derive(move || {
        let f = form();
        let kept = FormFeedback::new(FILTER_FORM)
            .keep("from_day", &f.from_day)
            .keep("from_month", &f.from_month)
            .keep("from_year", &f.from_year)
            .keep("to_day", &f.to_day)
            .keep("to_month", &f.to_month)
            .keep("to_year", &f.to_year);
        match filter() {
            Ok(_) => kept,
            Err(problem) => kept.error(&format!("{}_day", problem.field), problem.message),
        }
    });
    let data = Resource::new(
        move || (section(), filter().ok().map(|f| (f.from, f.to)), page()),
        |(section, dates, page)| async move {
            let Some(section) = section else {
                return Err(PortalError::NotFound);
            };
            let (from, to) = dates.unwrap_or((None, None));
            record_section(own_patient().await?, section, from, to, page).await
        },
    );
    let title = move || section().map(Section::title).unwrap_or("Your GP record");
    view! {
        <Title text=title/>
        <BackLink href="/record" text="Back to your record"/>
        <ErrorSummary feedback/>
        <h1>{title}</h1>
        <Suspense>
            {move || Suspend::new(async move {
                let Some(section) = section() else {
                    return view! { <ProblemPanel error=PortalError::NotFound/> }.into_any();
                };
                match data.await {
                    Ok(Online::Shown(result)) => {
                        let filtered = filter().ok().is_some_and(|f| f.from.is_some() || f.to.is_some());
                        let more = result.has_more;
                        let this_page = result.page;
                        let kept = filter_query(&form());
                        let body = if result.entries.is_empty() {
                            let message = if filtered { "Nothing in this section was recorded between those dates." } else { section.empty_message() };
                            view! { <p>{message}</p> }.into_any()
                        } else if section == Section::TestResults {
                            group_results(result.entries).into_iter().map(|group| view! { <ResultTable group/> }).collect_view().into_any()
                        } else {
                            result.entries.into_iter().map(|entry| view! { <EntryCard entry/> }).collect_view().into_any()
                        };
                        let path = section.path();
                        let previous = (this_page > 1).then(|| format!("{path}?page={}{kept}", this_page - 1));
                        let next = more.then(|| format!("{path}?page={}{kept}", this_page + 1));
                        view! {
                            <DateFilter path=section.path() feedback/>
                            {body}
                            {(previous.is_some() || next.is_some()).then(|| view! {
                                <nav class="nhsuk-pagination" role="navigation" aria-label="Pages of this section">
                                    <ul class="nhsuk-list portal-pagination">
                                        {previous.map(|href| view! { <li><a href=href rel="prev">{format!("Previous page ({})", this_page - 1)}</a></li> })}
                                        {next.map(|href| view! { <li><a href=href rel="next">{format!("Next page ({})", this_page + 1)}</a></li> })}
                                    </ul>
                                </nav>
                            })}
                        }.into_any()
                    }
                    Ok(Online::NotOnline(level)) => not_online(&format!("this part of your record ({})", section.title().to_lowercase()), level),
                    Err(error) => view! { <ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The date filter: a GET form, so it works without JavaScript.
#[component]
fn DateFilter(path: String, feedback: Signal<FormFeedback>) -> impl IntoView {
    let clear = path.clone();
    view! {
        <details class="nhsuk-details" open=move || feedback.get().has_errors() || !feedback.get().value("from_year").is_empty() || !feedback.get().value("to_year").is_empty()>
            <summary class="nhsuk-details__summary">
                <span class="nhsuk-details__summary-text">"Show entries between two dates"</span>
            </summary>
            <div class="nhsuk-details__text">
                <form method="get" action=path novalidate>
                    <DateInput id="from" legend="From" hint="For example, 27 3 2019. Leave empty to start from the first entry" feedback/>
                    <DateInput id="to" legend="To" hint="For example, 31 12 2024. Leave empty to go up to today" feedback/>
                    <button class="nhsuk-button nhsuk-button--secondary" type="submit">"Show entries"</button>
                    " "<a href=clear>"Clear dates"</a>
                </form>
            </div>
        </details>
    }
}

#[component]
pub fn RecordDocumentPage() -> impl IntoView {
    let params = use_params_map();
    let entry =
        move || params.with(|p| p.get("id").and_then(|i| i.parse::<i64>().ok()).map(EntryId));
    let document = Resource::new(entry, |entry| async move {
        match entry {
            Some(e) => record_document(own_patient().await?, e).await,
            None => Err(PortalError::NotFound),
        }
    });
    view! {
        <Title text="Document"/>
        <BackLink href="/record/documents" text="Back to your documents"/>
        <Suspense>
            {move || Suspend::new(async move {
                match document.await {
                    Ok(Online::Shown(doc)) => {
                        let title = doc.entry.title.clone();
                        view! {
                            <h1><RecordTitle text=title/></h1>
                            <dl class="nhsuk-summary-list">
                                {details_rows(&doc.entry)}
                                {provenance_rows(&doc.entry)}
                            </dl>
                            {match doc.text {
                                Some(text) => view! { <div class="portal-document-text"><RecordText text/></div> }.into_any(),
                                None => view! { <p>"This document has no text to show here. Ask your GP practice for a copy."</p> }.into_any(),
                            }}
                            <TechnicalDetails codes=doc.entry.codes.clone()/>
                        }.into_any()
                    }
                    Ok(Online::NotOnline(level)) => view! { <h1>"Document"</h1>{not_online("your documents", level)} }.into_any(),
                    Err(error) => view! { <h1>"Document"</h1><ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
