-- The GP record held by the portal itself (the `local` GP-system adapter),
-- filled by `portal import-fhir`, and the practice's settings for what of
-- each patient's record is online (SQLite). Keep in step with
-- ../postgres/0004_record.sql.
-- Dates of clinical events are ISO 8601 text (YYYY-MM-DD), which sorts and
-- compares as dates do; times the portal itself keeps are Unix seconds.

-- Where an imported patient came from: the FHIR Patient's fullUrl (or
-- type/id) in the bundle, so importing the same bundle again finds the
-- same patient, with or without an NHS number.
create table record_patient_sources (
    practice_id  integer not null references practices(id),
    source_key   text    not null,
    patient_id   integer not null references patients(id),
    primary key (practice_id, source_key)
);

-- One entry of the record: an allergy, medicine, problem, vaccination,
-- test result, consultation or document. Columns that every page filters
-- or sorts on are columns; what each section adds (dose, values and
-- reference ranges, reactions...) is the JSON of domain::gp_record::
-- EntryDetails, and the entry's codes the JSON of a list of Code.
create table record_entries (
    id            integer primary key autoincrement,
    practice_id   integer not null references practices(id),
    patient_id    integer not null references patients(id),
    section       text    not null check (section in ('allergies', 'medicines', 'problems',
                      'immunisations', 'test-results', 'consultations', 'documents')),
    -- The resource's fullUrl (or type/id): importing it again changes nothing.
    source_key    text    not null,
    title         text    not null check (length(title) > 0),
    -- When it happened; null when the system did not say.
    event_date    text    check (event_date is null or length(event_date) = 10),
    -- Test results of one report share a group key (the report's source
    -- key); a result outside any report is its own group.
    group_key     text,
    status        text    not null check (status in ('active', 'past')),
    note          text,
    codes         text    not null default '[]',
    details       text    not null,
    -- A document's text, shown on its own page.
    body_text     text,
    -- Provenance: when and by whom it was recorded, from which system,
    -- and when the portal last read it.
    recorded_on   text    not null check (length(recorded_on) = 10),
    recorded_by   text,
    source_system text    not null,
    fetched_at    integer not null,
    -- Hidden from the patient's online view by staff, with why and by whom.
    hidden_reason text,
    hidden_by     integer references accounts(id),
    hidden_at     integer,
    check ((hidden_reason is null) = (hidden_at is null)),
    check ((hidden_reason is null) = (hidden_by is null)),
    check ((section = 'test-results') = (group_key is not null)),
    unique (patient_id, source_key)
);
-- Each section page: one patient's entries of one section, newest first,
-- for a patient with thousands of results.
create index record_entries_section on record_entries (patient_id, section, event_date, id);
-- Test results page by report.
create index record_entries_group on record_entries (patient_id, group_key)
    where group_key is not null;

-- What of a patient's record is online. No row: the default (summary only).
create table record_settings (
    patient_id    integer primary key references patients(id),
    practice_id   integer not null references practices(id),
    access_level  text    not null check (access_level in ('summary', 'detailed', 'full')),
    show_from     text    check (show_from is null or length(show_from) = 10),
    updated_by    integer references accounts(id),
    updated_at    integer not null
);
