//! GP appointments: sessions a practice publishes, the slots made from
//! them, the practice's release rules, and the checks on what patients and
//! staff type. Times are entered as UK wall-clock times (Europe/London) and
//! kept in UTC; the conversion uses the IANA time-zone database (chrono-tz)
//! so clock changes are handled by the rules themselves, not by hand. The
//! server calls these functions; the browser only shows their results, so
//! the time-zone tables never reach the wasm bundle.
//!
//! The [`Appointments`] port follows GP Connect's appointment operations:
//! a slot search over at most 14 days, booking a taken slot fails with a
//! distinct error ([`BookingError::SlotTaken`]), and "change" is cancel and
//! rebook.

use crate::access::{Actor, PatientRef};
use crate::forms::FormFeedback;
use crate::ids::{AccountId, PatientId, PracticeId};
use crate::ports::PortError;
use crate::uk_time::uk_local;
use async_trait::async_trait;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Europe::London;
use serde::{Deserialize, Serialize};

/// GP Connect's search window: slots are offered at most this far ahead.
pub const SEARCH_WINDOW_DAYS: i64 = 14;
pub const MAX_REASON_CHARS: usize = 100;
pub const MAX_NOTE_CHARS: usize = 500;
pub const MAX_CANCEL_REASON_CHARS: usize = 200;
pub const MAX_NAME_CHARS: usize = 100;
/// A weekly repeat covers at most a year: more is a typing mistake.
pub const MAX_REPEAT_WEEKS: i64 = 52;
pub const MIN_SLOT_MINUTES: u32 = 5;
pub const MAX_SLOT_MINUTES: u32 = 120;
/// How many free slots a "this appointment has just been taken" answer offers.
pub const NEXT_FREE_OFFERED: u32 = 3;

pub const SESSION_FORM: &str = "appointment-session";
pub const FIND_FORM: &str = "find-appointment";
pub const BOOK_FORM: &str = "book-appointment";
pub const CANCEL_FORM: &str = "cancel-appointment";
pub const RULES_FORM: &str = "release-rules";
/// The day view's forms (cancel a session, record attendance) report their
/// problems on the one page, so they share its feedback.
pub const DAY_VIEW_FORM: &str = "day-view";

macro_rules! id_type {
    ($name:ident) => {
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim().parse().map($name)
            }
        }
    };
}

id_type!(SessionId);
id_type!(SlotId);
id_type!(AppointmentId);

/// Which kind of clinician a session is with: what patients filter by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClinicianRole {
    Gp,
    Nurse,
    HealthcareAssistant,
    Pharmacist,
}

impl ClinicianRole {
    pub const ALL: [ClinicianRole; 4] = [
        ClinicianRole::Gp,
        ClinicianRole::Nurse,
        ClinicianRole::HealthcareAssistant,
        ClinicianRole::Pharmacist,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClinicianRole::Gp => "gp",
            ClinicianRole::Nurse => "nurse",
            ClinicianRole::HealthcareAssistant => "healthcare_assistant",
            ClinicianRole::Pharmacist => "pharmacist",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            ClinicianRole::Gp => "GP",
            ClinicianRole::Nurse => "Nurse",
            ClinicianRole::HealthcareAssistant => "Healthcare assistant",
            ClinicianRole::Pharmacist => "Pharmacist",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentMode {
    InPerson,
    Phone,
    Video,
}

impl AppointmentMode {
    pub const ALL: [AppointmentMode; 3] = [
        AppointmentMode::InPerson,
        AppointmentMode::Phone,
        AppointmentMode::Video,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AppointmentMode::InPerson => "in_person",
            AppointmentMode::Phone => "phone",
            AppointmentMode::Video => "video",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            AppointmentMode::InPerson => "In person",
            AppointmentMode::Phone => "Phone call",
            AppointmentMode::Video => "Video call",
        }
    }
}

/// Part of the day, in UK time, as patients filter by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeOfDay {
    /// Before midday.
    Morning,
    /// Midday to 5pm.
    Afternoon,
    /// From 5pm.
    Evening,
}

impl TimeOfDay {
    pub const ALL: [TimeOfDay; 3] = [TimeOfDay::Morning, TimeOfDay::Afternoon, TimeOfDay::Evening];

    pub fn as_str(self) -> &'static str {
        match self {
            TimeOfDay::Morning => "morning",
            TimeOfDay::Afternoon => "afternoon",
            TimeOfDay::Evening => "evening",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            TimeOfDay::Morning => "Morning (before 12pm)",
            TimeOfDay::Afternoon => "Afternoon (12pm to 5pm)",
            TimeOfDay::Evening => "Evening (after 5pm)",
        }
    }

    /// The part of the day an instant falls in, in UK time.
    pub fn of(at: DateTime<Utc>) -> Self {
        match at.with_timezone(&London).hour() {
            0..=11 => TimeOfDay::Morning,
            12..=16 => TimeOfDay::Afternoon,
            _ => TimeOfDay::Evening,
        }
    }
}

/// Which end of a time span a wall-clock time marks. When the clocks go
/// back, 01:00 to 01:59 happen twice: a start takes the first, an end the
/// second, so a session typed across that hour covers all of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    Start,
    End,
}

/// A UK wall-clock time on a date, as an instant. None when that time does
/// not exist (the hour skipped when the clocks go forward).
pub fn uk_to_utc(date: NaiveDate, time: NaiveTime, edge: Edge) -> Option<DateTime<Utc>> {
    use chrono::offset::LocalResult;
    match London.from_local_datetime(&date.and_time(time)) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, second) => Some(
            match edge {
                Edge::Start => first,
                Edge::End => second,
            }
            .with_timezone(&Utc),
        ),
        LocalResult::None => None,
    }
}

/// The UK date of an instant.
pub fn uk_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&London).date_naive()
}

/// "9:05am", "12pm" in UK time: for lists of slots on one day.
pub fn uk_time_label(at: DateTime<Utc>) -> String {
    clock_label(at.with_timezone(&London).time())
}

/// "9:05am", "12pm": a wall-clock time.
fn clock_label(local: NaiveTime) -> String {
    let (hour, minute) = (local.hour(), local.minute());
    let suffix = if hour < 12 { "am" } else { "pm" };
    let twelve = match hour % 12 {
        0 => 12,
        h => h,
    };
    if minute == 0 {
        format!("{twelve}{suffix}")
    } else {
        format!("{twelve}:{minute:02}{suffix}")
    }
}

/// "Monday 30 March 2026" in UK time.
pub fn uk_day_label(at: DateTime<Utc>) -> String {
    at.with_timezone(&London).format("%A %-d %B %Y").to_string()
}

/// "Monday 30 March 2026 at 9:05am" in UK time.
pub fn uk_slot_label(at: DateTime<Utc>) -> String {
    format!("{} at {}", uk_day_label(at), uk_time_label(at))
}

/// A session as staff plan it: one clinician, one place, one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionPlan {
    pub clinician: String,
    pub role: ClinicianRole,
    pub location: String,
    pub date: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub slot_minutes: u32,
    pub mode: AppointmentMode,
    pub bookable_online: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSpan {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl TimeSpan {
    /// Half-open spans: one ending at 10:00 does not overlap one starting then.
    pub fn overlaps(&self, other: &TimeSpan) -> bool {
        self.start < other.end && other.start < self.end
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionProblem {
    #[error(
        "The start time {0} does not exist on that day because the clocks go forward. Choose a time after 2am"
    )]
    StartSkipped(String),
    #[error(
        "The end time {0} does not exist on that day because the clocks go forward. Choose a time after 2am"
    )]
    EndSkipped(String),
    #[error("The end time must be after the start time")]
    EndNotAfterStart,
    #[error(
        "The session is shorter than one appointment. Make the session longer or the appointments shorter"
    )]
    ShorterThanOneSlot,
}

/// The session's span and its slots, end to end from the start. Slots are
/// of real elapsed time: on the day the clocks change, a session typed as
/// 00:30 to 02:30 lasts one hour (March) or three (October).
pub fn generate_slots(plan: &SessionPlan) -> Result<(TimeSpan, Vec<TimeSpan>), SessionProblem> {
    let start = uk_to_utc(plan.date, plan.start, Edge::Start)
        .ok_or_else(|| SessionProblem::StartSkipped(plan.start.format("%H:%M").to_string()))?;
    let end = uk_to_utc(plan.date, plan.end, Edge::End)
        .ok_or_else(|| SessionProblem::EndSkipped(plan.end.format("%H:%M").to_string()))?;
    if end <= start {
        return Err(SessionProblem::EndNotAfterStart);
    }
    let length = Duration::minutes(i64::from(plan.slot_minutes.max(1)));
    let mut slots = Vec::new();
    let mut at = start;
    while at + length <= end {
        slots.push(TimeSpan {
            start: at,
            end: at + length,
        });
        at += length;
    }
    if slots.is_empty() {
        return Err(SessionProblem::ShorterThanOneSlot);
    }
    Ok((TimeSpan { start, end }, slots))
}

/// The dates of a weekly repeat: `first`, then every seven days up to and
/// including `until`.
pub fn weekly_dates(first: NaiveDate, until: Option<NaiveDate>) -> Vec<NaiveDate> {
    let last = until.unwrap_or(first);
    (0..=MAX_REPEAT_WEEKS)
        .map(|week| first + Duration::weeks(week))
        .take_while(|d| *d <= last)
        .collect()
}

/// The first of `new` that overlaps any of `existing` (both one clinician's).
pub fn first_overlap(new: &[TimeSpan], existing: &[TimeSpan]) -> Option<(TimeSpan, TimeSpan)> {
    new.iter()
        .find_map(|n| existing.iter().find(|e| n.overlaps(e)).map(|e| (*n, *e)))
}

/// A practice's rules for online booking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRules {
    /// How many days before its date a slot opens online (0: on the day).
    pub release_days_ahead: u32,
    /// The UK time it opens on that day, such as 08:00.
    pub release_time: NaiveTime,
    /// Most future online bookings one patient may hold.
    pub max_future_bookings: u32,
    /// A patient may cancel online until this many hours before the start.
    pub cancel_cutoff_hours: u32,
}

impl Default for ReleaseRules {
    fn default() -> Self {
        Self {
            release_days_ahead: SEARCH_WINDOW_DAYS as u32,
            release_time: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
            max_future_bookings: 2,
            cancel_cutoff_hours: 2,
        }
    }
}

impl ReleaseRules {
    /// When a slot starting at `slot_start` is first offered online.
    pub fn released_at(&self, slot_start: DateTime<Utc>) -> DateTime<Utc> {
        let day = uk_date(slot_start) - Duration::days(i64::from(self.release_days_ahead));
        // 08:00 always exists; a skipped time opens at the hour after.
        uk_to_utc(day, self.release_time, Edge::Start)
            .or_else(|| uk_to_utc(day, self.release_time + Duration::hours(1), Edge::Start))
            .unwrap_or(slot_start)
    }

    pub fn is_released(&self, slot_start: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now >= self.released_at(slot_start)
    }

    /// The last UK date whose slots are open online at `now`: what the
    /// database filters on (a slot's UK date is stored beside it).
    pub fn last_released_date(&self, now: DateTime<Utc>) -> NaiveDate {
        let local = now.with_timezone(&London);
        let ahead = uk_date(now) + Duration::days(i64::from(self.release_days_ahead));
        if local.time() >= self.release_time {
            ahead
        } else {
            ahead - Duration::days(1)
        }
    }

    /// The latest instant a patient may cancel online.
    pub fn cancel_deadline(&self, slot_start: DateTime<Utc>) -> DateTime<Utc> {
        slot_start - Duration::hours(i64::from(self.cancel_cutoff_hours))
    }

    pub fn may_cancel_online(&self, slot_start: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now <= self.cancel_deadline(slot_start)
    }
}

/// The release-rules form, as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRulesForm {
    pub release_days_ahead: String,
    pub release_time: String,
    pub max_future_bookings: String,
    pub cancel_cutoff_hours: String,
}

impl ReleaseRulesForm {
    pub fn from_rules(rules: &ReleaseRules) -> Self {
        Self {
            release_days_ahead: rules.release_days_ahead.to_string(),
            release_time: rules.release_time.format("%H:%M").to_string(),
            max_future_bookings: rules.max_future_bookings.to_string(),
            cancel_cutoff_hours: rules.cancel_cutoff_hours.to_string(),
        }
    }

    fn feedback(&self) -> FormFeedback {
        FormFeedback::new(RULES_FORM)
            .keep("release_days_ahead", &self.release_days_ahead)
            .keep("release_time", &self.release_time)
            .keep("max_future_bookings", &self.max_future_bookings)
            .keep("cancel_cutoff_hours", &self.cancel_cutoff_hours)
    }
}

fn whole_number(text: &str, max: u32) -> Option<u32> {
    text.trim().parse::<u32>().ok().filter(|n| *n <= max)
}

pub fn check_release_rules(form: &ReleaseRulesForm) -> Result<ReleaseRules, FormFeedback> {
    let mut feedback = form.feedback();
    let days = whole_number(&form.release_days_ahead, SEARCH_WINDOW_DAYS as u32);
    if days.is_none() {
        feedback = feedback.error(
            "release_days_ahead",
            "Enter how many days ahead slots open, as a whole number from 0 (on the day) to 14",
        );
    }
    let time = parse_time(&form.release_time);
    if time.is_none() {
        feedback = feedback.error(
            "release_time",
            "Enter the time slots open as hours and minutes, like 08:00",
        );
    }
    let max = whole_number(&form.max_future_bookings, 20).filter(|n| *n >= 1);
    if max.is_none() {
        feedback = feedback.error(
            "max_future_bookings",
            "Enter how many future appointments one patient may book online, from 1 to 20",
        );
    }
    let cutoff = whole_number(&form.cancel_cutoff_hours, 168);
    if cutoff.is_none() {
        feedback = feedback.error(
            "cancel_cutoff_hours",
            "Enter how many hours before an appointment patients can still cancel online, from 0 to 168",
        );
    }
    match (days, time, max, cutoff) {
        (
            Some(release_days_ahead),
            Some(release_time),
            Some(max_future_bookings),
            Some(cancel_cutoff_hours),
        ) => Ok(ReleaseRules {
            release_days_ahead,
            release_time,
            max_future_bookings,
            cancel_cutoff_hours,
        }),
        _ => Err(feedback),
    }
}

/// "9:30", "09:30", "9.30", "930" and "14:00" are times; "25:00" is not.
pub fn parse_time(text: &str) -> Option<NaiveTime> {
    let t = text.trim().replace('.', ":");
    let (h, m) = match t.split_once(':') {
        Some((h, m)) => (h.to_owned(), m.to_owned()),
        None if t.len() == 3 || t.len() == 4 => {
            let (h, m) = t.split_at(t.len() - 2);
            (h.to_owned(), m.to_owned())
        }
        None => return None,
    };
    if m.len() != 2 || h.is_empty() || h.len() > 2 {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

fn parse_date(day: &str, month: &str, year: &str) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(
        year.trim().parse().ok()?,
        month.trim().parse().ok()?,
        day.trim().parse().ok()?,
    )
}

fn is_single_line(text: &str) -> bool {
    !text.chars().any(|c| c.is_control())
}

/// The new-session form, as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionForm {
    pub clinician: String,
    pub role: String,
    pub location: String,
    pub date_day: String,
    pub date_month: String,
    pub date_year: String,
    pub start_time: String,
    pub end_time: String,
    pub slot_minutes: String,
    pub mode: String,
    /// "yes" or "no".
    pub bookable_online: String,
    /// Optional: repeat weekly until this date.
    pub repeat_until_day: String,
    pub repeat_until_month: String,
    pub repeat_until_year: String,
}

impl SessionForm {
    pub fn feedback(&self) -> FormFeedback {
        FormFeedback::new(SESSION_FORM)
            .keep("clinician", &self.clinician)
            .keep("role", &self.role)
            .keep("location", &self.location)
            .keep("date_day", &self.date_day)
            .keep("date_month", &self.date_month)
            .keep("date_year", &self.date_year)
            .keep("start_time", &self.start_time)
            .keep("end_time", &self.end_time)
            .keep("slot_minutes", &self.slot_minutes)
            .keep("mode", &self.mode)
            .keep("bookable_online", &self.bookable_online)
            .keep("repeat_until_day", &self.repeat_until_day)
            .keep("repeat_until_month", &self.repeat_until_month)
            .keep("repeat_until_year", &self.repeat_until_year)
    }
}

/// A checked session: the plan for its first day and every day it repeats on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedSession {
    pub plan: SessionPlan,
    pub dates: Vec<NaiveDate>,
}

impl CheckedSession {
    /// Each day's plan with its span and slots.
    pub fn days(&self) -> Result<Vec<(SessionPlan, TimeSpan, Vec<TimeSpan>)>, SessionProblem> {
        self.dates
            .iter()
            .map(|date| {
                let plan = SessionPlan {
                    date: *date,
                    ..self.plan.clone()
                };
                let (span, slots) = generate_slots(&plan)?;
                Ok((plan, span, slots))
            })
            .collect()
    }
}

/// Checks the new-session form. `today` is the UK date: a session cannot
/// start in the past, and sessions are planned at most a year ahead.
pub fn check_session_form(
    form: &SessionForm,
    today: NaiveDate,
) -> Result<CheckedSession, FormFeedback> {
    let mut feedback = form.feedback();
    let clinician = form.clinician.trim();
    if clinician.is_empty() {
        feedback = feedback.error("clinician", "Enter the clinician's name");
    } else if clinician.chars().count() > MAX_NAME_CHARS || !is_single_line(clinician) {
        feedback = feedback.error(
            "clinician",
            "The clinician's name must be 100 characters or fewer, on one line",
        );
    }
    let role = ClinicianRole::parse(&form.role);
    if role.is_none() {
        feedback = feedback.error("role", "Select the type of clinician");
    }
    let location = form.location.trim();
    if location.is_empty() {
        feedback = feedback.error(
            "location",
            "Enter where the appointments are, such as a room or a surgery",
        );
    } else if location.chars().count() > MAX_NAME_CHARS || !is_single_line(location) {
        feedback = feedback.error(
            "location",
            "The location must be 100 characters or fewer, on one line",
        );
    }
    let date = parse_date(&form.date_day, &form.date_month, &form.date_year);
    match date {
        None => {
            feedback = feedback.error(
                "date_day",
                "Enter the session's date as day, month and year, like 30 3 2026",
            )
        }
        Some(d) if d < today => {
            feedback = feedback.error(
                "date_day",
                "The session's date must be today or in the future",
            )
        }
        Some(d) if d > today + Duration::days(366) => {
            feedback = feedback.error(
                "date_day",
                "The session's date must be within a year from today",
            )
        }
        Some(_) => {}
    }
    let start = parse_time(&form.start_time);
    if start.is_none() {
        feedback = feedback.error(
            "start_time",
            "Enter the start time as hours and minutes, like 09:00",
        );
    }
    let end = parse_time(&form.end_time);
    if end.is_none() {
        feedback = feedback.error(
            "end_time",
            "Enter the end time as hours and minutes, like 12:30",
        );
    }
    let slot_minutes = form
        .slot_minutes
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|m| (MIN_SLOT_MINUTES..=MAX_SLOT_MINUTES).contains(m));
    if slot_minutes.is_none() {
        feedback = feedback.error(
            "slot_minutes",
            "Enter the length of each appointment in minutes, from 5 to 120",
        );
    }
    let mode = AppointmentMode::parse(&form.mode);
    if mode.is_none() {
        feedback = feedback.error(
            "mode",
            "Select how the appointments happen: in person, by phone or by video",
        );
    }
    let bookable_online = match form.bookable_online.as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    };
    if bookable_online.is_none() {
        feedback = feedback.error(
            "bookable_online",
            "Select whether patients can book these appointments online",
        );
    }
    let repeat_typed = [
        &form.repeat_until_day,
        &form.repeat_until_month,
        &form.repeat_until_year,
    ]
    .iter()
    .any(|p| !p.trim().is_empty());
    let until = if repeat_typed {
        match parse_date(
            &form.repeat_until_day,
            &form.repeat_until_month,
            &form.repeat_until_year,
        ) {
            None => {
                feedback = feedback.error("repeat_until_day", "Enter the last date to repeat the session on as day, month and year, or leave it empty");
                None
            }
            Some(u) if date.is_some_and(|d| u < d) => {
                feedback = feedback.error(
                    "repeat_until_day",
                    "The last date to repeat on must be on or after the session's date",
                );
                None
            }
            Some(u) if date.is_some_and(|d| u > d + Duration::weeks(MAX_REPEAT_WEEKS)) => {
                feedback = feedback.error(
                    "repeat_until_day",
                    "A session can repeat for up to 52 weeks",
                );
                None
            }
            Some(u) => Some(u),
        }
    } else {
        None
    };
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        feedback = feedback.error("end_time", "The end time must be after the start time");
    }
    if feedback.has_errors() {
        return Err(feedback);
    }
    let (
        Some(role),
        Some(date),
        Some(start),
        Some(end),
        Some(slot_minutes),
        Some(mode),
        Some(bookable_online),
    ) = (role, date, start, end, slot_minutes, mode, bookable_online)
    else {
        return Err(feedback);
    };
    let checked = CheckedSession {
        plan: SessionPlan {
            clinician: clinician.to_owned(),
            role,
            location: location.to_owned(),
            date,
            start,
            end,
            slot_minutes,
            mode,
            bookable_online,
        },
        dates: weekly_dates(date, until),
    };
    if let Err(problem) = checked.days() {
        let field = match problem {
            SessionProblem::StartSkipped(_) => "start_time",
            _ => "end_time",
        };
        return Err(feedback.error(field, problem.to_string()));
    }
    Ok(checked)
}

/// What a patient types when booking.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingText {
    /// Empty when not given.
    pub reason: String,
    pub note: String,
}

/// Checks the reason (optional, up to 100 characters, one line) and the
/// note (optional, up to 500). Both are trimmed.
pub fn check_booking_text(reason: &str, note: &str) -> Result<BookingText, FormFeedback> {
    check_text(reason, note, ". Put more detail in the note")
}

/// As [`check_booking_text`] for staff booking on a patient's behalf, whose
/// form has a reason and no note.
pub fn check_staff_booking_reason(reason: &str) -> Result<BookingText, FormFeedback> {
    check_text(reason, "", "")
}

fn check_text(reason: &str, note: &str, too_long_hint: &str) -> Result<BookingText, FormFeedback> {
    let mut feedback = FormFeedback::new(BOOK_FORM)
        .keep("reason", reason)
        .keep("note", note);
    let (reason_t, note_t) = (reason.trim(), note.trim());
    let reason_len = reason_t.chars().count();
    if reason_len > MAX_REASON_CHARS {
        feedback = feedback.error(
            "reason",
            format!("The reason must be {MAX_REASON_CHARS} characters or fewer. You have entered {reason_len}{too_long_hint}"),
        );
    } else if !is_single_line(reason_t) {
        feedback = feedback.error("reason", "The reason must be on one line");
    }
    let note_len = note_t.chars().count();
    if note_len > MAX_NOTE_CHARS {
        feedback = feedback.error(
            "note",
            format!(
                "The note must be {MAX_NOTE_CHARS} characters or fewer. You have entered {note_len}"
            ),
        );
    }
    if feedback.has_errors() {
        return Err(feedback);
    }
    Ok(BookingText {
        reason: reason_t.to_owned(),
        note: note_t.to_owned(),
    })
}

/// Checks a cancellation reason: optional, up to 200 characters.
pub fn check_cancel_reason(form: &str, reason: &str) -> Result<String, FormFeedback> {
    let trimmed = reason.trim();
    let len = trimmed.chars().count();
    if len > MAX_CANCEL_REASON_CHARS {
        return Err(FormFeedback::new(form).keep("reason", reason).error(
            "reason",
            format!("The reason must be {MAX_CANCEL_REASON_CHARS} characters or fewer. You have entered {len}"),
        ));
    }
    Ok(trimmed.replace(['\r', '\n'], " "))
}

/// The find-a-slot filters, as they arrive in the query string.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotSearchForm {
    pub role: String,
    pub clinician: String,
    pub mode: String,
    pub date_day: String,
    pub date_month: String,
    pub date_year: String,
    pub time_of_day: String,
}

impl SlotSearchForm {
    pub fn feedback(&self) -> FormFeedback {
        FormFeedback::new(FIND_FORM)
            .keep("role", &self.role)
            .keep("clinician", &self.clinician)
            .keep("mode", &self.mode)
            .keep("date_day", &self.date_day)
            .keep("date_month", &self.date_month)
            .keep("date_year", &self.date_year)
            .keep("time_of_day", &self.time_of_day)
    }
}

/// A checked search: the window (UTC) and the filters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotSearch {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub role: Option<ClinicianRole>,
    /// Matches the clinician's name exactly, ignoring case.
    pub clinician: Option<String>,
    pub mode: Option<AppointmentMode>,
    pub time_of_day: Option<TimeOfDay>,
    /// Whose list this is: see [`tie_rank`]. 0 lists equal times by id.
    pub seen_by: u64,
}

/// A prime above any slot id a practice reaches, for [`tie_rank`].
pub const TIE_MODULUS: i64 = 1_000_003;

/// Where a slot goes among slots that start at the same minute, in the
/// list that `seen_by` sees. When a practice opens its same-day slots at
/// 08:00, several clinicians' 08:00 slots are equally soonest; listed by id,
/// every patient reaches for the same one and all but one are told it has
/// just been taken, again and again down the list. Each patient gets their
/// own order of those equal slots instead (stable for them, so the page
/// does not reshuffle on reload), and soonest first still holds. The local
/// book computes the same value in SQL (`(id * multiplier) % TIE_MODULUS`):
/// multiplying by a non-zero residue modulo a prime is a permutation.
pub fn tie_rank(slot: SlotId, seen_by: u64) -> i64 {
    (slot.0.rem_euclid(TIE_MODULUS) * tie_multiplier(seen_by)) % TIE_MODULUS
}

/// The multiplier [`tie_rank`] uses for `seen_by`: 1 for nobody in
/// particular, so that staff and tests see equal times by id.
pub fn tie_multiplier(seen_by: u64) -> i64 {
    if seen_by == 0 {
        return 1;
    }
    // Neighbouring patient ids would give neighbouring multipliers, which
    // for small slot ids keep the id order; scatter them first (Knuth's
    // multiplicative hash). Below TIE_MODULUS, so the cast is exact.
    let scattered = seen_by.wrapping_mul(2_654_435_761) % (TIE_MODULUS as u64 - 1);
    scattered as i64 + 1
}

impl SlotSearch {
    /// The next 14 days from `now`, no filters.
    pub fn default_window(now: DateTime<Utc>) -> Self {
        Self {
            from: now,
            to: now + Duration::days(SEARCH_WINDOW_DAYS),
            role: None,
            clinician: None,
            mode: None,
            time_of_day: None,
            seen_by: 0,
        }
    }

    /// The same search, as `patient` sees its order of equal times.
    pub fn seen_by(self, patient: PatientId) -> Self {
        Self {
            seen_by: u64::try_from(patient.0).unwrap_or(0),
            ..self
        }
    }

    pub fn matches(&self, slot: &FreeSlot) -> bool {
        slot.start >= self.from
            && slot.start < self.to
            && self.role.is_none_or(|r| r == slot.role)
            && self.mode.is_none_or(|m| m == slot.mode)
            && self
                .clinician
                .as_ref()
                .is_none_or(|c| c.eq_ignore_ascii_case(&slot.clinician))
            && self
                .time_of_day
                .is_none_or(|t| t == TimeOfDay::of(slot.start))
    }
}

/// Checks the filters. Empty filters mean "any"; a date narrows the window
/// to that UK day, which must be within the next 14 days.
pub fn check_slot_search(
    form: &SlotSearchForm,
    now: DateTime<Utc>,
) -> Result<SlotSearch, FormFeedback> {
    let mut feedback = form.feedback();
    let mut search = SlotSearch::default_window(now);
    if !form.role.is_empty() {
        match ClinicianRole::parse(&form.role) {
            Some(r) => search.role = Some(r),
            None => feedback = feedback.error("role", "Select a type of appointment from the list"),
        }
    }
    if !form.mode.is_empty() {
        match AppointmentMode::parse(&form.mode) {
            Some(m) => search.mode = Some(m),
            None => {
                feedback =
                    feedback.error("mode", "Select how you want the appointment from the list")
            }
        }
    }
    if !form.time_of_day.is_empty() {
        match TimeOfDay::parse(&form.time_of_day) {
            Some(t) => search.time_of_day = Some(t),
            None => feedback = feedback.error("time_of_day", "Select a time of day from the list"),
        }
    }
    let clinician = form.clinician.trim();
    if clinician.chars().count() > MAX_NAME_CHARS {
        feedback = feedback.error(
            "clinician",
            "The clinician's name must be 100 characters or fewer",
        );
    } else if !clinician.is_empty() {
        search.clinician = Some(clinician.to_owned());
    }
    let typed = [&form.date_day, &form.date_month, &form.date_year]
        .iter()
        .any(|p| !p.trim().is_empty());
    if typed {
        let today = uk_date(now);
        let last = uk_date(now + Duration::days(SEARCH_WINDOW_DAYS));
        match parse_date(&form.date_day, &form.date_month, &form.date_year) {
            None => feedback = feedback.error(
                "date_day",
                "Enter a real date as day, month and year, like 30 3 2026, or leave the date empty",
            ),
            Some(d) if d < today || d > last => feedback = feedback.error(
                "date_day",
                format!(
                    "Enter a date from {} to {}: appointments can be booked up to 14 days ahead",
                    today.format("%-d %B %Y"),
                    last.format("%-d %B %Y")
                ),
            ),
            Some(d) => {
                let start = uk_to_utc(d, NaiveTime::MIN, Edge::Start);
                let end = d
                    .succ_opt()
                    .and_then(|n| uk_to_utc(n, NaiveTime::MIN, Edge::Start));
                if let (Some(start), Some(end)) = (start, end) {
                    search.from = start.max(search.from);
                    search.to = end.min(search.to);
                }
            }
        }
    }
    if feedback.has_errors() {
        Err(feedback)
    } else {
        Ok(search)
    }
}

/// A slot a patient may book.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreeSlot {
    pub id: SlotId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub clinician: String,
    pub role: ClinicianRole,
    pub location: String,
    pub mode: AppointmentMode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    Booked,
    Cancelled,
    Attended,
    DidNotAttend,
}

impl AppointmentStatus {
    pub const ALL: [AppointmentStatus; 4] = [
        AppointmentStatus::Booked,
        AppointmentStatus::Cancelled,
        AppointmentStatus::Attended,
        AppointmentStatus::DidNotAttend,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AppointmentStatus::Booked => "booked",
            AppointmentStatus::Cancelled => "cancelled",
            AppointmentStatus::Attended => "attended",
            AppointmentStatus::DidNotAttend => "did_not_attend",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            AppointmentStatus::Booked => "Booked",
            AppointmentStatus::Cancelled => "Cancelled",
            AppointmentStatus::Attended => "Attended",
            AppointmentStatus::DidNotAttend => "Did not attend",
        }
    }
}

/// An appointment as its patient sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientAppointment {
    pub id: AppointmentId,
    pub slot: FreeSlot,
    pub status: AppointmentStatus,
    pub reason: String,
    pub note: String,
    pub practice_name: String,
    /// False once the practice's cancel limit has passed.
    pub can_cancel_online: bool,
}

/// Booking one slot. `idempotency_key` comes from the confirm form, so a
/// second submit of the same form returns the first booking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewBooking {
    pub patient: PatientRef,
    pub slot: SlotId,
    pub text: BookingText,
    pub idempotency_key: String,
    /// Who is booking: the patient, or staff on their behalf (who may book
    /// slots not offered online and are not held to the patient's limit).
    pub by: Actor,
    pub request_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum BookingError {
    /// Someone else booked it first. The next free slots come with the
    /// answer, from the same request.
    #[error("Sorry, this appointment has just been taken. Choose another")]
    SlotTaken { next_free: Vec<FreeSlot> },
    #[error("This appointment has already started or passed. Choose another")]
    SlotInPast,
    /// Unknown, another practice's, blocked or not offered online: all look
    /// the same from outside.
    #[error("This appointment is not available to book. Choose another")]
    NotAvailable,
    #[error(
        "You already have {limit} upcoming appointments booked online, which is as many as your practice allows. Cancel one, or call the practice"
    )]
    TooManyBookings { limit: u32 },
    #[error("Check the idempotency key")]
    BadKey,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum CancelError {
    #[error("We could not find that appointment")]
    NotFound,
    #[error("This appointment is no longer booked, so it cannot be cancelled")]
    NotBooked,
    #[error("It is too late to cancel this appointment online. Call the practice")]
    TooLate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum SessionRefusal {
    #[error(
        "{clinician} already has a session from {existing_start} to {existing_end} on {day}. Change the times or the date"
    )]
    Overlaps {
        clinician: String,
        day: String,
        existing_start: String,
        existing_end: String,
    },
}

/// A slot in the staff day view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaySlot {
    pub id: SlotId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub blocked: bool,
    pub booking: Option<DayBooking>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayBooking {
    pub appointment: AppointmentId,
    pub patient: PatientId,
    pub patient_name: String,
    pub reason: String,
    pub status: AppointmentStatus,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaySession {
    pub id: SessionId,
    pub clinician: String,
    pub role: ClinicianRole,
    pub location: String,
    pub mode: AppointmentMode,
    pub bookable_online: bool,
    pub cancelled: bool,
    pub slots: Vec<DaySlot>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Attendance {
    Attended,
    DidNotAttend,
}

impl Attendance {
    pub fn status(self) -> AppointmentStatus {
        match self {
            Attendance::Attended => AppointmentStatus::Attended,
            Attendance::DidNotAttend => AppointmentStatus::DidNotAttend,
        }
    }

    /// Whether staff may record this outcome yet. A patient can arrive
    /// early, so "attended" is open from the start of the appointment's UK
    /// day; nobody has missed an appointment that has not started, so "did
    /// not attend" waits for its start.
    ///
    /// The day view asks this in the browser too, so it reads UK time with
    /// `uk_time::uk_local` (the written-out rule), not the time-zone database.
    pub fn may_record(
        self,
        starts_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), AttendanceError> {
        let starts = uk_local(starts_at);
        match self {
            Attendance::Attended if uk_local(now).date() < starts.date() => {
                Err(AttendanceError::BeforeTheDay {
                    day: starts.format("%A %-d %B %Y").to_string(),
                })
            }
            Attendance::DidNotAttend if now < starts_at => Err(AttendanceError::NotStarted {
                time: clock_label(starts.time()),
            }),
            _ => Ok(()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AttendanceError {
    #[error("This appointment is not booked, or is not your practice's")]
    NotFound,
    #[error("You can record that the patient attended from the day of the appointment, {day}")]
    BeforeTheDay { day: String },
    #[error(
        "You can record that the patient did not attend once the appointment has started, at {time}"
    )]
    NotStarted { time: String },
}

/// An idempotency key from a form: 16 to 64 letters, digits or dashes.
pub fn valid_idempotency_key(key: &str) -> bool {
    (16..=64).contains(&key.len()) && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The GP system's appointment book. The local adapter keeps it in the
/// portal's database. Each change writes its access-log row, and any email
/// it causes, in the same transaction.
#[async_trait]
pub trait Appointments: Send + Sync {
    /// Free slots a patient may book online, soonest first.
    async fn free_slots(
        &self,
        practice: PracticeId,
        search: &SlotSearch,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<FreeSlot>, PortError>;
    /// One slot, if it belongs to the practice. Staff may see any; for a
    /// patient (`online`), only one free and offered online.
    async fn slot(
        &self,
        practice: PracticeId,
        slot: SlotId,
        online: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<FreeSlot>, PortError>;
    async fn book(
        &self,
        booking: NewBooking,
        now: DateTime<Utc>,
    ) -> Result<Result<PatientAppointment, BookingError>, PortError>;
    async fn cancel(
        &self,
        patient: PatientRef,
        appointment: AppointmentId,
        reason: &str,
        by: &Actor,
        request_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<(), CancelError>, PortError>;
    /// Newest first.
    async fn for_patient(
        &self,
        patient: PatientRef,
        now: DateTime<Utc>,
    ) -> Result<Vec<PatientAppointment>, PortError>;
    async fn appointment(
        &self,
        patient: PatientRef,
        appointment: AppointmentId,
        now: DateTime<Utc>,
    ) -> Result<Option<PatientAppointment>, PortError>;
    /// Whose appointment this is, so the caller can authorize (and log a
    /// refusal on the right record) before reading or changing it.
    async fn appointment_patient(
        &self,
        appointment: AppointmentId,
    ) -> Result<Option<PatientRef>, PortError>;
    async fn release_rules(&self, practice: PracticeId) -> Result<ReleaseRules, PortError>;
    async fn set_release_rules(
        &self,
        practice: PracticeId,
        rules: ReleaseRules,
    ) -> Result<(), PortError>;
    /// Creates every day of a (repeating) session and its slots, or none if
    /// any day overlaps one of the clinician's sessions.
    async fn create_sessions(
        &self,
        practice: PracticeId,
        by: AccountId,
        session: &CheckedSession,
    ) -> Result<Result<Vec<SessionId>, SessionRefusal>, PortError>;
    /// The practice's sessions on a UK date, by clinician and start.
    async fn day_view(
        &self,
        practice: PracticeId,
        date: NaiveDate,
        by: &Actor,
        request_id: &str,
    ) -> Result<Vec<DaySession>, PortError>;
    /// False if the slot is not this practice's, or is booked.
    async fn set_slot_blocked(
        &self,
        practice: PracticeId,
        slot: SlotId,
        blocked: bool,
    ) -> Result<bool, PortError>;
    /// Cancels the session and every appointment in it, emailing each
    /// patient. Returns how many were emailed; None if not found.
    async fn cancel_session(
        &self,
        practice: PracticeId,
        session: SessionId,
        reason: &str,
        by: &Actor,
        request_id: &str,
    ) -> Result<Option<u32>, PortError>;
    /// Refused if the appointment is not this practice's, not booked, or
    /// too soon for this outcome (`Attendance::may_record`, checked against
    /// `now` in the same transaction as the change).
    async fn mark_attendance(
        &self,
        practice: PracticeId,
        appointment: AppointmentId,
        attendance: Attendance,
        now: DateTime<Utc>,
        by: &Actor,
        request_id: &str,
    ) -> Result<Result<(), AttendanceError>, PortError>;
}

/// Days from `from` (a UK date) that a staff day view can move between.
pub fn next_day(date: NaiveDate) -> NaiveDate {
    date.succ_opt().unwrap_or(date)
}

pub fn previous_day(date: NaiveDate) -> NaiveDate {
    date.pred_opt().unwrap_or(date)
}

/// A weekday name for a date, as "Monday".
pub fn weekday_name(date: NaiveDate) -> &'static str {
    match date.weekday() {
        chrono::Weekday::Mon => "Monday",
        chrono::Weekday::Tue => "Tuesday",
        chrono::Weekday::Wed => "Wednesday",
        chrono::Weekday::Thu => "Thursday",
        chrono::Weekday::Fri => "Friday",
        chrono::Weekday::Sat => "Saturday",
        chrono::Weekday::Sun => "Sunday",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("time")
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("utc")
    }

    fn plan(d: NaiveDate, start: NaiveTime, end: NaiveTime, minutes: u32) -> SessionPlan {
        SessionPlan {
            clinician: "Dr Amir Khan".into(),
            role: ClinicianRole::Gp,
            location: "Room 1".into(),
            date: d,
            start,
            end,
            slot_minutes: minutes,
            mode: AppointmentMode::InPerson,
            bookable_online: true,
        }
    }

    #[test]
    fn winter_and_summer_times_are_stored_as_utc() {
        let winter = uk_to_utc(date(2026, 1, 5), time(9, 0), Edge::Start);
        assert_eq!(winter, Some(utc("2026-01-05T09:00:00Z")));
        let summer = uk_to_utc(date(2026, 6, 1), time(9, 0), Edge::Start);
        assert_eq!(summer, Some(utc("2026-06-01T08:00:00Z")));
    }

    #[test]
    fn the_march_change_skips_one_to_two_in_the_morning() {
        // 29 March 2026: 01:00 GMT becomes 02:00 BST.
        let d = date(2026, 3, 29);
        assert_eq!(uk_to_utc(d, time(1, 30), Edge::Start), None);
        assert_eq!(
            uk_to_utc(d, time(0, 30), Edge::Start),
            Some(utc("2026-03-29T00:30:00Z"))
        );
        assert_eq!(
            uk_to_utc(d, time(2, 30), Edge::End),
            Some(utc("2026-03-29T01:30:00Z"))
        );
        // A session typed 00:30 to 02:30 lasts one real hour: four slots.
        let (span, slots) = generate_slots(&plan(d, time(0, 30), time(2, 30), 15)).expect("slots");
        assert_eq!(span.end - span.start, Duration::hours(1));
        let labels: Vec<String> = slots.iter().map(|s| uk_time_label(s.start)).collect();
        assert_eq!(labels, ["12:30am", "12:45am", "2am", "2:15am"]);
        // Starting inside the skipped hour is refused with a message.
        let problem = generate_slots(&plan(d, time(1, 15), time(3, 0), 15)).expect_err("skipped");
        assert!(
            problem.to_string().contains("clocks go forward"),
            "{problem}"
        );
        // A morning clinic that day is an ordinary BST one.
        let (_, slots) = generate_slots(&plan(d, time(9, 0), time(10, 0), 10)).expect("slots");
        assert_eq!(slots[0].start, utc("2026-03-29T08:00:00Z"));
        assert_eq!(slots.len(), 6);
    }

    #[test]
    fn the_october_change_repeats_one_to_two_in_the_morning() {
        // 25 October 2026: 02:00 BST becomes 01:00 GMT, so 01:xx happens twice.
        let d = date(2026, 10, 25);
        assert_eq!(
            uk_to_utc(d, time(1, 30), Edge::Start),
            Some(utc("2026-10-25T00:30:00Z"))
        );
        assert_eq!(
            uk_to_utc(d, time(1, 30), Edge::End),
            Some(utc("2026-10-25T01:30:00Z"))
        );
        // 01:00 to 02:00 covers both of the repeated hours: two real hours.
        let (span, slots) = generate_slots(&plan(d, time(1, 0), time(2, 0), 30)).expect("slots");
        assert_eq!(span.start, utc("2026-10-25T00:00:00Z"));
        assert_eq!(span.end, utc("2026-10-25T02:00:00Z"));
        let labels: Vec<String> = slots.iter().map(|s| uk_time_label(s.start)).collect();
        assert_eq!(labels, ["1am", "1:30am", "1am", "1:30am"]);
        // 00:30 to 03:00 lasts three and a half hours.
        let (span, _) = generate_slots(&plan(d, time(0, 30), time(3, 0), 30)).expect("slots");
        assert_eq!(span.end - span.start, Duration::minutes(210));
        // A 9am clinic after the change is on GMT.
        let (_, slots) = generate_slots(&plan(d, time(9, 0), time(9, 30), 10)).expect("slots");
        assert_eq!(slots[0].start, utc("2026-10-25T09:00:00Z"));
    }

    #[test]
    fn a_weekly_repeat_across_a_clock_change_keeps_the_wall_clock_time() {
        let checked = CheckedSession {
            plan: plan(date(2026, 3, 22), time(9, 0), time(10, 0), 15),
            dates: weekly_dates(date(2026, 3, 22), Some(date(2026, 4, 5))),
        };
        let days = checked.days().expect("days");
        assert_eq!(days.len(), 3);
        assert_eq!(days[0].1.start, utc("2026-03-22T09:00:00Z"));
        assert_eq!(days[1].1.start, utc("2026-03-29T08:00:00Z"));
        assert_eq!(days[2].1.start, utc("2026-04-05T08:00:00Z"));
        for (_, span, _) in &days {
            assert_eq!(uk_time_label(span.start), "9am");
        }
    }

    #[test]
    fn weekly_dates_include_the_last_day_and_stop_at_a_year() {
        assert_eq!(weekly_dates(date(2026, 1, 1), None), [date(2026, 1, 1)]);
        assert_eq!(
            weekly_dates(date(2026, 1, 1), Some(date(2026, 1, 15))),
            [date(2026, 1, 1), date(2026, 1, 8), date(2026, 1, 15)]
        );
        assert_eq!(
            weekly_dates(date(2026, 1, 1), Some(date(2026, 1, 14))).len(),
            2
        );
        assert_eq!(
            weekly_dates(date(2026, 1, 1), Some(date(2030, 1, 1))).len(),
            53
        );
    }

    #[test]
    fn overlapping_sessions_are_found() {
        let span = |a: &str, b: &str| TimeSpan {
            start: utc(a),
            end: utc(b),
        };
        let existing = [span("2026-01-05T09:00:00Z", "2026-01-05T12:00:00Z")];
        assert!(
            first_overlap(
                &[span("2026-01-05T11:00:00Z", "2026-01-05T13:00:00Z")],
                &existing
            )
            .is_some()
        );
        assert!(
            first_overlap(
                &[span("2026-01-05T12:00:00Z", "2026-01-05T13:00:00Z")],
                &existing
            )
            .is_none()
        );
        assert!(
            first_overlap(
                &[span("2026-01-05T08:00:00Z", "2026-01-05T09:00:00Z")],
                &existing
            )
            .is_none()
        );
        assert!(
            first_overlap(
                &[span("2026-01-05T08:00:00Z", "2026-01-05T18:00:00Z")],
                &existing
            )
            .is_some()
        );
    }

    #[test]
    fn slots_open_at_the_release_time_in_uk_time() {
        let rules = ReleaseRules {
            release_days_ahead: 0,
            ..ReleaseRules::default()
        };
        // A 10am BST slot opens at 08:00 BST (07:00 UTC) that day.
        let slot = utc("2026-06-01T09:00:00Z");
        assert_eq!(rules.released_at(slot), utc("2026-06-01T07:00:00Z"));
        assert!(!rules.is_released(slot, utc("2026-06-01T06:59:59Z")));
        assert!(rules.is_released(slot, utc("2026-06-01T07:00:00Z")));
        // In winter, 08:00 GMT.
        assert_eq!(
            rules.released_at(utc("2026-01-05T15:00:00Z")),
            utc("2026-01-05T08:00:00Z")
        );
        // Two days ahead, across the October change.
        let ahead = ReleaseRules {
            release_days_ahead: 2,
            ..ReleaseRules::default()
        };
        assert_eq!(
            ahead.released_at(utc("2026-10-26T10:00:00Z")),
            utc("2026-10-24T07:00:00Z")
        );
    }

    #[test]
    fn patients_may_cancel_online_until_the_cutoff() {
        let rules = ReleaseRules {
            cancel_cutoff_hours: 24,
            ..ReleaseRules::default()
        };
        let slot = utc("2026-06-02T09:00:00Z");
        assert!(rules.may_cancel_online(slot, utc("2026-06-01T09:00:00Z")));
        assert!(!rules.may_cancel_online(slot, utc("2026-06-01T09:00:01Z")));
    }

    #[test]
    fn release_rules_form_messages() {
        let ok = check_release_rules(&ReleaseRulesForm {
            release_days_ahead: "0".into(),
            release_time: "8:00".into(),
            max_future_bookings: "2".into(),
            cancel_cutoff_hours: "24".into(),
        })
        .expect("valid");
        assert_eq!(ok.release_time, time(8, 0));
        let bad = check_release_rules(&ReleaseRulesForm {
            release_days_ahead: "15".into(),
            release_time: "25:00".into(),
            max_future_bookings: "0".into(),
            cancel_cutoff_hours: "x".into(),
        })
        .expect_err("invalid");
        assert_eq!(bad.errors.len(), 4);
        assert_eq!(bad.value("release_time"), "25:00");
    }

    #[test]
    fn times_are_read_as_people_type_them() {
        assert_eq!(parse_time("9:30"), Some(time(9, 30)));
        assert_eq!(parse_time("09.30"), Some(time(9, 30)));
        assert_eq!(parse_time("1400"), Some(time(14, 0)));
        assert_eq!(parse_time("930"), Some(time(9, 30)));
        assert_eq!(parse_time("25:00"), None);
        assert_eq!(parse_time("9"), None);
        assert_eq!(parse_time("9:5"), None);
        assert_eq!(parse_time(""), None);
    }

    fn session_form() -> SessionForm {
        SessionForm {
            clinician: "Dr Amir Khan".into(),
            role: "gp".into(),
            location: "Room 1".into(),
            date_day: "7".into(),
            date_month: "12".into(),
            date_year: "2026".into(),
            start_time: "09:00".into(),
            end_time: "12:00".into(),
            slot_minutes: "10".into(),
            mode: "in_person".into(),
            bookable_online: "yes".into(),
            ..SessionForm::default()
        }
    }

    #[test]
    fn a_session_form_is_checked_and_keeps_what_was_typed() {
        let today = date(2026, 12, 3);
        let checked = check_session_form(&session_form(), today).expect("valid");
        assert_eq!(checked.dates, [date(2026, 12, 7)]);
        assert_eq!(checked.days().expect("days")[0].2.len(), 18);

        let repeat = SessionForm {
            repeat_until_day: "28".into(),
            repeat_until_month: "12".into(),
            repeat_until_year: "2026".into(),
            ..session_form()
        };
        assert_eq!(
            check_session_form(&repeat, today)
                .expect("valid")
                .dates
                .len(),
            4
        );

        let past = SessionForm {
            date_day: "1".into(),
            ..session_form()
        };
        let feedback = check_session_form(&past, today).expect_err("past");
        assert!(feedback.error_for("date_day").is_some());
        assert_eq!(feedback.value("clinician"), "Dr Amir Khan");

        let backwards = SessionForm {
            end_time: "08:00".into(),
            ..session_form()
        };
        let feedback = check_session_form(&backwards, today).expect_err("backwards");
        assert_eq!(
            feedback.error_for("end_time").as_deref(),
            Some("The end time must be after the start time")
        );

        let empty = check_session_form(&SessionForm::default(), today).expect_err("empty");
        for field in [
            "clinician",
            "role",
            "location",
            "date_day",
            "start_time",
            "end_time",
            "slot_minutes",
            "mode",
            "bookable_online",
        ] {
            assert!(empty.error_for(field).is_some(), "{field}");
        }

        let skipped = SessionForm {
            date_day: "28".into(),
            date_month: "3".into(),
            date_year: "2027".into(),
            start_time: "01:30".into(),
            end_time: "03:00".into(),
            ..session_form()
        };
        let feedback = check_session_form(&skipped, date(2027, 3, 1)).expect_err("skipped hour");
        assert!(
            feedback
                .error_for("start_time")
                .is_some_and(|m| m.contains("clocks go forward"))
        );
    }

    #[test]
    fn booking_text_limits() {
        assert_eq!(
            check_booking_text("", "").expect("optional"),
            BookingText::default()
        );
        let ok = check_booking_text("  Sore knee ", "Since Tuesday").expect("ok");
        assert_eq!(ok.reason, "Sore knee");
        let long_reason = "a".repeat(101);
        let feedback = check_booking_text(&long_reason, "n").expect_err("too long");
        assert_eq!(
            feedback.error_for("reason").as_deref(),
            Some(
                "The reason must be 100 characters or fewer. You have entered 101. Put more detail in the note"
            )
        );
        assert_eq!(feedback.value("reason"), long_reason);
        assert_eq!(feedback.value("note"), "n");
        assert!(
            check_booking_text(&"é".repeat(100), "").is_ok(),
            "characters, not bytes"
        );
        assert!(
            check_booking_text("", &"a".repeat(501))
                .expect_err("note")
                .error_for("note")
                .is_some()
        );
        assert!(check_booking_text("a\nb", "").is_err());
        let staff = check_staff_booking_reason(&"a".repeat(101)).expect_err("too long");
        assert_eq!(
            staff.error_for("reason"),
            Some("The reason must be 100 characters or fewer. You have entered 101".to_owned())
        );
    }

    #[test]
    fn the_search_window_is_fourteen_days_and_a_date_must_be_in_it() {
        let now = utc("2026-12-03T10:00:00Z");
        let search = check_slot_search(&SlotSearchForm::default(), now).expect("default");
        assert_eq!(search.from, now);
        assert_eq!(search.to - search.from, Duration::days(14));

        let on = |d: &str, m: &str, y: &str| SlotSearchForm {
            date_day: d.into(),
            date_month: m.into(),
            date_year: y.into(),
            ..SlotSearchForm::default()
        };
        let day = check_slot_search(&on("5", "12", "2026"), now).expect("in range");
        assert_eq!(day.from, utc("2026-12-05T00:00:00Z"));
        assert_eq!(day.to, utc("2026-12-06T00:00:00Z"));
        // Today starts from now, not midnight.
        assert_eq!(
            check_slot_search(&on("3", "12", "2026"), now)
                .expect("today")
                .from,
            now
        );

        let far = check_slot_search(&on("18", "12", "2026"), now).expect_err("too far");
        assert_eq!(
            far.error_for("date_day").as_deref(),
            Some(
                "Enter a date from 3 December 2026 to 17 December 2026: appointments can be booked up to 14 days ahead"
            )
        );
        assert_eq!(far.value("date_day"), "18");
        assert!(check_slot_search(&on("2", "12", "2026"), now).is_err());
        assert!(check_slot_search(&on("31", "2", "2026"), now).is_err());
        let bad_role = SlotSearchForm {
            role: "surgeon".into(),
            ..SlotSearchForm::default()
        };
        assert!(
            check_slot_search(&bad_role, now)
                .expect_err("role")
                .error_for("role")
                .is_some()
        );
    }

    #[test]
    fn time_of_day_is_in_uk_time() {
        assert_eq!(
            TimeOfDay::of(utc("2026-06-01T11:30:00Z")),
            TimeOfDay::Afternoon
        );
        assert_eq!(
            TimeOfDay::of(utc("2026-01-05T11:30:00Z")),
            TimeOfDay::Morning
        );
        assert_eq!(
            TimeOfDay::of(utc("2026-01-05T17:00:00Z")),
            TimeOfDay::Evening
        );
    }

    #[test]
    fn enums_round_trip_their_codes() {
        for r in ClinicianRole::ALL {
            assert_eq!(ClinicianRole::parse(r.as_str()), Some(r));
        }
        for m in AppointmentMode::ALL {
            assert_eq!(AppointmentMode::parse(m.as_str()), Some(m));
        }
        for s in AppointmentStatus::ALL {
            assert_eq!(AppointmentStatus::parse(s.as_str()), Some(s));
        }
        for t in TimeOfDay::ALL {
            assert_eq!(TimeOfDay::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn nobody_in_particular_sees_equal_times_by_id() {
        for id in [1, 2, 25, 999, 1_000_002] {
            assert_eq!(tie_rank(SlotId(id), 0), id);
        }
    }

    #[test]
    fn a_crowd_reaches_for_different_equally_soon_slots() {
        // 21 clinicians' 08:00 slots, numbered as a release of 24 a session
        // numbers them; 2,100 patients: which does each list first?
        let slots: Vec<SlotId> = (0..21).map(|c| SlotId(1 + 24 * c)).collect();
        let mut first = HashMap::new();
        for patient in 1..=2_100_u64 {
            let top = slots.iter().min_by_key(|s| tie_rank(**s, patient)).copied();
            *first.entry(top).or_insert(0) += 1;
        }
        assert_eq!(first.len(), 21, "every slot is someone's first choice");
        let most = first.values().max().copied().unwrap_or(0);
        assert!(most < 300, "no slot is first for a herd: {most} of 2,100");
    }

    proptest! {
        #[test]
        fn each_list_orders_equal_times_without_ties(seen_by in any::<u64>(), a in 0..TIE_MODULUS, b in 0..TIE_MODULUS) {
            prop_assume!(a != b);
            prop_assert_ne!(tie_rank(SlotId(a), seen_by), tie_rank(SlotId(b), seen_by));
            let rank = tie_rank(SlotId(a), seen_by);
            prop_assert!((0..TIE_MODULUS).contains(&rank));
        }
    }

    #[test]
    fn idempotency_keys() {
        assert!(valid_idempotency_key("0123456789abcdef"));
        assert!(valid_idempotency_key(
            "3f2a9c1e-0b7d-4e5f-8a6b-1c2d3e4f5a6b"
        ));
        assert!(!valid_idempotency_key("short"));
        assert!(!valid_idempotency_key("0123456789abcdef'; drop"));
    }

    fn any_plan() -> impl Strategy<Value = SessionPlan> {
        (
            0i64..800,
            0u32..24,
            0u32..60,
            1u32..600,
            MIN_SLOT_MINUTES..=MAX_SLOT_MINUTES,
        )
            .prop_map(|(day, h, m, length, slot)| {
                let d = date(2026, 1, 1) + Duration::days(day);
                let start = time(h, m);
                let end = start + Duration::minutes(i64::from(length));
                plan(d, start, end, slot)
            })
    }

    proptest! {
        #[test]
        fn generated_slots_tile_the_session(p in any_plan()) {
            match generate_slots(&p) {
                Ok((span, slots)) => {
                    let length = (span.end - span.start).num_minutes();
                    prop_assert_eq!(slots.len() as i64, length / i64::from(p.slot_minutes));
                    for pair in slots.windows(2) {
                        prop_assert!(!pair[0].overlaps(&pair[1]));
                        prop_assert_eq!(pair[0].end, pair[1].start);
                    }
                    for s in &slots {
                        prop_assert!(s.start >= span.start && s.end <= span.end);
                        prop_assert_eq!((s.end - s.start).num_minutes(), i64::from(p.slot_minutes));
                    }
                }
                Err(SessionProblem::EndNotAfterStart) => prop_assert!(p.end <= p.start),
                Err(SessionProblem::ShorterThanOneSlot) => {}
                Err(SessionProblem::StartSkipped(_) | SessionProblem::EndSkipped(_)) => {
                    prop_assert!(p.date.month() == 3 && p.date.day() >= 25 && p.date.weekday() == chrono::Weekday::Sun);
                }
            }
        }

        #[test]
        fn uk_times_round_trip_through_utc(day in 0i64..1500, minute in 0u32..1440) {
            let d = date(2025, 1, 1) + Duration::days(day);
            let t = time(minute / 60, minute % 60);
            if let Some(at) = uk_to_utc(d, t, Edge::Start) {
                let back = at.with_timezone(&London).naive_local();
                prop_assert_eq!(back, d.and_time(t));
            } else {
                // Only the skipped hour of the March change has no instant.
                prop_assert_eq!(t.hour(), 1);
                prop_assert_eq!(d.month(), 3);
            }
        }

        #[test]
        fn a_date_in_the_window_is_accepted_and_outside_refused(offset in -5i64..25, hour in 0u32..24) {
            let now = utc("2026-10-20T00:00:00Z") + Duration::hours(i64::from(hour));
            let d = uk_date(now) + Duration::days(offset);
            let form = SlotSearchForm {
                date_day: d.day().to_string(),
                date_month: d.month().to_string(),
                date_year: d.year().to_string(),
                ..SlotSearchForm::default()
            };
            let last = uk_date(now + Duration::days(SEARCH_WINDOW_DAYS));
            let inside = d >= uk_date(now) && d <= last;
            match check_slot_search(&form, now) {
                Ok(s) => {
                    prop_assert!(inside);
                    prop_assert!(s.from >= now && s.to <= now + Duration::days(SEARCH_WINDOW_DAYS));
                }
                Err(f) => {
                    prop_assert!(!inside);
                    prop_assert!(f.error_for("date_day").is_some());
                }
            }
        }

        #[test]
        fn the_released_date_agrees_with_the_release_time(
            slot_hours in 0i64..(24 * 400), now_minutes in 0i64..(60 * 24 * 400),
            days in 0u32..15, release_minute in 0u32..1440,
        ) {
            let base = utc("2026-01-01T00:00:00Z");
            let slot = base + Duration::hours(slot_hours);
            let now = base + Duration::minutes(now_minutes);
            let rules = ReleaseRules {
                release_days_ahead: days,
                release_time: time(release_minute / 60, release_minute % 60),
                ..ReleaseRules::default()
            };
            // Release times between 1am and 2am are skipped or repeated on
            // the days the clocks change; practices open at 8am.
            prop_assume!(release_minute / 60 != 1);
            prop_assert_eq!(rules.is_released(slot, now), uk_date(slot) <= rules.last_released_date(now));
        }

        #[test]
        fn reasons_up_to_the_limit_are_kept_whole(len in 0usize..200) {
            let reason = "x".repeat(len);
            let result = check_booking_text(&reason, "");
            prop_assert_eq!(result.is_ok(), len <= MAX_REASON_CHARS);
        }
    }

    #[test]
    fn attendance_is_recorded_from_the_day_and_did_not_attend_from_the_start() {
        // 10:30 on 29 March 2026 in the UK is 09:30 UTC (summer time began at 01:00 UTC).
        let starts = utc("2026-03-29T09:30:00Z");
        let day_before = utc("2026-03-28T23:30:00Z"); // 23:30 GMT on the 28th
        let same_day_early = utc("2026-03-29T00:30:00Z"); // 00:30 GMT on the 29th
        assert_eq!(
            Attendance::Attended.may_record(starts, day_before),
            Err(AttendanceError::BeforeTheDay {
                day: "Sunday 29 March 2026".into()
            })
        );
        assert_eq!(
            Attendance::Attended.may_record(starts, same_day_early),
            Ok(())
        );
        assert_eq!(
            Attendance::DidNotAttend.may_record(starts, same_day_early),
            Err(AttendanceError::NotStarted {
                time: "10:30am".into()
            })
        );
        assert_eq!(Attendance::DidNotAttend.may_record(starts, starts), Ok(()));
        assert_eq!(
            Attendance::DidNotAttend.may_record(starts, starts + Duration::days(3)),
            Ok(())
        );
        assert_eq!(
            AttendanceError::NotStarted {
                time: "10:30am".into()
            }
            .to_string(),
            "You can record that the patient did not attend once the appointment has started, at 10:30am"
        );
    }

    proptest! {
        #[test]
        fn attendance_is_never_recorded_before_the_day_nor_a_miss_before_the_start(
            start in 1_767_225_600i64..1_830_297_600i64,
            offset in -200_000i64..200_000i64,
        ) {
            let starts = DateTime::<Utc>::from_timestamp(start, 0).expect("start");
            let now = starts + Duration::seconds(offset);
            let attended = Attendance::Attended.may_record(starts, now).is_ok();
            let missed = Attendance::DidNotAttend.may_record(starts, now).is_ok();
            prop_assert_eq!(attended, uk_date(now) >= uk_date(starts));
            prop_assert_eq!(missed, now >= starts);
            // Whenever a miss may be recorded, so may an attendance.
            prop_assert!(!missed || attended);
        }
    }
}
