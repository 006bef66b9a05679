-- The free-slot search without reading every booking (PostgreSQL). Keep in
-- step with ../sqlite/0007_slot_booked_flag.sql.
--
-- At the 8am rush nearly every request asks "which slots are still free?".
-- Answering that by checking each slot in the window against appointments
-- cost a scan of every slot, booked or not, on each find page (0.8 ms a
-- search at 500 slots, most of the database's time in the rush). Each slot
-- now carries whether a booking holds it, so the search reads only free
-- slots from a partial index.
--
-- The flag is kept by the database, not by the application: the triggers
-- below set it whenever an appointment that is not cancelled appears,
-- changes or goes. The guarantee that a slot is booked at most once is
-- still the unique index appointments_one_per_slot (0005); the flag only
-- says what the search offers.

alter table appointment_slots
    add column booked bigint not null default 0 check (booked in (0, 1));

update appointment_slots set booked = 1
where exists (
    select 1 from appointments a
    where a.slot_id = appointment_slots.id and a.status <> 'cancelled'
);

create function appointment_slots_keep_booked() returns trigger
language plpgsql as $$
begin
    -- Clear the old holder first, then set the new: a change that keeps
    -- the slot held (booked to attended) ends with the flag set. Nested,
    -- because OLD has no fields on insert, nor NEW on delete.
    if tg_op <> 'INSERT' then
        if old.status <> 'cancelled' then
            update appointment_slots set booked = 0 where id = old.slot_id;
        end if;
    end if;
    if tg_op <> 'DELETE' then
        if new.status <> 'cancelled' then
            update appointment_slots set booked = 1 where id = new.slot_id;
        end if;
    end if;
    return null;
end;
$$;

create trigger appointments_keep_slot_booked
    after insert or delete or update of status, slot_id on appointments
    for each row execute function appointment_slots_keep_booked();

-- The free-slot search: a practice's free slots, soonest first.
create index appointment_slots_free on appointment_slots (practice_id, starts_at) where booked = 0;
