-- The free-slot search without reading every booking (SQLite). Keep in
-- step with ../postgres/0007_slot_booked_flag.sql, which says why.
--
-- The flag is kept by the database, not by the application: the triggers
-- below set it whenever an appointment that is not cancelled appears,
-- changes or goes. The guarantee that a slot is booked at most once is
-- still the unique index appointments_one_per_slot (0005); the flag only
-- says what the search offers.

alter table appointment_slots
    add column booked integer not null default 0 check (booked in (0, 1));

update appointment_slots set booked = 1
where exists (
    select 1 from appointments a
    where a.slot_id = appointment_slots.id and a.status <> 'cancelled'
);

create trigger appointments_hold_slot
after insert on appointments
when new.status <> 'cancelled'
begin
    update appointment_slots set booked = 1 where id = new.slot_id;
end;

-- Clear the old holder first, then set the new: a change that keeps the
-- slot held (booked to attended) ends with the flag set.
create trigger appointments_move_slot_hold
after update of status, slot_id on appointments
begin
    update appointment_slots set booked = 0
    where id = old.slot_id and old.status <> 'cancelled';
    update appointment_slots set booked = 1
    where id = new.slot_id and new.status <> 'cancelled';
end;

create trigger appointments_release_slot
after delete on appointments
when old.status <> 'cancelled'
begin
    update appointment_slots set booked = 0 where id = old.slot_id;
end;

-- The free-slot search: a practice's free slots, soonest first.
create index appointment_slots_free on appointment_slots (practice_id, starts_at) where booked = 0;
