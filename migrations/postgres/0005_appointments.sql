-- Appointments (PostgreSQL): the practice's release rules, sessions, the slots
-- made from them, and bookings. Keep in step with
-- ../sqlite/0005_appointments.sql. Instants are Unix seconds (UTC); the
-- UK date and minute of day of each slot are kept beside them, so the
-- searches by date, time of day and release rule need no time-zone
-- arithmetic in SQL.

-- A practice's rules for online booking. A practice with no row uses the
-- defaults in domain::appointments::ReleaseRules.
create table appointment_rules (
    practice_id           bigint primary key references practices(id),
    -- Slots open online this many days before their date (0: on the day)...
    release_days_ahead    bigint not null check (release_days_ahead between 0 and 14),
    -- ...at this UK time, as minutes after midnight (480 is 08:00).
    release_minute        bigint not null check (release_minute between 0 and 1439),
    -- Most future online bookings one patient may hold.
    max_future_bookings   bigint not null check (max_future_bookings between 1 and 20),
    -- Patients may cancel online until this many hours before the start.
    cancel_cutoff_hours   bigint not null check (cancel_cutoff_hours between 0 and 168),
    updated_at            bigint not null
);

-- One clinician, one place, one day. Weekly repeats are one row per day.
create table appointment_sessions (
    id              bigint generated always as identity primary key,
    practice_id     bigint not null references practices(id),
    clinician       text    not null check (char_length(clinician) between 1 and 100),
    -- lower(clinician): one clinician's sessions must not overlap.
    clinician_key   text    not null,
    role            text    not null
                    check (role in ('gp', 'nurse', 'healthcare_assistant', 'pharmacist')),
    location        text    not null check (char_length(location) between 1 and 100),
    mode            text    not null check (mode in ('in_person', 'phone', 'video')),
    bookable_online bigint not null check (bookable_online in (0, 1)),
    local_date      text    not null,          -- UK date, ISO 8601
    starts_at       bigint not null,
    ends_at         bigint not null,
    slot_minutes    bigint not null check (slot_minutes between 5 and 120),
    status          text    not null default 'active' check (status in ('active', 'cancelled')),
    cancel_reason   text,
    created_by      bigint not null references accounts(id),
    created_at      bigint not null,
    check (ends_at > starts_at),
    check ((status = 'cancelled') = (cancel_reason is not null))
);
-- The overlap check (one clinician's sessions by start) and the day view.
create index appointment_sessions_clinician on appointment_sessions (practice_id, clinician_key, starts_at);
create index appointment_sessions_day on appointment_sessions (practice_id, local_date);

create table appointment_slots (
    id           bigint generated always as identity primary key,
    session_id   bigint not null references appointment_sessions(id),
    practice_id  bigint not null references practices(id),
    starts_at    bigint not null,
    ends_at      bigint not null,
    local_date   text    not null,             -- UK date of the start
    local_minute bigint not null check (local_minute between 0 and 1439),
    -- Held back by staff: not offered, not bookable.
    blocked      bigint not null default 0 check (blocked in (0, 1)),
    check (ends_at > starts_at),
    unique (session_id, starts_at)
);
-- The free-slot search: a practice's slots, soonest first.
create index appointment_slots_search on appointment_slots (practice_id, starts_at);
create index appointment_slots_session on appointment_slots (session_id);

create table appointments (
    id                 bigint generated always as identity primary key,
    slot_id            bigint not null references appointment_slots(id),
    practice_id        bigint not null references practices(id),
    patient_id         bigint not null references patients(id),
    status             text    not null default 'booked'
                       check (status in ('booked', 'cancelled', 'attended', 'did_not_attend')),
    reason             text    not null default '' check (char_length(reason) <= 100),
    note               text    not null default '' check (char_length(note) <= 500),
    booked_online      bigint not null check (booked_online in (0, 1)),
    booked_by          bigint not null references accounts(id),
    -- From the confirm form: a second submit of the same form finds the
    -- first booking instead of making another.
    idempotency_key    text    not null check (char_length(idempotency_key) between 16 and 64),
    -- The reminder waiting in the outbox, deleted if the appointment is cancelled.
    reminder_outbox_id bigint,
    booked_at          bigint not null,
    cancelled_at       bigint,
    cancelled_by       bigint references accounts(id),
    cancel_reason      text,
    check ((status = 'cancelled') = (cancelled_at is not null)),
    unique (patient_id, idempotency_key)
);
-- THE guarantee: a slot is booked at most once. Any appointment that is not
-- cancelled holds its slot; the loser of a race gets a unique violation.
create unique index appointments_one_per_slot on appointments (slot_id) where status <> 'cancelled';
create index appointments_patient on appointments (patient_id, status);
