//! Server functions for the GP record: the patient's summary, each
//! section, one document; and for clinicians and practice managers, what
//! of a patient's record is online (level, start date, hidden entries).
//! Every read writes an access-log row (refusals too), and none returns
//! data when that row cannot be written. The rules are in
//! `domain::gp_record`.

use crate::error::PortalError;
use domain::PatientId;
use domain::forms::FormFeedback;
use domain::gp_record::{
    AccessLevel, DocumentView, EntryId, OnlineAccessForm, RecordEntry, RecordSettings, Section,
    SectionPage, StaffRecordView,
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::guard::{authorize_patient_id, check_signed_in, log_access, ports, refuse};

/// What a patient asked for, or that their practice has not put it online.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Online<T> {
    Shown(T),
    /// Their access level does not include this part of the record.
    NotOnline(AccessLevel),
}

/// The summary page: allergies, current medicines, active problems, and
/// which sections the patient may open.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordSummaryView {
    pub entries: Vec<RecordEntry>,
    pub sections: Vec<Section>,
    pub level: AccessLevel,
}

/// The printable summary: who the record is for, then the summary's
/// entries, to take to an appointment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrintableSummary {
    pub patient: domain::views::PatientDetails,
    pub entries: Vec<RecordEntry>,
    pub printed_at: chrono::DateTime<chrono::Utc>,
}

/// Authorizes, checks the access level, reads, and writes the access-log
/// row (refused or allowed) before anything is returned.
#[cfg(feature = "ssr")]
async fn read_own_record<T, Fut>(
    patient: PatientId,
    view: domain::gp_record::RecordView,
    action: domain::access_log::RecordAction,
    read: impl FnOnce(domain::access::PatientRef, RecordSettings) -> Fut,
    ctx: &domain::ports::RequestContext,
    actor: &domain::Actor,
) -> Result<Online<T>, PortalError>
where
    Fut: std::future::Future<Output = Result<Option<T>, domain::ports::PortError>>,
{
    use domain::access_log::Outcome;
    let found = authorize_patient_id(ctx, actor, patient, action, own_record_rule).await?;
    let ports = ports()?;
    let settings = ports.gp_record.settings(found).await?;
    if !settings.level.allows(view) {
        log_access(ctx, actor, found, action, Outcome::Refused).await?;
        return Ok(Online::NotOnline(settings.level));
    }
    let data = read(found, settings).await?.ok_or(PortalError::NotFound)?;
    log_access(ctx, actor, found, action, Outcome::Allowed).await?;
    Ok(Online::Shown(data))
}

#[server(prefix = "/api", endpoint = "record_summary")]
pub async fn record_summary(patient: PatientId) -> Result<Online<RecordSummaryView>, PortalError> {
    use domain::gp_record::RecordView;
    let (ctx, actor) = check_signed_in::<RecordSummary>()?;
    let record = ports()?.gp_record;
    read_own_record(
        patient,
        RecordView::Summary,
        domain::access_log::RecordAction::ViewRecordSummary,
        |p, settings| async move {
            let entries = record.summary(p, settings.patient_visibility()).await?;
            Ok(Some(RecordSummaryView {
                entries,
                sections: settings.level.sections(),
                level: settings.level,
            }))
        },
        &ctx,
        &actor,
    )
    .await
}

/// The summary and the patient's name, date of birth and NHS number, for
/// the printable page: one read, one access-log row (the print action).
#[server(prefix = "/api", endpoint = "record_printable")]
pub async fn record_printable(patient: PatientId) -> Result<Online<PrintableSummary>, PortalError> {
    use domain::gp_record::RecordView;
    let (ctx, actor) = check_signed_in::<RecordPrintable>()?;
    let ports = ports()?;
    let (record, directory) = (ports.gp_record, ports.directory);
    read_own_record(
        patient,
        RecordView::Summary,
        domain::access_log::RecordAction::PrintRecordSummary,
        |p, settings| async move {
            let Some(details) = directory.patient_details(p).await? else {
                return Ok(None);
            };
            let entries = record.summary(p, settings.patient_visibility()).await?;
            Ok(Some(PrintableSummary {
                patient: details,
                entries,
                printed_at: chrono::Utc::now(),
            }))
        },
        &ctx,
        &actor,
    )
    .await
}

/// One page of a section, optionally between two dates.
#[server(prefix = "/api", endpoint = "record_section")]
pub async fn record_section(
    patient: PatientId,
    section: Section,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    page: u32,
) -> Result<Online<SectionPage>, PortalError> {
    use domain::gp_record::{RecordView, SectionQuery};
    let (ctx, actor) = check_signed_in::<RecordSection>()?;
    let record = ports()?.gp_record;
    read_own_record(
        patient,
        RecordView::Section(section),
        section.view_action(),
        |p, settings| async move {
            let query = SectionQuery {
                from,
                to,
                page: page.max(1),
                visibility: settings.patient_visibility(),
            };
            record.section(p, section, &query).await.map(Some)
        },
        &ctx,
        &actor,
    )
    .await
}

#[server(prefix = "/api", endpoint = "record_document")]
pub async fn record_document(
    patient: PatientId,
    entry: EntryId,
) -> Result<Online<DocumentView>, PortalError> {
    use domain::gp_record::RecordView;
    let (ctx, actor) = check_signed_in::<RecordDocument>()?;
    let record = ports()?.gp_record;
    read_own_record(
        patient,
        RecordView::Document,
        domain::access_log::RecordAction::ViewRecordDocument,
        |p, settings| async move {
            record
                .document(p, entry, settings.patient_visibility())
                .await
        },
        &ctx,
        &actor,
    )
    .await
}

/// How many results of one test a trend chart shows (the most recent).
pub const TREND_LIMIT: u32 = 200;

/// Every visible result of one test, for its trend chart and table.
#[server(prefix = "/api", endpoint = "record_trend")]
pub async fn record_trend(
    patient: PatientId,
    name: String,
) -> Result<Online<Vec<RecordEntry>>, PortalError> {
    use domain::gp_record::RecordView;
    let (ctx, actor) = check_signed_in::<RecordTrend>()?;
    let record = ports()?.gp_record;
    read_own_record(
        patient,
        RecordView::Section(Section::TestResults),
        domain::access_log::RecordAction::ViewRecordTestResults,
        |p, settings| async move {
            record
                .results_named(p, &name, settings.patient_visibility(), TREND_LIMIT)
                .await
                .map(Some)
        },
        &ctx,
        &actor,
    )
    .await
}

/// The patient themselves (or someone acting for them) reading their record.
#[cfg(feature = "ssr")]
fn own_record_rule(actor: &domain::Actor, patient: domain::access::PatientRef) -> domain::Decision {
    if actor.role.has(domain::Permission::ViewOwnRecord) {
        domain::access::authorize_patient(actor, patient)
    } else {
        domain::Decision::Forbidden
    }
}

/// A clinician or practice manager, for a patient of their own practice.
#[cfg(feature = "ssr")]
fn staff_record_rule(
    actor: &domain::Actor,
    patient: domain::access::PatientRef,
) -> domain::Decision {
    if actor.role.has(domain::Permission::ManageOnlineRecordAccess) {
        domain::access::authorize_patient(actor, patient)
    } else {
        domain::Decision::Forbidden
    }
}

/// How many recent entries staff see to choose one to hide.
pub const STAFF_RECENT_ENTRIES: u32 = 100;

/// The patient's online-record settings and recent entries, for staff.
#[server(prefix = "/api", endpoint = "staff_online_record")]
pub async fn staff_online_record(patient: PatientId) -> Result<StaffRecordView, PortalError> {
    use domain::access_log::RecordAction;
    let (ctx, actor) = check_signed_in::<StaffOnlineRecord>()?;
    let found = authorize_patient_id(
        &ctx,
        &actor,
        patient,
        RecordAction::ReviewOnlineRecord,
        staff_record_rule,
    )
    .await?;
    let record = ports()?.gp_record;
    let settings = record.settings(found).await?;
    let entries = record.recent_entries(found, STAFF_RECENT_ENTRIES).await?;
    log_access(
        &ctx,
        &actor,
        found,
        RecordAction::ReviewOnlineRecord,
        domain::access_log::Outcome::Allowed,
    )
    .await?;
    Ok(StaffRecordView { settings, entries })
}

#[cfg(feature = "ssr")]
fn staff_page(patient: PatientId) -> String {
    format!("/staff/patients/{patient}")
}

#[server(prefix = "/api", endpoint = "set_online_access")]
pub async fn set_online_access(
    patient: PatientId,
    #[server(flatten)] form: OnlineAccessForm,
) -> Result<FormFeedback, PortalError> {
    use crate::api::send_back;
    use domain::access_log::RecordAction;
    use domain::gp_record::{ONLINE_ACCESS_FORM, check_online_access_form};
    let (ctx, actor) = check_signed_in::<SetOnlineAccess>()?;
    let found = authorize_patient_id(
        &ctx,
        &actor,
        patient,
        RecordAction::ChangeOnlineRecordAccess,
        staff_record_rule,
    )
    .await?;
    let settings = match check_online_access_form(&form) {
        Ok(s) => s,
        Err(feedback) => return send_back(&ctx, feedback, &staff_page(patient)).await,
    };
    // The change and its access-log row: the row first, so a change is
    // never made without it.
    log_access(
        &ctx,
        &actor,
        found,
        RecordAction::ChangeOnlineRecordAccess,
        domain::access_log::Outcome::Allowed,
    )
    .await?;
    ports()?
        .gp_record
        .set_settings(found, &settings, actor.account)
        .await?;
    leptos_axum::redirect(&format!("{}?record=saved", staff_page(patient)));
    Ok(FormFeedback::new(ONLINE_ACCESS_FORM))
}

/// Hides one entry from the patient's online view, with a reason.
#[server(prefix = "/api", endpoint = "hide_record_entry")]
pub async fn hide_record_entry(
    patient: PatientId,
    entry: EntryId,
    reason: String,
) -> Result<FormFeedback, PortalError> {
    use crate::api::send_back;
    use domain::access_log::RecordAction;
    use domain::gp_record::{HIDE_ENTRY_FORM, check_hide_reason};
    let (ctx, actor) = check_signed_in::<HideRecordEntry>()?;
    let found = authorize_patient_id(
        &ctx,
        &actor,
        patient,
        RecordAction::HideRecordEntry,
        staff_record_rule,
    )
    .await?;
    let reason = match check_hide_reason(&reason) {
        Ok(r) => r,
        Err(message) => {
            let feedback = FormFeedback::new(HIDE_ENTRY_FORM)
                .keep("entry", &entry.to_string())
                .keep("reason", &reason)
                .error(&format!("reason-{entry}"), message);
            return send_back(&ctx, feedback, &staff_page(patient)).await;
        }
    };
    log_access(
        &ctx,
        &actor,
        found,
        RecordAction::HideRecordEntry,
        domain::access_log::Outcome::Allowed,
    )
    .await?;
    let done = ports()?
        .gp_record
        .set_hidden(found, entry, Some(&reason), actor.account)
        .await?;
    if !done {
        return Err(refuse(http::StatusCode::NOT_FOUND, PortalError::NotFound));
    }
    leptos_axum::redirect(&format!("{}?record=hidden", staff_page(patient)));
    Ok(FormFeedback::new(HIDE_ENTRY_FORM))
}

#[server(prefix = "/api", endpoint = "unhide_record_entry")]
pub async fn unhide_record_entry(patient: PatientId, entry: EntryId) -> Result<(), PortalError> {
    use domain::access_log::RecordAction;
    let (ctx, actor) = check_signed_in::<UnhideRecordEntry>()?;
    let found = authorize_patient_id(
        &ctx,
        &actor,
        patient,
        RecordAction::UnhideRecordEntry,
        staff_record_rule,
    )
    .await?;
    log_access(
        &ctx,
        &actor,
        found,
        RecordAction::UnhideRecordEntry,
        domain::access_log::Outcome::Allowed,
    )
    .await?;
    let done = ports()?
        .gp_record
        .set_hidden(found, entry, None, actor.account)
        .await?;
    if !done {
        return Err(refuse(http::StatusCode::NOT_FOUND, PortalError::NotFound));
    }
    leptos_axum::redirect(&format!("{}?record=shown", staff_page(patient)));
    Ok(())
}

/// For settings shown on the staff page.
pub fn describe_settings(settings: &RecordSettings) -> String {
    match settings.show_from {
        Some(from) => format!(
            "{}, entries recorded from {}",
            settings.level.label(),
            crate::components::long_date(from)
        ),
        None => settings.level.label().to_owned(),
    }
}
