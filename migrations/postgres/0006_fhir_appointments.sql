-- Appointments through the `fhir` GP system (PostgreSQL). Keep in step with
-- ../sqlite/0006_fhir_appointments.sql. The slots and appointments live
-- on the practice's FHIR server; the portal keeps only what it must:
-- its own ids for them, and each booking's idempotency key and reminder.

-- A portal id for each FHIR Slot and Appointment the portal has shown or
-- made. Ids are given out here, not hashed from the FHIR id, so they
-- never collide and the way back (portal id -> FHIR id) is one lookup.
create table fhir_ids (
    id            bigint generated always as identity primary key,
    resource_type text not null check (resource_type in ('Slot', 'Appointment')),
    fhir_id       text not null check (length(fhir_id) between 1 and 64),
    unique (resource_type, fhir_id)
);

-- Each booking made through the portal. The row is written before the
-- FHIR calls (appointment_id null while the booking is under way), so a
-- second submit of the same form finds the first instead of booking again.
create table fhir_bookings (
    id                 bigint generated always as identity primary key,
    practice_id        bigint not null references practices(id),
    patient_id         bigint not null references patients(id),
    idempotency_key    text    not null check (length(idempotency_key) between 16 and 64),
    slot_id            bigint not null references fhir_ids(id),
    appointment_id     bigint references fhir_ids(id),
    booked_online      bigint  not null check (booked_online in (0, 1)),
    -- The slot's start, for the patient's limit on future online bookings.
    starts_at          bigint,
    -- The reminder waiting in the outbox, deleted if the appointment is cancelled.
    reminder_outbox_id bigint,
    claimed_at         bigint not null,
    cancelled_at       bigint,
    check ((appointment_id is null) = (starts_at is null)),
    unique (patient_id, idempotency_key),
    unique (appointment_id)
);
create index fhir_bookings_patient on fhir_bookings (patient_id, cancelled_at);
