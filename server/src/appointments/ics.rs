//! The "add to calendar" file (RFC 5545), written by the `icalendar` crate.
//! Times are UTC ("Z"), which every calendar shows in its own zone, so the
//! file is right across clock changes. It says where and when, never why:
//! the reason for the appointment stays behind sign-in.

use domain::appointments::{AppointmentId, FreeSlot};
use icalendar::{Calendar, Component, EventLike};

/// `uid_domain` is the portal's host, making the UID unique worldwide and
/// the same each time the file is made, so a calendar updates rather than
/// duplicates the event.
pub fn appointment_ics(
    appointment: AppointmentId,
    slot: &FreeSlot,
    practice_name: &str,
    uid_domain: &str,
) -> String {
    let summary = format!("Appointment at {practice_name}");
    let description = format!(
        "{} with {} ({}). To cancel, sign in to GP online services.",
        slot.mode.label(),
        slot.clinician,
        slot.role.label()
    );
    let event = icalendar::Event::new()
        .uid(&format!("appointment-{appointment}@{uid_domain}"))
        .summary(&summary)
        .description(&description)
        .location(&format!("{}, {practice_name}", slot.location))
        .starts(slot.start)
        .ends(slot.end)
        .done();
    Calendar::new()
        .name(&summary)
        .push(event)
        .done()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::appointments::{AppointmentMode, ClinicianRole, SlotId};

    #[test]
    fn the_file_parses_and_holds_utc_times() {
        let slot = FreeSlot {
            id: SlotId(1),
            start: "2026-03-30T08:00:00Z".parse().expect("time"),
            end: "2026-03-30T08:10:00Z".parse().expect("time"),
            clinician: "Dr Amir Khan".into(),
            role: ClinicianRole::Gp,
            location: "Room 1".into(),
            mode: AppointmentMode::InPerson,
        };
        let ics = appointment_ics(
            AppointmentId(7),
            &slot,
            "Riverside Surgery",
            "portal.example",
        );
        assert!(ics.contains("DTSTART:20260330T080000Z"), "{ics}");
        assert!(ics.contains("DTEND:20260330T081000Z"), "{ics}");
        assert!(ics.contains("UID:appointment-7@portal.example"), "{ics}");
        let parsed: Calendar = ics.parse().expect("parses");
        assert_eq!(parsed.components.len(), 1);
    }
}
